"""Throughput of uMLIP prediction: bare CHGNet vs pesbench's PredictMaker vs atomate2.

(a) bare CHGNet, ``predict_structure(batch, batch_size=len(batch))`` over batches of at
    most ``--atom-budget`` atoms (the same grouping pesbench uses), model loaded once, no
    workflow (the limit);
(b) pesbench ``PredictMaker`` jobs (chunks of ``--chunk`` structures) through jobflow
    ``run_locally`` into a MongoDB JobStore (GridFS for the documents);
(c) atomate2 ``ForceFieldStaticMaker(force_field_name="CHGNet")``, one job per structure,
    through ``run_locally`` into the same store (the first ``--n-atomate2`` structures);
(d) a matgl M3GNet with the paper's hyperparameters built from scratch (random weights:
    speed only), batched through pesbench's adapter (the first ``--n-m3gnet`` structures).

Structures: rattled (0.05 Å) and strained (+-3 %) 8 to 64-atom supercells of Si, MgO,
Cu, NaCl and GaN, fixed seed. Each repeat runs (a), (b), (c), (d) one after the other, so
that the machine's load hits all of them alike; the median structures/s over
``--repeats`` is reported. MongoDB: pesbench's managed ``mongod`` in a temporary folder.

Memory: CHGNet computes forces and stress with ``create_graph=True`` even in inference,
which costs about 10 MB per atom in a pass on these cells. Batching by a number of
structures (``batch_size=16`` of up to 64 atoms: up to 1,024 atoms per pass) took 8 to
12 GB; batches are therefore bounded by atoms, for (a) as for (b). The peak resident
memory of the process is recorded after each variant.

Also measured, to explain (c): the time atomate2 spends per job loading CHGNet
(``CHGNetCalculator()``, what ``ForceFieldStaticMaker`` does in every job), and pesbench's
model load and sanity check (``PredictionChunkDoc.load_seconds``).

Usage: ``nice -n 10 python benchmarks/predict/run.py --n 500 --n-atomate2 150 --repeats 3``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import resource
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Lattice, Structure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common
from bench_common import machine

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


def _quiet() -> contextlib.AbstractContextManager[Any]:
    return contextlib.redirect_stdout(io.StringIO())


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bare_chgnet(structures: list[Structure], model: Any, atom_budget: int) -> float:
    """(a): seconds for CHGNet's batched passes over ``structures`` (model already loaded)."""
    from pesbench.mlip.base import batches_by_atoms

    start = time.perf_counter()
    for batch in batches_by_atoms([len(s) for s in structures], atom_budget):
        group = [structures[i] for i in batch]
        model.predict_structure(group, task="efs", batch_size=len(group))
    return time.perf_counter() - start


def pesbench_jobs(
    structures: list[Structure], chunk: int, atom_budget: int, store: Any
) -> tuple[float, float]:
    """(b): seconds for PredictMaker jobs through run_locally, and their model-load seconds."""
    from jobflow import Flow, run_locally

    from pesbench.makers.predict import PredictMaker

    maker = PredictMaker(model="chgnet-0.3.0", device="cpu", atom_budget=atom_budget)
    jobs = [maker.make(structures[i : i + chunk]) for i in range(0, len(structures), chunk)]
    start = time.perf_counter()
    with _quiet():
        responses = run_locally(Flow(jobs), store=store, ensure_success=True, log=False)
    elapsed = time.perf_counter() - start
    load = sum(
        float(response.output.load_seconds)
        for by_index in responses.values()
        for response in by_index.values()
    )
    return elapsed, load


def atomate2_jobs(structures: list[Structure], store: Any) -> float:
    """(c): seconds for one ForceFieldStaticMaker job per structure through run_locally."""
    from atomate2.forcefields.jobs import ForceFieldStaticMaker
    from jobflow import Flow, run_locally

    maker = ForceFieldStaticMaker(force_field_name="CHGNet")
    jobs = [maker.make(s) for s in structures]
    start = time.perf_counter()
    with _quiet():
        run_locally(Flow(jobs), store=store, ensure_success=True, log=False)
    return time.perf_counter() - start


def atomate2_model_load(times: int) -> list[float]:
    """Seconds per ``CHGNetCalculator()`` construction: the model load of every atomate2 job."""
    from chgnet.model.dynamics import CHGNetCalculator

    out = []
    for _ in range(times):
        start = time.perf_counter()
        with _quiet():
            CHGNetCalculator()
        out.append(time.perf_counter() - start)
    return out


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
    if out.n_failed:
        raise RuntimeError(f"M3GNet failed on {out.n_failed} structures: {out.failures}")
    return elapsed


