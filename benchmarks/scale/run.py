"""Scale: a 10^5-structure imported dataset through import, prediction, builders, query, report.

Issue 16, item 4. Every stage is pesbench's own code path on a private mongod:

1. **generate** (not a target): ``--structures`` labelled cells of 2-32 atoms (fcc Cu,
   Ni, Al, Ag, Au, Pd, Pt and their binary alloys, strained and rattled; ``material_id``
   one of ``--materials``), labelled in two processes by the vectorised Morse stand-in
   (:class:`pesbench.testing.morse.ScaledMorse`, about 2 ms a cell; ASE's EMT took 14 ms,
   too slow for 10^5 cells here) and written to one extxyz file;
2. **import**: :func:`pesbench.importers.import_path` of that file (structures/s);
3. **predict**: what a campaign's prediction job does
   (:class:`~pesbench.makers.predict.PredictMaker`: structures read by id from the
   database, results stored), in chunks of ``--chunk``:
   a cheap model (the same Morse x 0.8, ``ase:pesbench.testing.morse.ScaledMorse``) on
   every structure,
   and CHGNet 0.3.0 on the first ``--chgnet`` (structures/s);
4. **build**: :func:`pesbench.stores.builders.build_comparisons` (structure and material
   level; structures/s);
5. **query**: the structure-level comparisons copied under nine more model ids (synthetic
   rows, campaign ``scale-rows``) up to ``--rows`` rows, then
   :func:`pesbench.stores.query.query_comparisons` of all of them to a DataFrame (s);
6. **report**: :func:`pesbench.report.write_report` of the campaign (its 10^5 structures; s).

Peak memory (this process's maximum RSS after each stage) and the database's size
(``dbStats``) are recorded. Results: ``results.json`` next to this file (``--out``).

    .venv/bin/python benchmarks/scale/run.py --structures 100000 --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from pymongo import MongoClient

from pesbench.importers import DatasetId, ImportOptions, import_path
from pesbench.makers.predict import PredictMaker
from pesbench.report import write_report
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores import LocalMongoServer, find_mongod
from pesbench.stores.builders import build_comparisons
from pesbench.stores.query import query_comparisons
from pesbench.testing.morse import ScaledMorse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import machine

ELEMENTS = {"Cu": 3.61, "Ni": 3.52, "Al": 4.05, "Ag": 4.09, "Au": 4.08, "Pd": 3.89, "Pt": 3.92}
"""EMT's fcc metals and their lattice constants, Å."""
SHAPES = {2: (2, 1, 1, False), 4: (1, 1, 1, True), 8: (2, 1, 1, True), 16: (2, 2, 1, True)}
SHAPES[32] = (2, 2, 2, True)
CAMPAIGN = "scale"
CHEAP_MODEL = "ase:pesbench.testing.morse.ScaledMorse"


def _materials(n: int, rng: np.random.Generator) -> list[tuple[str, str, float]]:
    """``n`` (id, host, fraction of a second element) materials."""
    names = list(ELEMENTS)
    out = []
    for k in range(n):
        host, guest = rng.choice(names, 2, replace=False)
        out.append((f"mat-{k}:{host}{guest}", str(host), float(rng.choice([0.0, 0.25, 0.5]))))
    return out


def _cell(material: tuple[str, str, float], rng: np.random.Generator) -> Atoms:
    name, host, fraction = material
    guest = name.split(":")[1][len(host) :]
    size = int(rng.choice(list(SHAPES)))
    nx, ny, nz, cubic = SHAPES[size]
    atoms = bulk(host, "fcc", a=ELEMENTS[host], cubic=cubic).repeat((nx, ny, nz))
    swap = rng.random(len(atoms)) < fraction
    atoms.symbols[swap] = guest
    strain = np.eye(3) + rng.normal(0, 0.02, (3, 3))
    atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
    atoms.positions += rng.normal(0, rng.uniform(0.02, 0.2), atoms.positions.shape)
    atoms.info["material_id"] = name
    return atoms


def _label(job: tuple[int, int, int, int]) -> list[Atoms]:
    """Cells ``start`` to ``stop`` with Morse labels (one worker's share)."""
    start, stop, n_materials, seed = job
    materials = _materials(n_materials, np.random.default_rng(seed))
    rng = np.random.default_rng([seed, start])
    calc = ScaledMorse()
    frames = []
    for k in range(start, stop):
        atoms = _cell(materials[k % n_materials], rng)
        atoms.calc = calc
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        atoms.info["frame_id"] = str(k)
        frames.append(atoms)
    return frames


