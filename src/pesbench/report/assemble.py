"""From what the queries read to what the page shows: :func:`assemble_report`.

Pure: frames and documents in (:class:`~pesbench.report.queries.ReportInputs`), a
:class:`~pesbench.report.data.ReportData` out, figures drawn on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import Composition

from pesbench import __version__
from pesbench.analysis.plots import cross_functional_figure, figure_png
from pesbench.analysis.referencing import (
    AtomRef,
    UnderdeterminedFitError,
    cross_functional_summary,
)
from pesbench.report.comparisons import comparisons, r2scan_routes
from pesbench.report.data import Corrections, CrossFunctional, Figure, ReportData, Table
from pesbench.report.inputs import ReportInputs
from pesbench.report.properties import properties_data

__all__ = ["FINETUNE_SHOWN", "assemble_report", "cross_functional"]

FINETUNE_SHOWN = {
    "energy_mae_before": "E MAE before",
    "energy_mae_after": "E MAE after",
    "force_mae_before": "F MAE before",
    "force_mae_after": "F MAE after",
    "learning_rate": "lr",
}
"""The fine-tunes' columns renamed on the page (functional, n_test and notes are left out)."""


def _gga_r2scan_pairs(docs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """The references by structure, of the structures with both a GGA and an r2SCAN one."""
    by_sid: dict[str, dict[str, dict[str, Any]]] = {}
    for d in docs:
        kind = "r2SCAN" if d["functional"] == "r2SCAN" else "GGA"
        if d["functional"] in ("PBE", "PBE+U", "r2SCAN") and d.get("energy") is not None:
            by_sid.setdefault(d["structure_id"], {})[kind] = d
    return {sid: v for sid, v in by_sid.items() if len(v) == 2}


def cross_functional(docs: list[dict[str, Any]]) -> CrossFunctional:
    """The GGA vs r2SCAN figure and a one-paragraph summary (or why there is none).

    Parameters
    ----------
    docs
        The campaign's references (structure id, functional, energy, atoms, code).
    """
    pairs = _gga_r2scan_pairs(docs)
    if len(pairs) < 3:
        return CrossFunctional(
            f"{len(pairs)} structures have both GGA and r2SCAN references: too few."
        )
    comps, e_gga, e_r2 = [], [], []
    for sid, v in sorted(pairs.items()):
        reduced = Composition(sid.rsplit("-", 1)[0])
        comps.append(reduced * (v["GGA"]["n_atoms"] / reduced.num_atoms))
        e_gga.append(v["GGA"]["energy"])
        e_r2.append(v["r2SCAN"]["energy"])
    codes = sorted({v[k]["code"] for v in pairs.values() for k in v})
    try:
        s = cross_functional_summary(comps, e_gga, e_r2)
    except UnderdeterminedFitError as exc:
        return CrossFunctional(f"GGA vs r2SCAN: {exc}.")
    n = np.array([c.num_atoms for c in comps])
    gga, r2 = np.array(e_gga) / n, np.array(e_r2) / n
    ref_gga = AtomRef(s.atomref_gga, 0.0, s.n_fit).referenced(comps, e_gga) / n
    ref_r2 = AtomRef(s.atomref_r2scan, 0.0, s.n_fit).referenced(comps, e_r2) / n
    fig = cross_functional_figure(gga, r2, ref_gga, ref_r2)
    text = (
        f"{len(pairs)} structures ({', '.join(codes)}). Per-atom shift r2SCAN - GGA: "
        f"{s.shift_mean:.3f} ± {s.shift_std:.3f} eV/atom. Pearson of total energies "
        f"{s.total.pearson:.3f}, of energies relative to elemental references "
        f"{s.referenced.pearson:.3f}. MAE of r2SCAN predicted from GGA: raw "
        f"{s.mae_raw:.3f}, constant shift {s.mae_constant_shift:.3f}, per-element "
        f"re-referencing {s.mae_rereferenced:.3f} eV/atom (in-sample). Shift table (eV/atom): "
        + ", ".join(f"{el} {v:+.3f}" for el, v in s.shift_table.items())
    )
    return CrossFunctional(text, Figure("GGA vs r2SCAN", figure_png(fig)))


def _corrections(inputs: ReportInputs) -> Corrections:
    """The fine-tunes (columns as shown) and scale fits, where there are any."""
    tuned, fits = inputs.finetunes, inputs.scale_fits
    hidden = ["functional", "n_test", "notes"]
    shown = tuned.drop(columns=hidden, errors="ignore").rename(columns=FINETUNE_SHOWN)
    return Corrections(
        finetunes=None if tuned.empty else Table.from_frame(shown),
        warnings=list(inputs.warnings),
        scale_fits=None if fits.empty else Table.from_frame(fits),
    )


def assemble_report(
    inputs: ReportInputs, csv_names: list[str], now: datetime | None = None
) -> ReportData:
    """Everything the page of ``inputs.campaign`` shows.

    Parameters
    ----------
    inputs
        What :func:`pesbench.report.queries.load_report_inputs` read.
    csv_names
        The CSV files written next to the page (named at its top).
    now
        When the report is written; default now.
    """
    material = inputs.material
    notes = material.get("notes", pd.Series(dtype=str)).dropna()
    return ReportData(
        campaign=inputs.campaign,
        version=__version__,
        stamp=(now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        csv_names=csv_names,
        partial=inputs.unfinished,
        planned_at=f"{inputs.planned_at:%Y-%m-%d %H:%M}" if inputs.planned_at else "",
        comparisons=(
            comparisons(material, inputs.structure, inputs.forces) if len(material) else None
        ),
        properties=properties_data(inputs.relaxed),
        cross_functional=cross_functional(inputs.gga_r2scan),
        routes=r2scan_routes(material, inputs.finetunes),
        corrections=_corrections(inputs),
        notes=sorted({n for n in notes if n}),
    )
