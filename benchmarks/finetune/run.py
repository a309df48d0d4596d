"""CHGNet 0.3.0 -> GPAW r2SCAN: fine-tuning with refitted vs frozen GGA AtomRef (issue 5).

References: the campaigns ``benchmarks/finetune/campaign.yaml`` and ``campaign-extra.yaml``
(GPAW r2SCAN single points of rattled and strained MgO, CaO, LiF, Li2O, CaF2 and MgF2
cells, the quickstart's GPAW settings), run first into one data folder with
``PESBENCH_DATA_DIR=<dir> nice -n 10 pesbench run <spec>``. The split is by material: LiF
is held out for the test, MgF2 for validation (the weights kept are those, starting ones
included, with the lowest validation energy MAE); the other four train. LiF and MgF2 lie
in the span of the training compositions (LiF = (Li2O + CaF2 - CaO) / 2, MgF2 = MgO + CaF2
- CaO), so their elemental references are fixed by the training data.

Compared on the held-out LiF structures (energy MAE, meV/atom; force MAE, eV/Å):
(a) untouched CHGNet 0.3.0 with its GGA AtomRef (MPtrj); also the shipped chgnet-r2scan;
(b) fine-tuned with frozen GGA AtomRef; AtomRef refitted by least squares on the training
references, then frozen, without training (0 epochs), fine-tuned (the transfer paper's
method), fine-tuned with all but the last block frozen, and fine-tuned keeping the last
epoch; trainable AtomRef; from scratch with refitted AtomRef. Every fine-tune is repeated
over ``--seeds``. Also: the one-parameter softening correction of chgnet-r2scan per
material (scale fitted on the structure with the largest DFT forces, force MAE of the
others before and after).

Usage: ``PESBENCH_DATA_DIR=<dir> nice -n 10 python benchmarks/finetune/run.py``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pesbench.analysis.softening import one_point_correction
from pesbench.makers.finetune import FineTuneMaker, evaluate, load_training_set, run_finetune
from pesbench.mlip import load_model
from pesbench.settings import get_settings, override_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common
from bench_common import machine

HERE = Path(__file__).parent

VARIANTS: dict[str, dict[str, Any]] = {
    "(b) frozen GGA AtomRef, fine-tuned": {"atomref_mode": "frozen"},
    "refitted AtomRef, no training": {"atomref_mode": "refit", "epochs": 0},
    "refitted AtomRef, fine-tuned": {"atomref_mode": "refit"},
    "refitted AtomRef, fine-tuned, last block only": {"atomref_mode": "refit", "freeze": True},
    "refitted AtomRef, fine-tuned, last epoch kept": {"atomref_mode": "refit", "selection": "last"},
    "trainable AtomRef, fine-tuned": {"atomref_mode": "trainable"},
    "from scratch, refitted AtomRef": {"atomref_mode": "scratch"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaign", nargs="+", default=["finetune-bench", "finetune-bench-extra"])
    parser.add_argument("--val", nargs="*", default=["MgF2"])
    parser.add_argument("--test", nargs="+", default=["LiF"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = get_settings()
    data = load_training_set("r2SCAN", settings=settings, campaign=args.campaign)
    if not len(data):
        raise SystemExit(f"no r2SCAN references of campaigns {args.campaign}: run them first")
    test = data.subset(args.test)
    counts = {m: data.materials.count(m) for m in sorted(set(data.materials))}
    print(f"{len(data)} references: {counts}")

    results: dict[str, Any] = {
        "campaign": args.campaign,
        "references": counts,
        "val_materials": args.val,
        "test_materials": args.test,
        "seeds": args.seeds,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "machine": machine("cpu, torch threads 1 (no GPU lent to this task)"),
        "torch": torch.__version__,
        "baselines": {},
        "variants": {},
    }
    for model_id in ("chgnet-0.3.0", "chgnet-r2scan"):
        metrics = evaluate(load_model(model_id, device="cpu"), test)
        results["baselines"][model_id] = metrics.model_dump(mode="json")
        print(f"{model_id}: {1000 * metrics.energy_mae_per_atom:.1f} meV/atom")

    with tempfile.TemporaryDirectory() as models, override_settings(model_dir=Path(models)):
        for name in args.variants:
            runs = []
            for seed in args.seeds:
                options = {"epochs": args.epochs, **VARIANTS[name]}
                maker = FineTuneMaker(
                    seed=seed,
                    learning_rate=args.lr,
                    batch_size=args.batch_size,
                    val_materials=args.val,
                    test_materials=args.test,
                    device="cpu",
                    **options,
                )
                start = time.perf_counter()
                doc = run_finetune(maker, data=data)
                assert doc.after is not None
                runs.append(
                    {
                        "seed": seed,
                        "epochs": doc.epochs,
                        "selection": doc.selection,
                        "selected_epoch": doc.selected_epoch,
                        "val_energy_mae_meV_per_atom": [1000 * x for x in doc.val_energy_mae],
                        "energy_mae_meV_per_atom": 1000 * doc.after.energy_mae_per_atom,
                        "force_mae": doc.after.force_mae,
                        "stress_mae": doc.after.stress_mae,
                        "atomref_before": doc.atomref_before,
                        "atomref_after": doc.atomref_after,
                        "split": doc.split,
                        "train_seconds": doc.train_seconds,
                        "seconds": time.perf_counter() - start,
                    }
                )
                print(
                    f"{name} seed {seed}: {runs[-1]['energy_mae_meV_per_atom']:.1f} meV/atom, "
                    f"epoch kept {doc.selected_epoch}/{doc.epochs}"
                )
                if doc.epochs == 0:
                    break  # nothing random without training
            energies = [r["energy_mae_meV_per_atom"] for r in runs]
            results["variants"][name] = {
                "runs": runs,
                "energy_mae_meV_per_atom_mean": float(np.mean(energies)),
                "energy_mae_meV_per_atom_std": float(np.std(energies)),
                "force_mae_mean": float(np.mean([r["force_mae"] for r in runs])),
            }

    results["softening_correction"] = _softening(data)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"wrote {args.out}")
    print(tables(results))


def tables(results: dict[str, Any]) -> str:
    """The results as the markdown tables of RESULTS.md."""
    lines = [
        "| model | energy MAE (meV/atom) | force MAE (eV/Å) | epoch kept | runs |",
        "|---|---|---|---|---|",
    ]
    for model_id, m in results["baselines"].items():
        energy = 1000 * m["energy_mae_per_atom"]
        lines.append(f"| {model_id}, untouched | {energy:.1f} | {m['force_mae']:.3f} | – | 1 |")
    for name, v in results["variants"].items():
        mean, std = v["energy_mae_meV_per_atom_mean"], v["energy_mae_meV_per_atom_std"]
        runs = v["runs"]
        seeds = ", ".join(str(r["seed"]) for r in runs)
        each = ", ".join(f"{r['energy_mae_meV_per_atom']:.1f}" for r in runs)
        kept = ", ".join(f"{r.get('selected_epoch', -1)}/{r['epochs']}" for r in runs)
        lines.append(
            f"| {name} | {mean:.1f} ± {std:.1f} ({each}) | {v['force_mae_mean']:.3f} | "
            f"{kept} | seeds {seeds} |"
        )
    lines += [
        "",
        "| material | scale | fitted on | force MAE before (eV/Å) | after | change |",
        "|---|---|---|---|---|---|",
    ]
    for material, c in results["softening_correction"].items():
        lines.append(
            f"| {material} | {c['scale']:.3f} | structure {c['fit_index']} | "
            f"{c['mae_before']:.3f} | {c['mae_after']:.3f} | {100 * c['relative_change']:+.0f} % |"
        )
    return "\n".join(lines)


def _softening(data: Any) -> dict[str, Any]:
    """One-parameter correction of chgnet-r2scan per material, against the GPAW forces."""
    model = load_model("chgnet-r2scan", device="cpu")
    out = {}
    for material in sorted(set(data.materials)):
        part = data.subset([material])
        preds = model.predict(part.structures)
        fit_index = int(np.argmax([np.abs(f).max() for f in part.forces]))
        corr = one_point_correction(part.forces, preds.forces, fit_index=fit_index)  # type: ignore[arg-type]
        out[material] = corr.as_dict()
    return out


if __name__ == "__main__":
    main()
