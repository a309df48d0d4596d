"""A campaign's relaxed properties, read from MongoDB and paired model against DFT.

Reads the ``properties`` and ``property_sets`` of a campaign (by campaign membership) and
pairs every model value with the DFT value of its training functional
(:mod:`pesbench.analysis.property_errors`); also each calculation's notes (what could not
be computed, and why). The report's "Properties (relaxed)" section is drawn from this.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pesbench.analysis.property_errors import (
    ROW_COLUMNS,
    PropertyPair,
    PropertyValue,
    pair_properties,
    property_error_rows,
    property_error_summary,
)
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.properties import RELAXATIONS_COLLECTION, PropertySetStore, PropertyStore
from pesbench.stores.query import property_criteria
from pesbench.stores.references import in_campaign

__all__ = ["RelaxedProperties", "load_relaxed_properties"]


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
