"""Import rate of an extended XYZ file with and without worker processes (``--processes``).

Issue 16. ``run.py``'s Morse-labelled cells (``--structures``, written once to
``--folder``), imported by :func:`~pesbench.importers.import_path` into a fresh database of
one private mongod for each run, with each number of processes of ``--processes``, in
alternating order over ``--repeats``. The time includes starting the workers (each imports
pesbench). Writes ``--out`` (JSON): seconds and structures/s per run, medians.

    .venv/bin/python benchmarks/scale/import_processes.py --structures 20000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient

from pesbench.importers import DatasetId, ImportOptions, import_path
from pesbench.settings import override_settings
from pesbench.stores import LocalMongoServer, find_mongod

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import machine


def main() -> None:
    """Run the variants; write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=20_000)
    parser.add_argument("--materials", type=int, default=400)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "scale-import")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).with_name("results-import-processes.json")
    )
    args = parser.parse_args()
    variants = [int(p) for p in args.processes.split(",")]
    args.folder.mkdir(parents=True, exist_ok=True)
    data = args.folder / f"scale-{args.structures}.extxyz"
    if not data.exists():
        generate(data, args.structures, args.materials)
    runs: dict[str, list[dict[str, float]]] = {str(p): [] for p in variants}
    server = LocalMongoServer(args.folder / "mongod", mongod=find_mongod())
    state, _ = server.start()
    try:
        for rep in range(args.repeats):
            for processes in variants if rep % 2 == 0 else variants[::-1]:
                name = f"import_{processes}_{rep}"
                # fresh: a database or data folder left by an earlier run in --folder would
                # make this import a resumption with nothing left to do
                with MongoClient(state.uri) as client:
                    client.drop_database(name)
                shutil.rmtree(args.folder / name, ignore_errors=True)
                with override_settings(
                    db_uri=state.uri, db_name=name, data_dir=args.folder / name
                ) as settings:
                    options = ImportOptions(DatasetId("scale"), "PBE", processes=processes)
                    start = time.perf_counter()
                    result = import_path(data, options, settings)
                    seconds = time.perf_counter() - start
                run = {
                    "seconds": round(seconds, 2),
                    "per_s": round(result.records / seconds, 1),
                    "stored": result.stored,
                }
                runs[str(processes)].append(run)
                print(f"processes {processes}: {run}", flush=True)
    finally:
        server.stop()
    out = {
        "machine": machine("cpu (no GPU used)"),
        "command": "python " + " ".join(sys.argv),
        "structures": args.structures,
        "runs": runs,
        "median_per_s": {p: statistics.median(r["per_s"] for r in v) for p, v in runs.items()},
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["median_per_s"]))


if __name__ == "__main__":
    main()
