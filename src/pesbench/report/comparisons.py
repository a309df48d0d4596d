"""The report's comparison of models with references, as data (frames in, sections out).

Energy errors and how they are referenced, each model's energy convention, the parity and
softening figures, the softening of the models side by side, and the routes from GGA to
r2SCAN (transfer learning, multi-fidelity, a fine-tune on its held-out materials). Pure:
no database (:mod:`pesbench.report.queries` reads), no HTML (:mod:`pesbench.report.render`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pesbench.analysis.conventions import CONVENTION_TEXT
from pesbench.analysis.plots import (
    figure_png,
    one_point_figure,
    parity_figure,
    softening_distribution_figure,
)
from pesbench.analysis.softening import softening_scale
from pesbench.report.data import Comparisons, Convention, Figure, HeldOutRoutes, Routes, Table
from pesbench.report.inputs import ForcePairs

__all__ = [
    "DFT_CODES",
    "REFERENCING_LABELS",
    "SUMMARY_COLUMNS",
    "comparisons",
    "conventions",
    "energy_summary",
    "held_out_routes",
    "r2scan_route",
    "r2scan_routes",
    "softening_by_model",
]

DFT_CODES = frozenset({"vasp", "gpaw"})
"""Codes whose references are DFT; anything else is flagged as a stand-in."""

REFERENCING_LABELS = {
    "relaxed_bulk": "each side's own relaxed bulk",
    "mean_offset": "mean offset removed",
}
"""How an energy error is referenced (``energy_referencing``), as the report says it."""

SUMMARY_COLUMNS = [
    "formula", "category", "model_id", "functional", "pairing", "reference_code",
    "n_structures", "E MAE (eV/atom)", "E referenced to", "force_mae", "softening_scale",
    "slope", "r2", "cmae", "one_point_scale", "one_point_mae_before", "one_point_mae_after",
]  # fmt: skip
"""The columns of the summary table, in order."""


def energy_summary(material: pd.DataFrame) -> pd.DataFrame:
    """``material`` with the energy error shown and how it is referenced.

    ``E MAE (eV/atom)`` is ``energy_referenced_mae`` where ``energy_referencing`` is
    ``"relaxed_bulk"``, else ``energy_mae_centered``; ``E referenced to`` says which
    (:data:`REFERENCING_LABELS`).
    """
    how = material.get("energy_referencing", pd.Series("mean_offset", index=material.index))
    how = how.fillna("mean_offset")
    referenced = material.get("energy_referenced_mae", pd.Series(np.nan, index=material.index))
    shown = referenced.where(how == "relaxed_bulk", material["energy_mae_centered"])
    return material.assign(
        **{"E MAE (eV/atom)": shown, "E referenced to": how.map(REFERENCING_LABELS)}
    )


def conventions(structure: pd.DataFrame) -> list[Convention]:
    """Which energies each model predicts, and what was removed where they meet DFT."""
    if "energy_convention_model" not in structure or structure.empty:
        return []
    items = []
    for model_id, rows in structure.groupby("model_id"):
        convention = str(rows["energy_convention_model"].dropna().iloc[0]) if len(rows) else ""
        text = CONVENTION_TEXT.get(convention, convention)  # type: ignore[call-overload]
        if convention == "mp2020":
            shift = rows["energy_correction_per_atom_model"].dropna()
            if len(shift):
                text += f"; removed: {shift.min():.3f} to {shift.max():.3f} eV/atom"
        items.append(Convention(str(model_id), text))
    return items


def r2scan_route(model_id: str, tuned: set[str]) -> str:
    """How a model reached r2SCAN from GGA-trained weights, in words."""
    if model_id in tuned:
        return "fine-tuned (AtomRef refitted)"
    if model_id.startswith("7net-mf"):
        return "multi-fidelity"
    if model_id == "chgnet-r2scan":
        return "transfer learning"
    return "other"


def _weighted(group: pd.DataFrame, column: str) -> float:
    """The mean of ``column`` over ``group`` weighted by its structures."""
    n = group["n_structures"].astype(float)
    return float((group[column] * n).sum() / n.sum())


def r2scan_routes(material: pd.DataFrame, tuned: pd.DataFrame) -> Routes | None:
    """The r2SCAN-trained models on the same r2SCAN references, one row per model."""
    if material.empty or "functional" not in material:
        return None
    native = material[(material["functional"] == "r2SCAN") & (material["pairing"] == "native")]
    if native.empty:
        return None
    tuned_ids = set(tuned["model_id"]) if not tuned.empty else set()
    rows = [
        {
            "model_id": model_id,
            "route from GGA": r2scan_route(str(model_id), tuned_ids),
            "materials": ", ".join(sorted(group["formula"].unique())),
            "n_structures": int(group["n_structures"].astype(float).sum()),
            "E MAE (eV/atom)": _weighted(group, "E MAE (eV/atom)"),
            "E referenced to": ", ".join(sorted(group["E referenced to"].dropna().unique())),
            "force MAE (eV/Å)": _weighted(group, "force_mae"),
            "softening scale (median)": float(group["softening_scale"].median()),
        }
        for model_id, group in energy_summary(native).groupby("model_id")
    ]
    return Routes(Table.from_frame(pd.DataFrame(rows)), held_out_routes(native, tuned))


def held_out_routes(native: pd.DataFrame, tuned: pd.DataFrame) -> list[HeldOutRoutes]:
    """Each r2SCAN fine-tune beside the other routes, on its held-out (test) materials.

    A fine-tune is measured on the materials it did not train on; the other r2SCAN models
    on the same materials' references. Force MAE only: the fine-tune learned this code's
    energy zero (its AtomRef refitted), the others are referenced to their relaxed bulks.
    """
    if tuned.empty or "functional" not in tuned:
        return []
    found = []
    for _, fine in tuned[tuned["functional"] == "r2SCAN"].iterrows():
        test = [m.strip() for m in str(fine.get("test") or "").split(",") if m.strip()]
        if not test or pd.isna(fine.get("force_mae_after")):
            continue
        rows = [
            {
                "model_id": fine["model_id"],
                "route from GGA": f"fine-tuned from {fine['base_model']} (AtomRef refitted)",
                "n_structures": int(fine.get("n_test") or 0),
                "force MAE (eV/Å)": float(fine["force_mae_after"]),
            }
        ]
        rows += [
            {
                "model_id": model_id,
                "route from GGA": r2scan_route(str(model_id), set()),
                "n_structures": int(group["n_structures"].astype(float).sum()),
                "force MAE (eV/Å)": _weighted(group, "force_mae"),
            }
            for model_id, group in native[native["formula"].isin(test)].groupby("model_id")
            if model_id != fine["model_id"]
        ]
        table = Table.from_frame(pd.DataFrame(rows))
        train = str(fine.get("train") or "")
        found.append(HeldOutRoutes(str(fine["model_id"]), test, train, table))
    return found


def softening_by_model(material: pd.DataFrame) -> Table:
    """The softening scale per material and category, the models side by side."""
    table = material.pivot_table(
        index=["functional", "formula", "category"],
        columns="model_id",
        values="softening_scale",
        aggfunc="first",
    ).reset_index()
    table.columns = [str(c) for c in table.columns]
    return Table.from_frame(table)


def _force_parity(forces: list[ForcePairs]) -> Figure | None:
    """Model against DFT force components per panel, with each panel's softening scale."""
    panels, scales = [], {}
    for pair in forces:
        x, y = pair.reference, pair.model
        try:
            scales[pair.title] = softening_scale(x, y)
        except ValueError:
            scales[pair.title] = float("nan")
        panels.append((pair.title, x, y))
    if not panels:
        return None
    fig = parity_figure(panels, "force component", "eV/Å", scales)
    return Figure("force parity", figure_png(fig))


