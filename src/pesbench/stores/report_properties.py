"""The report's "Properties (relaxed)" section, and ``properties.csv``.

Reads the ``properties`` and ``property_sets`` of a campaign (by campaign membership),
pairs every model value with the DFT value of its training functional
(:mod:`pesbench.analysis.property_errors`) and renders: a table per category, a parity
figure, the fraction each model underpredicts (the paper's signature of softening), the
phonon frequency MAE and slope over the mesh, and what could not be computed, with why.
Also the two HTML helpers every section of the report uses.
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pesbench.analysis.phonons import phonon_dos_figure
from pesbench.analysis.plots import figure_png
from pesbench.analysis.property_errors import (
    PHONON_FREQUENCIES,
    ROW_COLUMNS,
    PropertyPair,
    PropertyValue,
    pair_properties,
    property_error_rows,
    property_error_summary,
    property_parity_figure,
    underpredicted_by_model,
)
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.properties import RELAXATIONS_COLLECTION, PropertySetStore, PropertyStore
from pesbench.stores.query import property_criteria
from pesbench.stores.references import in_campaign

__all__ = [
    "RELAXED_STATEMENT",
    "RelaxedProperties",
    "html_image",
    "html_table",
    "load_relaxed_properties",
    "properties_section",
]

RELAXED_STATEMENT = (
    "Every value is computed by each side from its own relaxed geometries (each side "
    "relaxes the given bulk, rebuilds the category from it and relaxes every term with "
    "the same constraints), and energies are referenced to each side's own relaxed bulk, "
    "so the energy conventions of different codes cancel."
)
"""The one-line statement the section opens with."""

_PAIRING = (
    "A model is compared with DFT at its training functional (GGA models with PBE and "
    "PBE+U, r2SCAN models with r2SCAN). Error = model − DFT; relative error = error / "
    "|DFT|; underpredicted: model < DFT (phonons: slope of model against DFT frequencies "
    "over the mesh < 1)."
)

_CATEGORY_COLUMNS = [
    "material", "name", "label", "unit", "model", "functional", "dft_value", "model_value",
    "error", "relative_error", "n",
]  # fmt: skip
_SUMMARY_SHOWN = [
    "category", "name", "unit", "model", "dft_sides", "n", "mae", "mean_relative_error",
    "slope", "fraction_underpredicted",
]  # fmt: skip
_PHONON_COLUMNS = [
    "material", "label", "model", "functional", "n", "dft_value", "model_value",
    "frequency_mae", "frequency_slope",
]  # fmt: skip


def html_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """``frame``'s ``columns`` (those it has) as a scrollable HTML table, 4 digits."""
    cols = [c for c in columns if c in frame.columns]
    table = frame[cols].to_html(
        index=False, float_format=lambda v: f"{v:.4g}", na_rep="–", border=0, classes="t"
    )
    return f'<div style="overflow-x:auto">{table}</div>'


def html_image(png: bytes, alt: str) -> str:
    """PNG bytes as an embedded ``<img>``."""
    data = base64.b64encode(png).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


