"""GPU vs CPU throughput of every real model: prediction and batched relaxation, atoms/s.

For each model of ``--models`` (those whose weights load offline: CHGNet 0.3.0, SevenNet-0,
SevenNet-l3i5, SevenNet-MF-0) and each device (``cuda:0`` when torch sees one, then
``cpu``), at each atom budget of ``--budgets`` (most atoms per forward pass):

- prediction: ``Predictor.predict`` over rattled, strained cells of 8 to 64 atoms
  (``--atoms`` atoms in all on the GPU; ``--cpu-scale`` times that on the CPU, which is
  slower: the rate is what is compared);
- batched relaxation: ``ModelSide.relax_many`` of ``--cells`` cells of 2 to 16 atoms
  (benchmarks/relax_batched's set), BFGS, fixed cell, ``--fmax``, ``--max-steps``;
  reported as structures/s, and as atom-evaluations/s (atoms times optimizer frames, per
  second: the rate of the forward passes inside the relaxation);
- once per model and device, at the first budget, the same cells relaxed one by one
  (``ModelSide.relax``), for the batched/one-by-one ratio of issue 14 item 4.

A warm-up pass precedes each model's measurements on each device (CUDA context, kernels).
The run stops starting new measurements at ``--deadline`` seconds (default 270: the whole
run must finish within 5 minutes on one GPU); skipped ones are listed in the results.
CUDA timings synchronize the device before the clock is read.

Usage (GPU machine): ``python benchmarks/gpu/run.py``; proof on a CPU-only machine:
``python benchmarks/gpu/run.py --models chgnet-0.3.0 --budgets 64 256 --atoms 512
--cells 8 --cpu-scale 1 --out /tmp/gpu-proof``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common, relax_batched
from bench_common import machine
from relax_batched.run import make_structures as relax_cells

from pesbench.mlip.base import Predictor
from pesbench.mlip.registry import load_model
from pesbench.properties.sides import ModelSide
from pesbench.schemas.relaxation import RelaxSettings

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)

MODELS = ["chgnet-0.3.0", "7net-0", "7net-l3i5", "7net-mf-0:PBE"]
"""The real models whose weights load offline (docs/models.md)."""


def predict_cells(n_atoms: int, seed: int = 1) -> list[Structure]:
    """Rattled (0.05 Å), strained (±3 %) cells of 8 to 64 atoms, about ``n_atoms`` in all."""
    rng = np.random.default_rng(seed)
    si = Structure(
        Lattice.cubic(5.47),
        ["Si"] * 8,
        [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
         [0.25, 0.25, 0.25], [0.75, 0.75, 0.25], [0.75, 0.25, 0.75], [0.25, 0.75, 0.75]],
    )  # fmt: skip
    fcc = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    mgo = Structure(
        Lattice.cubic(4.26), ["Mg"] * 4 + ["O"] * 4, fcc + [[x + 0.5, y, z] for x, y, z in fcc]
    )
    cu = Structure(Lattice.cubic(3.63), ["Cu"] * 4, fcc)
    choices = [si, si * (2, 1, 1), si * (2, 2, 2), mgo, mgo * (2, 2, 1), cu * (2, 2, 2)]
    out: list[Structure] = []
    total = 0
    while total < n_atoms:
        s = choices[rng.integers(len(choices))].copy()
        s.apply_strain(rng.uniform(-0.03, 0.03, 3).tolist())
        for i, shift in enumerate(rng.normal(0, 0.05, (len(s), 3))):
            s.translate_sites([i], shift, frac_coords=False)
        out.append(s)
        total += len(s)
    return out


def _clock(device: str) -> float:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter()


def measure_predict(predictor: Predictor, cells: list[Structure], budget: int) -> dict[str, Any]:
    """Atoms/s of one ``predict`` over ``cells`` with ``budget`` atoms per pass."""
    start = _clock(predictor.device)
    preds = predictor.predict(cells, atom_budget=budget)
    seconds = _clock(predictor.device) - start
    n_atoms = sum(len(s) for s in cells)
    return {
        "structures": len(cells),
        "atoms": n_atoms,
        "failed": preds.n_failed,
        "seconds": round(seconds, 3),
        "atoms_per_s": round(n_atoms / seconds, 1),
    }


def measure_relax(
    predictor: Predictor,
    cells: list[Structure],
    budget: int,
    settings: RelaxSettings,
    *,
    batched: bool = True,
) -> dict[str, Any]:
    """Structures/s and atom-evaluations/s of relaxing ``cells`` (batched or one by one)."""
    side = ModelSide(predictor, atom_budget=budget)
    start = _clock(predictor.device)
    docs = side.relax_many(cells, settings) if batched else [side.relax(s, settings) for s in cells]
    seconds = _clock(predictor.device) - start
    evaluations = sum(len(d.structure) * len(d.frames) for d in docs)
    return {
        "structures": len(cells),
        "atoms": sum(len(s) for s in cells),
        "converged": sum(d.converged for d in docs),
        "frames": sum(len(d.frames) for d in docs),
        "seconds": round(seconds, 3),
        "structures_per_s": round(len(cells) / seconds, 3),
        "atom_evaluations_per_s": round(evaluations / seconds, 1),
        "final_energies_per_atom": [d.energy_per_atom for d in docs],
    }


def main() -> None:
    """Run every measurement that fits before the deadline; write ``results.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--budgets", nargs="+", type=int, default=[512, 2048, 8192])
    parser.add_argument("--atoms", type=int, default=8192, help="atoms predicted per run (GPU)")
    parser.add_argument("--cells", type=int, default=64, help="cells relaxed per run (GPU)")
    parser.add_argument("--cpu-scale", type=float, default=0.0625, help="CPU work / GPU work")
    parser.add_argument("--fmax", type=float, default=0.05)
    parser.add_argument("--max-steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all)")
    parser.add_argument("--deadline", type=float, default=270.0, help="s; no new run after")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()

    t0 = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = (["cuda:0"] if torch.cuda.is_available() else []) + ["cpu"]
    settings = RelaxSettings(fmax=args.fmax, max_steps=args.max_steps)
    gpu_name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    result: dict[str, Any] = {
        "command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(f"{gpu_name} and cpu" if gpu_name else "cpu only: no CUDA device"),
        "gpu": gpu_name,
        "load_avg_1min_start": os.getloadavg()[0],
        "settings": settings.model_dump(),
        "budgets": args.budgets,
        "runs": [],
        "skipped": [],
    }
    out_file = args.out / "results.json"
    args.out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        result["elapsed_s"] = round(time.perf_counter() - t0, 1)
        out_file.write_text(json.dumps(result, indent=2) + "\n")

    def record(model_id: str, device: str, kind: str, budget: int | None, run: dict) -> None:
        result["runs"].append(
            {"model": model_id, "device": device, "kind": kind, "budget": budget, **run}
        )
        rate = run.get("atoms_per_s", run.get("structures_per_s"))
        print(f"{model_id} {device} {kind} {budget}: {rate} /s", flush=True)
        save()

    def late(what: str) -> bool:
        if time.perf_counter() - t0 > args.deadline:
            result["skipped"].append(what)
            return True
        return False

    for model_id in args.models:
        for device in devices:
            scale = 1.0 if device.startswith("cuda") else args.cpu_scale
            tag = f"{model_id} on {device}"
            if late(f"{tag}: all"):
                continue
            try:
                predictor = load_model(model_id, device=device)
            except Exception as exc:  # a model that does not load here is reported, not fatal
                result["skipped"].append(f"{tag}: load failed: {type(exc).__name__}: {exc}")
                continue
            pcells = predict_cells(max(64, int(args.atoms * scale)))
            rcells = relax_cells(max(2, int(args.cells * scale)), seed=2)
            predictor.predict(pcells[:4])  # warm-up
            for budget in args.budgets:
                if not late(f"{tag}: predict, budget {budget}"):
                    run = measure_predict(predictor, pcells, budget)
                    record(model_id, device, "predict", budget, run)
                if not late(f"{tag}: relax batched, budget {budget}"):
                    run = measure_relax(predictor, rcells, budget, settings)
                    record(model_id, device, "relax_batched", budget, run)
            if not late(f"{tag}: relax one by one"):
                run = measure_relax(predictor, rcells, args.budgets[0], settings, batched=False)
                record(model_id, device, "relax_one_by_one", None, run)
            del predictor
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    save()


if __name__ == "__main__":
    main()