def _energy_parity(structure: pd.DataFrame) -> Figure | None:
    """Energy parity panels: referenced to the relaxed bulks, else mean offset removed."""
    panels: list[tuple[str, Any, Any]] = []
    for (m, f, c), rows in structure.groupby(["model_id", "functional", "reference_code"]):
        title = f"{m} vs {f} ({c})"
        errors = rows.get("energy_referenced_error")
        if errors is not None and errors.notna().all():
            ref, pred = rows["energy_referenced_reference"], rows["energy_referenced_model"]
            panels.append((f"{title}\n{REFERENCING_LABELS['relaxed_bulk']}", ref, pred))
            continue
        ref, pred = rows["energy_per_atom_reference"], rows["energy_per_atom_model"]
        offset = float((pred - ref).mean())
        panels.append((f"{title}\n{REFERENCING_LABELS['mean_offset']}", ref, pred - offset))
    if not panels:
        return None
    return Figure("energy parity", figure_png(parity_figure(panels, "energy per atom", "eV/atom")))


def _one_point(material: pd.DataFrame) -> Figure | None:
    """The one-point correction of each material, category and model, where computed."""
    if "one_point_mae_before" not in material or material["one_point_mae_before"].isna().all():
        return None
    labelled = material.assign(
        label=material["formula"] + " " + material["category"] + "\n"
        + material["model_id"] + " vs " + material["functional"]
    )  # fmt: skip
    return Figure("one-point", figure_png(one_point_figure(labelled)))


def comparisons(
    material: pd.DataFrame, structure: pd.DataFrame, forces: list[ForcePairs]
) -> Comparisons:
    """The comparison sections: summary, parity, conventions, softening, one-point.

    Parameters
    ----------
    material, structure
        The campaign's comparisons at material and at structure level.
    forces
        The force components behind them (:func:`pesbench.report.queries.load_force_pairs`).
    """
    softened = material["softening_scale"].notna().any()
    return Comparisons(
        summary=Table.from_frame(energy_summary(material), SUMMARY_COLUMNS),
        stand_ins=sorted(set(material["reference_code"]) - DFT_CODES),
        force_parity=_force_parity(forces),
        energy_parity=_energy_parity(structure),
        conventions=conventions(structure),
        softening=softening_by_model(material) if softened else None,
        softening_figure=(
            Figure("softening", figure_png(softening_distribution_figure(material)))
            if softened
            else None
        ),
        one_point=_one_point(material),
    )