def generate(path: Path, n: int, n_materials: int, seed: int = 0) -> dict[str, Any]:
    """Write ``n`` Morse-labelled cells to ``path`` (extxyz), labelled in two processes."""
    step = 5000
    jobs = [(a, min(a + step, n), n_materials, seed) for a in range(0, n, step)]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        frames = [atoms for chunk in pool.map(_label, jobs) for atoms in chunk]
    write(path, frames, format="extxyz")
    return {"structures": n, "atoms": sum(len(a) for a in frames), "materials": n_materials}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(out: dict[str, Any], stage: str, count: int, start: float, **extra: Any) -> None:
    seconds = time.perf_counter() - start
    out["stages"][stage] = {
        "seconds": round(seconds, 2),
        "count": count,
        "per_s": round(count / seconds, 1) if seconds > 0 else None,
        "peak_rss_mb": _peak_mb(),
        **extra,
    }
    print(f"{stage}: {count} in {seconds:.1f} s ({count / max(seconds, 1e-9):.0f}/s)", flush=True)


def _structure_ids(settings: PesbenchSettings) -> list[str]:
    with MongoClient(settings.db_uri) as client:
        refs = client[settings.db_name].references
        return sorted(refs.distinct("structure_id", {"provenance.dataset": "scale"}))


def predict(model: str, ids: list[str], chunk: int, **kwargs: Any) -> int:
    """Predict ``ids`` in chunks, as a campaign's prediction jobs do; how many failed."""
    maker = PredictMaker(model=model, campaign=CAMPAIGN, **kwargs)
    failed = 0
    for start in range(0, len(ids), chunk):
        doc = PredictMaker.make.original(maker, structure_ids=ids[start : start + chunk])
        failed += doc.n_failed
    return failed


def synthetic_rows(settings: PesbenchSettings, rows: int) -> int:
    """Copy the structure-level comparisons under other model ids until ``rows`` exist."""
    with MongoClient(settings.db_uri) as client:
        coll = client[settings.db_name].comparisons
        base = list(coll.find({"level": "structure"}, {"_id": 0}))
        have, copy = len(base), 0
        while have < rows and base:
            copy += 1
            batch = []
            for doc in base[: rows - have]:
                new = dict(doc)
                new["comparison_id"] = f"{doc['comparison_id']}#{copy}"
                new["model_id"] = f"{doc['model_id']}-copy{copy}"
                new["campaign"], new["campaigns"] = "scale-rows", ["scale-rows"]
                batch.append(new)
            for start in range(0, len(batch), 10_000):
                coll.insert_many(batch[start : start + 10_000], ordered=False)
            have += len(batch)
        return have


def _db_size(settings: PesbenchSettings) -> dict[str, float]:
    with MongoClient(settings.db_uri) as client:
        stats = client[settings.db_name].command("dbStats")
    return {k: round(stats[k] / 1e6, 1) for k in ("dataSize", "storageSize", "indexSize")}


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Every stage against a fresh private mongod in ``folder``."""
    out: dict[str, Any] = {"machine": machine("cpu (no GPU used)"), "args": vars(args)}
    out["stages"] = {}
    data = folder / "scale.extxyz"
    start = time.perf_counter()
    out["dataset"] = generate(data, args.structures, args.materials)
    _timed(out, "generate", args.structures, start)
    server = LocalMongoServer(folder / "mongod", mongod=find_mongod())
    state, _ = server.start()
    try:
        with override_settings(
            db_uri=state.uri, db_name="scale", data_dir=folder / "data"
        ) as settings:
            start = time.perf_counter()
            options = ImportOptions(DatasetId("scale"), "PBE", processes=args.processes)
            result = import_path(data, options, settings)
            _timed(out, "import", result.records, start, stored=result.stored)
            ids = _structure_ids(settings)
            start = time.perf_counter()
            failed = predict(CHEAP_MODEL, ids, args.chunk, calculator_kwargs={"scale": 0.8},
                             functional="PBE")  # fmt: skip
            _timed(out, "predict_cheap", len(ids), start, failed=failed)
            subset = ids[: args.chgnet]
            start = time.perf_counter()
            failed = predict("chgnet-0.3.0", subset, args.chunk)
            _timed(out, "predict_chgnet", len(subset), start, failed=failed)
            start = time.perf_counter()
            written = build_comparisons(settings)
            _timed(out, "build", len(ids), start, written=written)
            start = time.perf_counter()
            rows = synthetic_rows(settings, args.rows)
            _timed(out, "synthetic_rows", rows, start)
            start = time.perf_counter()
            frame = query_comparisons(settings, level="structure")
            _timed(out, "query", len(frame), start, columns=len(frame.columns))
            del frame
            start = time.perf_counter()
            files = write_report(CAMPAIGN, folder / "report", settings, build=False)
            _timed(out, "report", len(ids), start, figures=len(files.figures))
            out["database_mb"] = _db_size(settings)
    finally:
        server.stop()
    return out


def main() -> None:
    """Run the benchmark and write its JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--structures", type=int, default=100_000)
    parser.add_argument("--materials", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chgnet", type=int, default=1000)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=1, help="import worker processes")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = run(args, Path(tmp))
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(json.dumps(out["stages"], indent=1))


if __name__ == "__main__":
    main()
