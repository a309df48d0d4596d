"""Run the packaged properties example (GPAW PBE vs CHGNet on Si) and record its results.

    python benchmarks/properties/run.py [--out benchmarks/properties/results.json]

Runs ``pesbench/workflows/quickstart/properties.yaml`` as a campaign on this machine (the
managed MongoDB, or ``PESBENCH_DB_URI``), then writes every paired property (DFT value,
model value, error), each calculation's wall time and notes, the settings and the
machine to the JSON file, and prints the Markdown table of RESULTS.md. A rerun finds
every relaxation stored and recomputes nothing (its time shows it).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from pesbench.report import load_relaxed_properties
from pesbench.stores.properties import PropertySetStore
from pesbench.workflows.execute import run_campaign
from pesbench.workflows.spec import load_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench_common
from bench_common import machine

LITERATURE = {
    ("phonon", "phonon_frequencies"): (
        "Γ optical mode ≈ 15.0-15.3 THz in PBE (experiment 15.5 THz); the largest mesh "
        "frequency is that mode"
    ),
    ("defect", "formation_energy"): (
        "neutral vacancy ≈ 3.6 eV in PBE with 216-atom or larger cells (this 16-site "
        "cell is far from converged in size)"
    ),
}
"""Literature PBE values to stand beside the DFT values (see RESULTS.md for sources)."""


def _spec_path() -> Any:
    return files("pesbench.workflows").joinpath("quickstart")


def _progress(started: int, finished: int, current: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] started {started}, finished {finished}: {current}")


def _sets(campaign: str) -> list[dict[str, Any]]:
    with PropertySetStore() as store:
        docs = list(store.query({"campaigns": campaign}))
    return [
        {
            "category": d.category,
            "side": d.side,
            "wall_time_s": d.wall_time_s,
            "n_properties": len(d.properties),
            "notes": d.notes,
        }
        for d in docs
    ]


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| category | property | label | unit | GPAW PBE | CHGNet 0.3.0 | error | rel. error |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        rel = row["relative_error"]
        lines.append(
            f"| {row['category']} | {row['name']} | {row['label']} | {row['unit']} | "
            f"{row['dft_value']:.4g} | {row['model_value']:.4g} | {row['error']:+.4g} | "
            f"{'' if math.isnan(rel) else f'{rel:+.1%}'} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run the example, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    with as_file(_spec_path()) as folder:
        spec = load_spec(folder / "properties.yaml")
        start = time.perf_counter()
        summary = run_campaign(spec, progress=_progress)
        seconds = time.perf_counter() - start
    relaxed = load_relaxed_properties(spec.name)
    rows = json.loads(relaxed.rows.to_json(orient="records"))
    for row in rows:
        row["literature_pbe"] = LITERATURE.get((row["category"], row["name"]))
        row["relative_error"] = (
            row["relative_error"] if row["relative_error"] is not None else math.nan
        )
    payload = {
        "campaign": spec.name,
        "spec": spec.model_dump(mode="json"),
        "wall_time_s": seconds,
        "summary": summary.model_dump(mode="json"),
        "property_sets": _sets(spec.name),
        "rows": rows,
        "notes": relaxed.notes,
        "machine": machine("cpu (GPAW on 2 MPI ranks, CHGNet on CPU)"),
    }
    args.out.write_text(json.dumps(payload, indent=1, default=str))
    print(_markdown(rows))
    print(f"\n{len(rows)} paired values, {seconds / 60:.1f} min; written to {args.out}")


if __name__ == "__main__":
    main()
