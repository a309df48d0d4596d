"""Properties the softening paper's way: each side relaxes its own structures.

:func:`compute_properties` relaxes a bulk on one side (a DFT engine or a uMLIP), rebuilds
a category's structures from that relaxed bulk, relaxes every term with the same
constraints on every side, and computes the category's properties from that side's terms
only. Sides: :class:`ModelSide`, :class:`EngineSide`.
"""

from __future__ import annotations

from pesbench.properties import defect, high_energy, migration, phonon, solid_solution, surface
from pesbench.properties.base import (
    CALCULATORS,
    PropertyContext,
    calculation_id,
    compute_properties,
)
from pesbench.properties.sides import EngineSide, ModelSide, PredictorCalculator, Side

__all__ = [
    "CALCULATORS",
    "EngineSide",
    "ModelSide",
    "PredictorCalculator",
    "PropertyContext",
    "Side",
    "calculation_id",
    "compute_properties",
    "defect",
    "high_energy",
    "migration",
    "phonon",
    "solid_solution",
    "surface",
]