@dataclass
class RelaxedProperties:
    """A campaign's relaxed properties: the pairs, their rows and what was not computed."""

    pairs: list[PropertyPair] = field(default_factory=list)
    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ROW_COLUMNS))
    n_sets: int = 0
    unpaired: list[PropertyValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether the campaign asked for no property at all."""
        return self.n_sets == 0 and not self.pairs

    @property
    def summary(self) -> pd.DataFrame:
        """Per (category, property, model): n, MAE, relative error, fraction underpredicted."""
        return property_error_summary(self.rows)


def _set_criteria(campaign: str, settings: PesbenchSettings | None) -> dict[str, Any]:
    """The calculations of ``campaign``: those whose values or relaxations are members.

    A calculation whose every value failed is found by its relaxations (its bulk's at
    least), so its notes say why.
    """
    with open_collection(RELAXATIONS_COLLECTION, settings) as relaxations:
        ids = relaxations.distinct("relaxation_id", in_campaign(campaign))
    names = {"$in": [campaign]}
    return {
        "$or": [
            *in_campaign(campaign)["$or"],
            {"properties.campaign": names},
            {"properties.campaigns": names},
            {"relaxation_ids": {"$in": ids}},
        ]
    }


def _set_notes(campaign: str, settings: PesbenchSettings | None) -> tuple[int, list[str]]:
    """How many calculations the campaign has, and each one's notes, prefixed by who."""
    with PropertySetStore(settings) as sets:
        raw: list[dict[str, Any]] = list(
            sets.store.query(
                _set_criteria(campaign, settings),
                properties=["category", "material", "side", "notes"],
            )
        )
    notes: set[str] = set()
    equivalent: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    for d in raw:
        skipped = [n for n in d["notes"] if _EQUIVALENT in n]
        if skipped:  # expected, not a failure: one line per material and count
            equivalent[(d["category"], d["material"], len(skipped))].append(d["side"])
        notes |= {f"{d['category']} {d['material']}, {d['side']}: {n}" for n in d["notes"]}
        notes -= {f"{d['category']} {d['material']}, {d['side']}: {n}" for n in skipped}
    for (category, material, count), sides in equivalent.items():
        notes.add(
            f"{category} {material}: {count} generated cell(s) skipped as symmetry-equivalent "
            f"to others ({', '.join(sorted(sides))})"
        )
    return len(raw), sorted(notes)


_EQUIVALENT = "skipped, symmetry-equivalent to"
"""How a generator's note says a cell duplicates another (no calculation is missing)."""


def load_relaxed_properties(
    campaign: str, settings: PesbenchSettings | None = None
) -> RelaxedProperties:
    """The relaxed properties of ``campaign``'s members, paired, with their notes."""
    with PropertyStore(settings) as store:
        docs = list(store.query(property_criteria(campaign=campaign)))
    dft = [d for d in docs if d.side_kind == "dft"]
    models = [d for d in docs if d.side_kind == "model"]
    pairs = pair_properties(dft, models)
    paired = {(p.model.instance, p.model.side) for p in pairs}
    unpaired = [
        v for v in map(PropertyValue.of, models) if v.usable and (v.instance, v.side) not in paired
    ]
    n_sets, notes = _set_notes(campaign, settings)
    return RelaxedProperties(
        pairs=pairs,
        rows=property_error_rows(pairs),
        n_sets=n_sets,
        unpaired=sorted(set(unpaired), key=lambda v: (*map(str, v.instance), v.side)),
        notes=notes,
    )


def _tables(relaxed: RelaxedProperties) -> list[str]:
    """Summary, fraction underpredicted per model, a table per category, phonons."""
    rows = relaxed.rows
    parts = [
        "<h3>Per category, property and model</h3>",
        html_table(relaxed.summary, _SUMMARY_SHOWN),
        "<h3>Fraction underpredicted per model</h3>",
        '<p class="note">Share of the model\'s property values below DFT: the softening '
        "paper's signature of a softened PES.</p>",
        html_table(underpredicted_by_model(rows), ["model", "n", "n_underpredicted",
                                                   "fraction_underpredicted"]),
    ]  # fmt: skip
    for category, group in rows.groupby("category", sort=True):
        parts += [f"<h3>{html.escape(str(category))}</h3>", html_table(group, _CATEGORY_COLUMNS)]
    phonons = rows[rows["name"] == PHONON_FREQUENCIES]
    if not phonons.empty:
        parts += [
            "<h3>Phonon frequencies over the mesh</h3>",
            '<p class="note">MAE (THz) and through-origin slope of model against DFT '
            "frequencies over the whole q-mesh (a PES softened by s has slope √s); "
            "dft_value and model_value are the largest frequencies.</p>",
            html_table(phonons, _PHONON_COLUMNS),
        ]
    return parts


def _phonon_dos(relaxed: RelaxedProperties) -> list[str]:
    """The phonon DOS of each phonon pair (DFT and model, over the whole mesh)."""
    curves = [
        (f"{p.dft.material} {p.dft.label}", str(p.model.side), p.dft.values, p.model.values)
        for p in relaxed.pairs
        if p.dft.name == PHONON_FREQUENCIES and p.dft.values and p.model.values
    ]
    if not curves:
        return []
    fig = phonon_dos_figure(curves)
    return [
        "<h3>Phonon density of states</h3>",
        '<p class="note">Gaussian-smeared (0.1 THz) density of states of every mode of '
        "the q-mesh, each side at its own relaxed geometry.</p>",
        html_image(figure_png(fig), "phonon density of states"),
    ]


def properties_section(relaxed: RelaxedProperties, out_dir: Path) -> tuple[list[str], Path, bool]:
    """The section's HTML parts; writes ``out_dir/properties.csv`` (one row per pair).

    Returns
    -------
    tuple
        (HTML parts, the CSV written, whether a parity figure was drawn).
    """
    csv = out_dir / "properties.csv"
    relaxed.rows.to_csv(csv, index=False)
    parts = [
        "<h2>Properties (relaxed)</h2>",
        f'<p class="note">{html.escape(RELAXED_STATEMENT)} {html.escape(_PAIRING)}</p>',
    ]
    drawn = False
    if relaxed.pairs:
        parts += _tables(relaxed)
        fig = property_parity_figure(relaxed.pairs)
        parts += ["<h3>Property parity</h3>", html_image(figure_png(fig), "property parity")]
        parts += _phonon_dos(relaxed)
        drawn = True
    elif relaxed.empty:
        parts.append('<p class="note">No relaxed property was computed in this campaign.</p>')
    else:
        parts.append('<p class="note">No model value has a DFT value to compare with.</p>')
    if relaxed.unpaired:
        parts.append(
            f'<p class="note">{len(relaxed.unpaired)} model values have no DFT value of their '
            "instance at their training functional: "
            + html.escape(", ".join(f"{v.side} {v.material} {v.name} {v.label}"
                                    for v in relaxed.unpaired))
            + ".</p>"
        )  # fmt: skip
    if relaxed.notes:
        parts.append("<h3>Notes of the calculations: what was not computed, and why</h3><ul>")
        parts += [f"<li>{html.escape(n)}</li>" for n in relaxed.notes]
        parts.append("</ul>")
    return parts, csv, drawn
