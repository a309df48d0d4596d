"""Import throughput: ``import_path`` of one extxyz file, batched writes against one by one.

Writes ``--frames`` EMT-labelled frames (8-atom Cu/Al cells) to an extxyz file once, then
imports it into fresh databases of a private mongod with ``batch_size`` 1 (one insert and
one progress update per frame) and the default 500 (bulk ``insert_many``, unordered), and
reports frames per second and their ratio (this machine's cores are shared: the ratio is
the number to read). Results go to ``results.json`` next to this file.

    .venv/bin/python benchmarks/import/run.py --frames 3000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write

from pesbench.importers import DatasetId, ImportOptions, import_path
from pesbench.settings import override_settings
from pesbench.stores import LocalMongoServer, find_mongod

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import machine


def _frames(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu" if k % 2 else "Al", "fcc", a=3.6 if k % 2 else 4.05, cubic=True)
        atoms = atoms.repeat((2, 1, 1))
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames


def main() -> None:
    """Run the benchmark and write results.json."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=3000)
    args = parser.parse_args()
    out: dict = {"machine": machine("cpu (no GPU used)"), "frames": args.frames, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "frames.extxyz"
        write(data, _frames(args.frames), format="extxyz")
        server = LocalMongoServer(folder / "mongod", mongod=find_mongod())
        state, _ = server.start()
        try:
            for batch in (1, 500):
                with override_settings(
                    db_uri=state.uri, db_name=f"bench_{batch}", data_dir=folder / "data"
                ) as settings:
                    options = ImportOptions(DatasetId("bench"), "PBE", batch_size=batch)
                    start = time.perf_counter()
                    result = import_path(data, options, settings)
                    seconds = time.perf_counter() - start
                out["runs"].append(
                    {
                        "batch_size": batch,
                        "seconds": round(seconds, 2),
                        "frames_per_s": round(result.records / seconds, 1),
                        "stored": result.stored,
                    }
                )
                print(out["runs"][-1], flush=True)
        finally:
            server.stop()
    runs = {r["batch_size"]: r for r in out["runs"]}
    out["speedup_batched_over_single"] = round(runs[1]["seconds"] / runs[500]["seconds"], 2)
    path = Path(__file__).with_name("results.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