def summarize(
    args: argparse.Namespace,
    structures: list[Structure],
    counts: dict[str, int],
    times: dict[str, list[float]],
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The results document from the repeats done so far (``complete`` when all are)."""
    done = {k: v for k, v in times.items() if v}
    atoms = {k: sum(len(s) for s in structures[: counts[k]]) for k in counts}
    rates = {k: [counts[k] / t for t in v] for k, v in done.items()}
    median = {k: statistics.median(v) for k, v in rates.items()}
    atom_rates = {k: statistics.median(atoms[k] / t for t in v) for k, v in done.items()}
    sizes = [len(s) for s in structures]
    model_loads = extra["atomate2_model_load_seconds"]
    per_structure_a = 1 / median["a"]
    per_structure_c = 1 / median["c"]
    load_per_job = statistics.median(model_loads)
    return {
        "complete": len(times["a"]) == args.repeats,
        "repeats_done": len(times["a"]),
        "machine": machine("cpu (no GPU lent to this task: GPU figures absent)"),
        "load_average_1min": {
            "samples": extra["load_avg"],
            "median": statistics.median(extra["load_avg"]),
        },
        "command": "nice -n 10 python " + shlex.join(sys.argv),
        "args": {k: str(v) for k, v in vars(args).items()},
        "n_structures": counts,
        "atoms": {"min": min(sizes), "max": max(sizes), "mean": float(np.mean(sizes))},
        "mean_atoms": {k: atoms[k] / counts[k] for k in counts},
        "order_per_repeat": extra["orders"],
        "seconds": done,
        "structures_per_s": rates,
        "median_structures_per_s": median,
        "median_atoms_per_s": atom_rates,
        "ratio_b_over_c": median["b"] / median["c"],
        "ratio_b_over_a": median["b"] / median["a"],
        "ratio_b_over_c_per_atom": atom_rates["b"] / atom_rates["c"],
        "targets": {"b_over_c": 10.0, "b_over_a": 0.8},
        "explain": {
            "a_seconds_per_structure": per_structure_a,
            "c_seconds_per_structure": per_structure_c,
            "a_seconds_per_structure_of_c_subset": atoms["c"] / counts["c"] / atom_rates["a"],
            "atomate2_model_load_seconds": model_loads,
            "atomate2_model_load_seconds_median": load_per_job,
            "b_model_load_and_sanity_seconds": extra["b_load"],
            "b_minus_a_seconds": [tb - ta for ta, tb in zip(done["a"], done["b"], strict=False)],
        },
        "peak_rss_mb_after": extra["peak_rss"],
    }


def main() -> None:
    """Run the benchmark; write results.json to ``--out`` after every repeat."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="structures for (a) and (b)")
    parser.add_argument("--n-atomate2", type=int, default=150, help="structures for (c)")
    parser.add_argument("--n-m3gnet", type=int, default=100, help="structures for (d)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=500, help="structures per pesbench job")
    parser.add_argument("--atom-budget", type=int, default=128, help="atoms per forward pass")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--model-loads", type=int, default=5, help="timed CHGNet loads")
    parser.add_argument("--skip-m3gnet", action="store_true")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    os.environ["PESBENCH_TORCH_THREADS"] = str(args.threads)
    structures = make_structures(args.n)
    counts = {
        "a": args.n,
        "b": args.n,
        "c": min(args.n_atomate2, args.n),
        "d": min(args.n_m3gnet, args.n),
    }
    from chgnet.model import CHGNet

    from pesbench.settings import override_settings
    from pesbench.stores import LocalMongoServer, get_job_store

    with _quiet():
        model = CHGNet.load(model_name="0.3.0", use_device="cpu", verbose=False)
    bare_chgnet(structures[:4], model, args.atom_budget)  # warm-up, not timed

    variants = "abc" if args.skip_m3gnet else "abcd"
    if args.skip_m3gnet:
        counts.pop("d")
    times: dict[str, list[float]] = {k: [] for k in variants}
    extra: dict[str, Any] = {
        "peak_rss": {},
        "load_avg": [os.getloadavg()[0]],
        "b_load": [],
        "orders": [],
        "atomate2_model_load_seconds": atomate2_model_load(args.model_loads),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalMongoServer(Path(tmp) / "mongod")
        state, _ = server.start()
        try:
            with override_settings(
                db_uri=state.uri, db_name="bench_predict", data_dir=Path(tmp) / "data"
            ) as settings:
                store = get_job_store(settings)
                for rep in range(args.repeats):
                    # alternate the order so that a drift in load favours no variant
                    order = variants if rep % 2 == 0 else variants[::-1]
                    extra["orders"].append(order)
                    for key in order:
                        if key == "a":
                            elapsed = bare_chgnet(structures, model, args.atom_budget)
                        elif key == "b":
                            elapsed, load = pesbench_jobs(
                                structures, args.chunk, args.atom_budget, store
                            )
                            extra["b_load"].append(load)
                        elif key == "c":
                            elapsed = atomate2_jobs(structures[: counts["c"]], store)
                        else:
                            subset = structures[: counts["d"]]
                            elapsed = m3gnet_paper(subset, Path(tmp), args.atom_budget)
                        times[key].append(elapsed)
                        extra["peak_rss"][key] = _peak_rss_mb()
                    extra["load_avg"].append(os.getloadavg()[0])
                    print(f"repeat {rep + 1}: " + ", ".join(
                        f"{k} {v[-1]:.1f} s" for k, v in times.items()
                    ) + f"; load {extra['load_avg'][-1]:.1f}", flush=True)  # fmt: skip
                    result = summarize(args, structures, counts, times, extra)
                    (args.out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
        finally:
            server.stop()
    print(json.dumps({k: result[k] for k in ("median_structures_per_s", "ratio_b_over_c",
                                              "ratio_b_over_a", "explain")}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
