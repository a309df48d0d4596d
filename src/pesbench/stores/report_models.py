"""The report's comparison of models, as HTML parts for ``stores.report.write_report``.

Energy errors and how they are referenced, each model's energy convention, the softening of
the models side by side, and the routes from GGA to r2SCAN (transfer learning,
multi-fidelity, a fine-tune on its held-out materials).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from pesbench.analysis.conventions import CONVENTION_TEXT
from pesbench.stores.report_properties import html_table as _table

__all__ = [
    "REFERENCING_LABELS",
    "conventions_note",
    "energy_summary",
    "held_out_routes",
    "r2scan_route",
    "r2scan_routes",
    "softening_by_model",
]

REFERENCING_LABELS = {
    "relaxed_bulk": "each side's own relaxed bulk",
    "mean_offset": "mean offset removed",
}
"""How an energy error is referenced (``energy_referencing``), as the report says it."""


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


def conventions_note(structure: pd.DataFrame) -> list[str]:
    """Which energies each model predicts, and what was done where they meet DFT."""
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
        items.append(f"<li><b>{html.escape(str(model_id))}</b>: {html.escape(text)}</li>")
    return [
        '<p class="note">Energy conventions. DFT energies are raw total energies; every '
        "model's energies are compared on that footing: a model that learned MP2020-corrected "
        "energies (CHGNet on MPtrj) has the MP2020 correction of each structure and of its "
        "relaxed bulk removed (pymatgen's MaterialsProject2020Compatibility, MP's U set), a "
        "raw model is compared as predicted. Forces and stress are unaffected.</p>",
        f'<ul class="note">{"".join(items)}</ul>',
    ]


def r2scan_route(model_id: str, tuned: set[str]) -> str:
    """How a model reached r2SCAN from GGA-trained weights, in words."""
    if model_id in tuned:
        return "fine-tuned (AtomRef refitted)"
    if model_id.startswith("7net-mf"):
        return "multi-fidelity"
    if model_id == "chgnet-r2scan":
        return "transfer learning"
    return "other"


def r2scan_routes(material: pd.DataFrame, tuned: pd.DataFrame) -> list[str]:
    """The r2SCAN-trained models on the same r2SCAN references, one row per model."""
    if material.empty or "functional" not in material:
        return []
    native = material[(material["functional"] == "r2SCAN") & (material["pairing"] == "native")]
    if native.empty:
        return []
    tuned_ids = set(tuned["model_id"]) if not tuned.empty else set()
    shown = energy_summary(native)
    rows = []
    for model_id, group in shown.groupby("model_id"):
        n = group["n_structures"].astype(float)
        rows.append(
            {
                "model_id": model_id,
                "route from GGA": r2scan_route(str(model_id), tuned_ids),
                "materials": ", ".join(sorted(group["formula"].unique())),
                "n_structures": int(n.sum()),
                "E MAE (eV/atom)": float((group["E MAE (eV/atom)"] * n).sum() / n.sum()),
                "E referenced to": ", ".join(sorted(group["E referenced to"].dropna().unique())),
                "force MAE (eV/Å)": float((group["force_mae"] * n).sum() / n.sum()),
                "softening scale (median)": float(group["softening_scale"].median()),
            }
        )
    table = pd.DataFrame(rows)
    return [
        "<h3>Routes from GGA to r2SCAN, on the same r2SCAN references</h3>",
        '<p class="note">Each r2SCAN-trained model against the campaign\'s r2SCAN references '
        "(means over materials and categories weighted by structures; softening: median of "
        "the per-material scales). Transfer learning: CHGNet fine-tuned on MP r2SCAN; "
        "multi-fidelity: one SevenNet trained on GGA and r2SCAN data with a head per "
        "functional; fine-tuned: pesbench's own fine-tune of CHGNet with its AtomRef "
        "refitted (pesbench finetune), when one predicted in the campaign.</p>",
        _table(table, list(table.columns)),
        *held_out_routes(native, tuned),
    ]


def held_out_routes(native: pd.DataFrame, tuned: pd.DataFrame) -> list[str]:
    """Each r2SCAN fine-tune beside the other routes, on its held-out (test) materials.

    A fine-tune is measured on the materials it did not train on; the other r2SCAN models
    on the same materials' references. Force MAE only: the fine-tune learned this code's
    energy zero (its AtomRef refitted), the others are referenced to their relaxed bulks.
    """
    if tuned.empty or "functional" not in tuned:
        return []
    parts = []
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
        for model_id, group in native[native["formula"].isin(test)].groupby("model_id"):
            if model_id == fine["model_id"]:
                continue
            n = group["n_structures"].astype(float)
            rows.append(
                {
                    "model_id": model_id,
                    "route from GGA": r2scan_route(str(model_id), set()),
                    "n_structures": int(n.sum()),
                    "force MAE (eV/Å)": float((group["force_mae"] * n).sum() / n.sum()),
                }
            )
        table = pd.DataFrame(rows)
        parts += [
            f"<h3>On the held-out materials of {html.escape(str(fine['model_id']))}: "
            f"{html.escape(', '.join(test))}</h3>",
            '<p class="note">The fine-tune trained on other materials (train: '
            f"{html.escape(str(fine.get('train') or ''))}); every route on these "
            "materials' r2SCAN references. Force errors only: the fine-tune learned this "
            "code's energy zero, while the other models' energy errors are referenced as "
            "the table above says.</p>",
            _table(table, list(table.columns)),
        ]
    return parts


def softening_by_model(material: pd.DataFrame) -> list[str]:
    """The softening scale per material and category, the models side by side."""
    table = material.pivot_table(
        index=["functional", "formula", "category"],
        columns="model_id",
        values="softening_scale",
        aggfunc="first",
    ).reset_index()
    table.columns = [str(c) for c in table.columns]
    return [
        "<h2>Softening scale across models</h2>",
        '<p class="note">Force softening scale s (the through-origin slope of model vs DFT '
        "force components; s &lt; 1: the model's PES is softer) of each model against the "
        "references of the functional it was trained on, per material and category.</p>",
        _table(table, list(table.columns)),
    ]
