"""Throughput of uMLIP prediction: bare CHGNet vs pesbench's PredictMaker vs atomate2.

(a) bare CHGNet, ``predict_structure(list, batch_size=...)``, no workflow (the limit);
(b) pesbench ``PredictMaker`` jobs (chunks of ``--chunk`` structures) through jobflow
    ``run_locally`` into a MongoDB JobStore (GridFS for the documents);
(c) atomate2 ``ForceFieldStaticMaker(force_field_name="CHGNet")``, one job per structure,
    through ``run_locally`` into the same store;
(d) a matgl M3GNet with the paper's hyperparameters built from scratch (random weights:
    speed only), batched through pesbench's adapter.

Structures: rattled (0.05 Å) and strained (+-3 %) 8 to 64-atom supercells of Si, MgO,
Cu, NaCl and GaN, fixed seed. Each variant is repeated ``--repeats`` times; the median
structures/s is reported. MongoDB: pesbench's managed ``mongod`` in a temporary folder.

Usage: ``python benchmarks/predict/run.py --n 500 --repeats 3 --out benchmarks/predict``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Lattice, Structure

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def make_structures(n: int, seed: int = 0) -> list[Structure]:
    """``n`` rattled, strained supercells of 8 to 64 atoms, several chemistries."""
    rng = np.random.default_rng(seed)
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]])
    mgo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.26), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.63), ["Cu"], [[0, 0, 0]])
    gan = Structure.from_spacegroup(
        "P6_3mc",
        Lattice.hexagonal(3.19, 5.19),
        ["Ga", "N"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.377]],
    )
    choices = [
        (si, (1, 1, 1)), (si, (2, 1, 1)), (si, (2, 2, 1)), (si, (2, 2, 2)),
        (mgo, (1, 1, 1)), (mgo, (2, 1, 1)), (mgo, (2, 2, 2)),
        (nacl, (1, 1, 1)), (nacl, (2, 2, 1)),
        (cu, (2, 1, 1)), (cu, (2, 2, 2)), (cu, (3, 2, 2)),
        (gan, (2, 1, 1)), (gan, (2, 2, 2)), (gan, (2, 2, 4)),
    ]  # fmt: skip
    out = []
    for _ in range(n):
        base, scale = choices[rng.integers(len(choices))]
        s = base * scale
        s.apply_strain(rng.uniform(-0.03, 0.03, 3).tolist())
        for i, shift in enumerate(rng.normal(0, 0.05, (len(s), 3))):
            s.translate_sites([i], shift, frac_coords=False)
        out.append(s)
    return out


def bare_chgnet(structures: list[Structure], batch_size: int) -> float:
    """(a): seconds for one batched pass over ``structures`` (model loaded beforehand)."""
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)
    start = time.perf_counter()
    model.predict_structure(structures, task="efs", batch_size=batch_size)
    return time.perf_counter() - start


def pesbench_jobs(structures: list[Structure], chunk: int, atom_budget: int, store: Any) -> float:
    """(b): seconds for PredictMaker jobs over ``structures`` through run_locally."""
    from jobflow import Flow, run_locally

    from pesbench.makers.predict import PredictMaker

    maker = PredictMaker(model="chgnet-0.3.0", device="cpu", atom_budget=atom_budget)
    jobs = [maker.make(structures[i : i + chunk]) for i in range(0, len(structures), chunk)]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_locally(Flow(jobs), store=store, ensure_success=True, log=False)
    return time.perf_counter() - start


def atomate2_jobs(structures: list[Structure], store: Any) -> float:
    """(c): seconds for one ForceFieldStaticMaker job per structure through run_locally."""
    from atomate2.forcefields.jobs import ForceFieldStaticMaker
    from jobflow import Flow, run_locally

    maker = ForceFieldStaticMaker(force_field_name="CHGNet")
    jobs = [maker.make(s) for s in structures]
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        run_locally(Flow(jobs), store=store, ensure_success=True, log=False)
    return time.perf_counter() - start


def m3gnet_paper(structures: list[Structure], folder: Path, atom_budget: int) -> float:
    """(d): seconds for batched prediction with a from-scratch paper-size M3GNet."""
    from pesbench.mlip import load_model
    from pesbench.testing.models import build_m3gnet

    path = folder / "m3gnet-paper"
    if not path.exists():
        build_m3gnet(path, elements=None, paper=True)
    predictor = load_model(f"matgl:{path}", device="cpu", check=False)  # random weights
    start = time.perf_counter()
    out = predictor.predict(structures, atom_budget=atom_budget)
    elapsed = time.perf_counter() - start
    assert out.n_failed == 0, out.failures
    return elapsed


def machine() -> str:
    """One line describing this machine."""
    cpu = platform.processor() or "cpu"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores "
        f"(shared; load average {load:.1f} at start), torch {torch.__version__} "
        f"with {torch.get_num_threads()} thread(s), CPU only"
    )


def main() -> None:
    """Run the benchmark and write results.json and RESULTS.md to ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="structures")
    parser.add_argument("--n-atomate2", type=int, default=500, help="structures for (c)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500, help="structures per pesbench job")
    parser.add_argument("--batch-size", type=int, default=16, help="(a): CHGNet batch_size")
    parser.add_argument("--atom-budget", type=int, default=512, help="(b), (d): atoms/pass")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-m3gnet", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    os.environ["PESBENCH_TORCH_THREADS"] = str(args.threads)
    structures = make_structures(args.n)
    sizes = [len(s) for s in structures]
    subset = structures[: args.n_atomate2]
    from pesbench.settings import override_settings
    from pesbench.stores import LocalMongoServer, get_job_store

    times: dict[str, list[float]] = {"a": [], "b": [], "c": [], "d": []}
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalMongoServer(Path(tmp) / "mongod")
        state, _ = server.start()
        try:
            with override_settings(
                db_uri=state.uri, db_name="bench_predict", data_dir=Path(tmp) / "data"
            ) as settings:
                store = get_job_store(settings)
                for rep in range(args.repeats):
                    times["a"].append(bare_chgnet(structures, args.batch_size))
                    b = pesbench_jobs(structures, args.chunk, args.atom_budget, store)
                    times["b"].append(b)
                    times["c"].append(atomate2_jobs(subset, store))
                    if not args.skip_m3gnet:
                        times["d"].append(m3gnet_paper(structures, Path(tmp), args.atom_budget))
                    print(f"repeat {rep + 1}: " + ", ".join(
                        f"{k} {v[-1]:.1f} s" for k, v in times.items() if v
                    ), flush=True)  # fmt: skip
        finally:
            server.stop()

    counts = {"a": args.n, "b": args.n, "c": len(subset), "d": args.n}
    rates = {k: [counts[k] / t for t in v] for k, v in times.items() if v}
    median = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "n_structures": args.n,
        "atoms": {"min": min(sizes), "max": max(sizes), "mean": float(np.mean(sizes))},
        "seconds": times,
        "structures_per_s": rates,
        "median_structures_per_s": median,
        "ratio_b_over_c": median["b"] / median["c"],
        "ratio_b_over_a": median["b"] / median["a"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("median_structures_per_s", "ratio_b_over_c",
                                              "ratio_b_over_a")}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
