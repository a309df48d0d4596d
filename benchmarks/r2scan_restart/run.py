"""r2SCAN started from the PBE run vs from scratch, GPAW engine, on the quickstart's cells.

The structures are the quickstart campaign's references (``pesbench demo``): its spec's
bulk crystals through its ``high_energy`` generator, ``max_per_category`` of each, with its
DFT overrides (``kspacing: 0.5``; 800 eV). For each structure, in one process:

1. PBE (``GpawEngine.compute``), which writes ``gpaw.gpw``;
2. r2SCAN from scratch ("cold") and r2SCAN with ``prev_dir`` = the PBE folder ("warm"),
   cold first on even-numbered structures and warm first on odd ones, so that a drift in
   the machine's load hits both alike.

The structures are taken round robin over the materials (Si, MgO, Mg, Si, ...), so that
a run stopped early (``--limit``, or killed) covers each material.

Recorded per run: the engine's wall time (MPI launch, GPAW import and the SCF), the CPU
time of the launcher and its ranks (``getrusage(RUSAGE_CHILDREN)``: on a machine shared
with other jobs the wall time measures the scheduler as much as GPAW), GPAW's own "SCF
loop duration", SCF iterations, energy; per structure: the warm-cold differences of
energy, forces and stress, the size of the PBE ``gpaw.gpw``, and the load average before
and after. The ratio reported is median(warm) / median(cold) of the per-structure wall
times, and total(warm) / total(cold). ``results.json`` is rewritten after each structure,
so a run stopped early leaves the structures it finished.

Usage: ``nice -n 10 python benchmarks/r2scan_restart/run.py [--limit N] [--cores 2]``;
``--resume`` keeps the structures ``results.json`` has and runs the others (each row's
cold and warm runs are side by side whatever the invocation); ``--report`` prints the
summary of ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from pesbench.engines.gpaw import GpawEngine
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.structures.io import load_structure
from pesbench.structures.registry import generate, get_generator
from pesbench.workflows.spec import load_spec

HERE = Path(__file__).resolve().parent
RESULTS_JSON = HERE / "results.json"


def quickstart_structures() -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """(label, structure) of the quickstart's references, and its DFT overrides."""
    spec_path = Path(str(files("pesbench.workflows.quickstart") / "quickstart.yaml"))
    spec = load_spec(spec_path)
    found: dict[str, tuple[str, Any]] = {}
    for path in spec.structures:
        bulk = load_structure(path)
        for category, params in spec.categories.items():
            parameters = dict(params)
            if "seed" in get_generator(category).params.model_fields:
                parameters.setdefault("seed", spec.seed)
            docs = generate(bulk, category, parameters, source=str(path)).structures
            for doc in docs[: spec.max_per_category] if spec.max_per_category else docs:
                label = f"{doc.formula_reduced} {doc.role} {doc.structure_id[:8]}"
                found.setdefault(doc.structure_id, (label, doc.structure))
    groups: dict[tuple[str, str], list[tuple[str, Any]]] = {}  # (material, role) -> cells
    for label, structure in found.values():
        material, role = label.split()[:2]
        groups.setdefault((material, role), []).append((label, structure))
    # round robin over the materials and roles: a run stopped early covers them all
    depth = max(map(len, groups.values()))
    ordered = [cells[i] for i in range(depth) for cells in groups.values() if i < len(cells)]
    return ordered, dict(spec.dft.overrides)


def scf_seconds(run_dir: Path) -> float | None:
    """GPAW's "SCF loop duration" of the run, s."""
    for line in (run_dir / "gpaw.txt").read_text(errors="replace").splitlines():
        if line.startswith("SCF loop duration:"):
            return float(line.split()[3])
    return None


