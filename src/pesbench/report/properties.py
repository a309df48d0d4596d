"""The report's "Properties (relaxed)" section, as data.

From a campaign's :class:`~pesbench.report.relaxed.RelaxedProperties`: a table per
category, a parity figure, the fraction each model underpredicts (the paper's signature of
softening), the phonon frequency MAE and slope over the mesh, and what could not be
computed, with why. Pure: no database, no HTML.
"""

from __future__ import annotations

from pesbench.analysis.phonons import phonon_dos_figure
from pesbench.analysis.plots import figure_png
from pesbench.analysis.property_errors import (
    PHONON_FREQUENCIES,
    property_parity_figure,
    underpredicted_by_model,
)
from pesbench.report.data import Figure, PropertiesData, Table
from pesbench.report.relaxed import RelaxedProperties

__all__ = ["PAIRING", "RELAXED_STATEMENT", "properties_data"]

RELAXED_STATEMENT = (
    "Every value is computed by each side from its own relaxed geometries (each side "
    "relaxes the given bulk, rebuilds the category from it and relaxes every term with "
    "the same constraints), and energies are referenced to each side's own relaxed bulk, "
    "so the energy conventions of different codes cancel."
)
"""The one-line statement the section opens with."""

PAIRING = (
    "A model is compared with DFT at its training functional (GGA models with PBE and "
    "PBE+U, r2SCAN models with r2SCAN). Error = model − DFT; relative error = error / "
    "|DFT|; underpredicted: model < DFT (phonons: slope of model against DFT frequencies "
    "over the mesh < 1)."
)
"""How model values are paired with DFT values, and the errors' signs."""

_CATEGORY_COLUMNS = [
    "material", "name", "label", "unit", "model", "functional", "dft_value", "model_value",
    "error", "relative_error", "n",
]  # fmt: skip
_SUMMARY_SHOWN = [
    "category", "name", "unit", "model", "dft_sides", "n", "mae", "mean_relative_error",
    "slope", "fraction_underpredicted",
]  # fmt: skip
_UNDERPREDICTED = ["model", "n", "n_underpredicted", "fraction_underpredicted"]
_PHONON_COLUMNS = [
    "material", "label", "model", "functional", "n", "dft_value", "model_value",
    "frequency_mae", "frequency_slope",
]  # fmt: skip


def _phonon_dos(relaxed: RelaxedProperties) -> Figure | None:
    """The phonon DOS of each phonon pair (DFT and model, over the whole mesh)."""
    curves = [
        (f"{p.dft.material} {p.dft.label}", str(p.model.side), p.dft.values, p.model.values)
        for p in relaxed.pairs
        if p.dft.name == PHONON_FREQUENCIES and p.dft.values and p.model.values
    ]
    if not curves:
        return None
    return Figure("phonon density of states", figure_png(phonon_dos_figure(curves)))


def properties_data(relaxed: RelaxedProperties) -> PropertiesData:
    """The section of ``relaxed``: tables and figures where there are pairs, and notes.

    Parameters
    ----------
    relaxed
        The campaign's relaxed properties
        (:func:`pesbench.report.relaxed.load_relaxed_properties`).
    """
    section = PropertiesData(
        statement=RELAXED_STATEMENT,
        pairing=PAIRING,
        computed=not relaxed.empty,
        unpaired=[f"{v.side} {v.material} {v.name} {v.label}" for v in relaxed.unpaired],
        notes=list(relaxed.notes),
    )
    if not relaxed.pairs:
        return section
    rows = relaxed.rows
    section.summary = Table.from_frame(relaxed.summary, _SUMMARY_SHOWN)
    section.underpredicted = Table.from_frame(underpredicted_by_model(rows), _UNDERPREDICTED)
    section.categories = [
        (str(category), Table.from_frame(group, _CATEGORY_COLUMNS))
        for category, group in rows.groupby("category", sort=True)
    ]
    phonons = rows[rows["name"] == PHONON_FREQUENCIES]
    section.phonons = None if phonons.empty else Table.from_frame(phonons, _PHONON_COLUMNS)
    section.parity = Figure("property parity", figure_png(property_parity_figure(relaxed.pairs)))
    section.dos = _phonon_dos(relaxed)
    return section
