"""Throughput of uMLIP relaxations: one ASE optimizer loop per structure vs batched passes.

(a) one by one: ``ModelSide.relax`` per structure, i.e. ASE's optimizer on one structure
    with the model as its calculator (one forward pass of one structure per step);
(b) batched: ``ModelSide.relax_many`` over all structures, i.e. one ASE optimizer per
    structure stepped in lock step, the structures still relaxing evaluated together in
    the model's batched forward pass (at most ``--atom-budget`` atoms per pass).

Same model object, same settings (BFGS, ``--fmax``, ``--max-steps``, fixed cell or
``--relax-cell``), same torch threads, no cache. Structures: ``--n`` rattled (0.1 Å) and
strained (±3 %) cells of 2 to 16 atoms of Si, MgO, NaCl, Cu and GaN, fixed seed. Each
repeat runs (a) then (b), the next (b) then (a) (alternated so that a drift in the
machine's load favours neither); the ratio is taken per repeat and as the ratio of the
medians. The process's CPU time of each variant is recorded too (``cpu_seconds``): on a
shared machine it is less sensitive to the other jobs than the wall time. Agreement of (b)
with (a) (convergence, largest force, energy per atom, steps) is recorded from the first
repeat.

Usage: ``nice -n 10 python benchmarks/relax_batched/run.py --n 120 --repeats 3``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # ASE's BFGS: small matrices, no threads

import numpy as np
import torch
from pymatgen.core import Lattice, Structure

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common
from bench_common import machine

from pesbench.mlip.registry import load_model
from pesbench.properties.sides import ModelSide
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def make_structures(n: int, seed: int = 0) -> list[Structure]:
    """``n`` rattled, strained cells of 2 to 16 atoms, several chemistries."""
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
    prim = {name: s.get_primitive_structure() for name, s in
            {"si": si, "mgo": mgo, "nacl": nacl, "cu": cu}.items()}  # fmt: skip
    choices = [
        prim["si"], prim["si"] * (2, 1, 1), prim["si"] * (2, 2, 1), si,
        prim["mgo"] * (2, 1, 1), prim["mgo"] * (2, 2, 1), mgo,
        prim["nacl"] * (2, 1, 1), nacl,
        prim["cu"] * (2, 1, 1), prim["cu"] * (2, 2, 2), cu,
        gan, gan * (2, 1, 1), gan * (2, 2, 1),
    ]  # fmt: skip
    out = []
    for _ in range(n):
        s = choices[rng.integers(len(choices))].copy()
        s.apply_strain(rng.uniform(-0.03, 0.03, 3).tolist())
        for i, shift in enumerate(rng.uniform(-0.1, 0.1, (len(s), 3))):
            s.translate_sites([i], shift, frac_coords=False)
        out.append(s)
    return out


def one_by_one(
    side: ModelSide, structures: list[Structure], settings: RelaxSettings
) -> tuple[float, list[RelaxationDoc]]:
    """(a): seconds and documents of ``side.relax`` on each structure in turn."""
    start = time.perf_counter()
    docs = [side.relax(s, settings) for s in structures]
    return time.perf_counter() - start, docs


def batched(
    side: ModelSide, structures: list[Structure], settings: RelaxSettings
) -> tuple[float, list[RelaxationDoc]]:
    """(b): seconds and documents of one ``side.relax_many`` over all structures."""
    start = time.perf_counter()
    docs = side.relax_many(structures, settings)
    return time.perf_counter() - start, docs


def agreement(ref: list[RelaxationDoc], new: list[RelaxationDoc]) -> dict[str, Any]:
    """How (b)'s relaxations compare with (a)'s, structure by structure."""
    de = [
        abs(float(b.energy_per_atom) - float(a.energy_per_atom))  # type: ignore[arg-type]
        for a, b in zip(ref, new, strict=True)
        if a.energy_per_atom is not None and b.energy_per_atom is not None
    ]
    steps = [b.n_steps - a.n_steps for a, b in zip(ref, new, strict=True)]
    return {
        "n": len(ref),
        "converged_a": sum(d.converged for d in ref),
        "converged_b": sum(d.converged for d in new),
        "max_force_a_max": max(float(d.max_force or 0.0) for d in ref),
        "max_force_b_max": max(float(d.max_force or 0.0) for d in new),
        "max_abs_de_per_atom_ev": max(de),
        "median_abs_de_per_atom_ev": statistics.median(de),
        "n_de_over_1mev": sum(x > 1e-3 for x in de),
        "steps_a_total": sum(d.n_steps for d in ref),
        "steps_b_total": sum(d.n_steps for d in new),
        "steps_diff_max_abs": max(abs(x) for x in steps),
        "steps_equal": sum(x == 0 for x in steps),
    }


def main() -> None:
    """Run the comparison and write ``results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="structures")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default="chgnet-0.3.0")
    parser.add_argument("--atom-budget", type=int, default=128, help="atoms per forward pass")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both variants)")
    parser.add_argument("--fmax", type=float, default=0.05, help="eV/Å")
    parser.add_argument("--max-steps", type=int, default=300)
    parser.add_argument("--relax-cell", action="store_true", help="FrechetCellFilter too")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    structures = make_structures(args.n)
    predictor = load_model(args.model, device="cpu")
    side = ModelSide(predictor, atom_budget=args.atom_budget)
    settings = RelaxSettings(relax_cell=args.relax_cell, fmax=args.fmax, max_steps=args.max_steps)
    sizes = [len(s) for s in structures]
    result: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine("cpu (no GPU lent to this task: GPU figures absent)"),
        "model": args.model,
        "settings": settings.model_dump(),
        "atom_budget": args.atom_budget,
        "n_structures": len(structures),
        "n_atoms": sum(sizes),
        "atoms_min_max_mean": [min(sizes), max(sizes), round(float(np.mean(sizes)), 2)],
        "load_avg_1min": [os.getloadavg()[0]],
        "seconds": {"a_one_by_one": [], "b_batched": []},
        "cpu_seconds": {"a_one_by_one": [], "b_batched": []},
        "order": [],
    }
    for repeat in range(args.repeats):
        order = ["a", "b"] if repeat % 2 == 0 else ["b", "a"]
        result["order"].append("".join(order))
        docs: dict[str, list[RelaxationDoc]] = {}
        for variant in order:
            run = one_by_one if variant == "a" else batched
            cpu_start = time.process_time()
            seconds, docs[variant] = run(side, structures, settings)
            key = "a_one_by_one" if variant == "a" else "b_batched"
            result["seconds"][key].append(round(seconds, 2))
            result["cpu_seconds"][key].append(round(time.process_time() - cpu_start, 2))
            result["load_avg_1min"].append(os.getloadavg()[0])
            print(f"repeat {repeat} {variant}: {seconds:.1f} s", flush=True)
        if repeat == 0:
            result["agreement"] = agreement(docs["a"], docs["b"])
        a, b = result["seconds"]["a_one_by_one"], result["seconds"]["b_batched"]
        result["ratio_per_repeat"] = [round(x / y, 3) for x, y in zip(a, b, strict=False)]
        result["median_seconds"] = {"a": statistics.median(a), "b": statistics.median(b)}
        result["ratio_of_medians"] = round(statistics.median(a) / statistics.median(b), 3)
        ca, cb = result["cpu_seconds"]["a_one_by_one"], result["cpu_seconds"]["b_batched"]
        result["cpu_ratio_per_repeat"] = [round(x / y, 3) for x, y in zip(ca, cb, strict=False)]
        result["median_structures_per_s"] = {
            k: round(len(structures) / v, 3) for k, v in result["median_seconds"].items()
        }
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        name = "results_cell.json" if args.relax_cell else "results.json"
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("ratio_per_repeat", "ratio_of_medians",
                                              "agreement")}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