def run_one(
    engine: GpawEngine, structure: Any, functional: str, run_dir: Path, **kw: Any
) -> tuple[ReferenceDoc, dict[str, Any]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = engine.compute(structure, functional, run_dir, **kw)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = json.loads((run_dir / "results.json").read_text())
    row = {
        "status": doc.status,
        "failure_reason": doc.failure_reason,
        "wall_s": doc.wall_time_s,
        # CPU time of the launcher and its ranks (reaped descendants): less load-dependent
        "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "scf_s": scf_seconds(run_dir),
        "niter": results.get("niter"),
        "energy_eV": doc.energy,
        "start": results.get("start"),
        "parent_reference_id": doc.parent_reference_id,
    }
    return doc, row


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import gpaw

    return {
        "cpu_model": cpu,
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "gpaw": gpaw.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N structures (0: all)")
    parser.add_argument("--cores", type=int, default=2, help="MPI ranks per GPAW run")
    parser.add_argument("--report", action="store_true", help="only print the summary")
    parser.add_argument(
        "--resume", action="store_true", help="keep results.json's structures, run the others"
    )
    args = parser.parse_args()
    if args.report:
        rows = json.loads(RESULTS_JSON.read_text())["structures"]
        print(table(rows))
        print(json.dumps(summary(rows), indent=1))
        return
    structures, overrides = quickstart_structures()
    if args.limit:
        structures = structures[: args.limit]
    engine = GpawEngine(PesbenchSettings(dft_cores=args.cores))
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out: dict[str, Any] = {
        "machine": machine(),
        "cores": args.cores,
        "overrides": overrides,
        "n_structures_planned": len(structures),
        "invocations": [],
        "structures": [],
    }
    if args.resume and RESULTS_JSON.is_file():
        out = json.loads(RESULTS_JSON.read_text())
        out.setdefault("invocations", [{"started": out.pop("started", None)}])
    out["invocations"].append({"started": now})
    done = {row["label"] for row in out["structures"]}
    with tempfile.TemporaryDirectory(prefix="r2scan-restart-") as tmp:
        for i, (label, structure) in enumerate(structures):
            if label in done:
                continue
            folder = Path(tmp) / f"s{i}"
            row: dict[str, Any] = {"label": label, "n_atoms": len(structure)}
            row["loadavg_before"] = os.getloadavg()
            pbe, row["pbe"] = run_one(engine, structure, "PBE", folder / "pbe", overrides=overrides)
            gpw = folder / "pbe" / "gpaw.gpw"
            row["gpw_MB"] = gpw.stat().st_size / 1e6 if gpw.is_file() else None
            order = ["cold", "warm"] if i % 2 == 0 else ["warm", "cold"]
            row["order"] = order
            docs: dict[str, ReferenceDoc] = {}
            for kind in order:
                prev = folder / "pbe" if kind == "warm" else None
                docs[kind], row[kind] = run_one(
                    engine, structure, "r2SCAN", folder / kind, prev_dir=prev, overrides=overrides
                )
            row["loadavg_after"] = os.getloadavg()
            cold, warm = docs["cold"], docs["warm"]
            if cold.status == warm.status == "success":
                row["dE_eV"] = abs(warm.energy - cold.energy)
                row["dF_max_eV_A"] = float(np.abs(np.subtract(warm.forces, cold.forces)).max())
                row["dstress_max_GPa"] = float(np.abs(np.subtract(warm.stress, cold.stress)).max())
                row["parent_ok"] = warm.parent_reference_id == pbe.reference_id
            out["structures"].append(row)
            out["summary"] = summary(out["structures"])
            out["invocations"][-1]["last_row"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            RESULTS_JSON.write_text(json.dumps(out, indent=1))
            print(
                f"{i} {label}: cold {row['cold']['wall_s']:.1f} s ({row['cold']['niter']} it), "
                f"warm {row['warm']['wall_s']:.1f} s ({row['warm']['niter']} it), "
                f"dE {row.get('dE_eV')}, dF {row.get('dF_max_eV_A')}, "
                f"load {row['loadavg_after'][0]:.1f}",
                flush=True,
            )
    print(json.dumps(out["summary"], indent=1))


def _cell(run: dict[str, Any]) -> str:
    cpu = f" / {run['cpu_s']:.0f}" if run.get("cpu_s") is not None else ""
    return f"{run['wall_s']:.0f}{cpu} ({run['niter']})"


def table(rows: list[dict[str, Any]]) -> str:
    """The per-structure Markdown table of RESULTS.md."""
    lines = [
        "| structure | order | PBE wall s / CPU s (it) | cold | warm | warm/cold wall | "
        "warm/cold CPU | ΔE eV | max ΔF eV/Å | max Δσ GPa | load 1-min before/after |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "dE_eV" not in r:
            lines.append(f"| {r['label']} | failed: see results.json |||||||||")
            continue
        runs = {k: _cell(r[k]) for k in ("pbe", "cold", "warm")}
        cpu = r["cold"].get("cpu_s")
        cpu_ratio = f"{r['warm']['cpu_s'] / cpu:.2f}" if cpu else "n/a"
        lines.append(
            f"| {r['label']} | {' then '.join(r['order'])} | {runs['pbe']} | {runs['cold']} | "
            f"{runs['warm']} | {r['warm']['wall_s'] / r['cold']['wall_s']:.2f} | {cpu_ratio} | "
            f"{r['dE_eV']:.1e} | {r['dF_max_eV_A']:.1e} | {r['dstress_max_GPa']:.1e} | "
            f"{r['loadavg_before'][0]:.1f} / {r['loadavg_after'][0]:.1f} |"
        )
    return "\n".join(lines)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios and agreement over the structures where all three runs succeeded."""
    ok = [r for r in rows if "dE_eV" in r]
    if not ok:
        return {"n": 0}
    res: dict[str, Any] = {"n": len(ok), "n_failed": len(rows) - len(ok)}
    for key in ("wall_s", "cpu_s", "scf_s", "niter"):
        have = [r for r in ok if r["cold"].get(key) is not None]  # cpu_s: later rows only
        if not have:
            continue
        cold = [r["cold"][key] for r in have]
        warm = [r["warm"][key] for r in have]
        res[key] = {
            "n": len(have),
            "median_cold": statistics.median(cold),
            "median_warm": statistics.median(warm),
            "ratio_of_medians": statistics.median(warm) / statistics.median(cold),
            "total_cold": sum(cold),
            "total_warm": sum(warm),
            "ratio_of_totals": sum(warm) / sum(cold),
            "per_structure_ratio_median": statistics.median(
                w / c for w, c in zip(warm, cold, strict=True)
            ),
            "per_structure_ratio_max": max(w / c for w, c in zip(warm, cold, strict=True)),
        }
    res["max_dE_eV"] = max(r["dE_eV"] for r in ok)
    res["max_dF_eV_A"] = max(r["dF_max_eV_A"] for r in ok)
    res["max_dstress_GPa"] = max(r["dstress_max_GPa"] for r in ok)
    res["warm_used"] = sum(bool((r["warm"]["start"] or {}).get("used")) for r in ok)
    res["parent_recorded"] = sum(bool(r.get("parent_ok")) for r in ok)
    res["gpw_MB_max"] = max(r["gpw_MB"] or 0 for r in ok)
    res["pbe_wall_total_s"] = sum(r["pbe"]["wall_s"] for r in ok)
    return res


if __name__ == "__main__":
    sys.exit(main())
