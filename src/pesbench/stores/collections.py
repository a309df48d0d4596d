"""Every collection of pesbench's database, named once, with its key.

The names here are the only place a collection's name is spelled; every store, query and
builder takes them from this module. DESIGN.md's data model describes what each holds.
"""

from __future__ import annotations

__all__ = [
    "CAMPAIGNS",
    "CLAIMS",
    "COMPARISONS",
    "CORRECTIONS",
    "IMPORTS",
    "JOBS",
    "KEYS",
    "PREDICTIONS",
    "PROPERTIES",
    "PROPERTY_SETS",
    "REFERENCES",
    "RELAXATIONS",
    "STRUCTURES",
]

STRUCTURES = "structures"
"""Generated (and imported) structures, one per ``structure_id``."""
REFERENCES = "references"
"""DFT references, one per ``reference_id``."""
PREDICTIONS = "predictions"
"""uMLIP predictions, one per ``prediction_id``."""
COMPARISONS = "comparisons"
"""What the builders derive: structure- and material-level comparisons."""
RELAXATIONS = "relaxations"
"""Relaxations of each side (DFT or a model), one per ``relaxation_id``."""
PROPERTIES = "properties"
"""Property values of each side."""
PROPERTY_SETS = "property_sets"
"""Which property values were computed together (one per side and material)."""
CAMPAIGNS = "campaigns"
"""One run record per campaign."""
CLAIMS = "claims"
"""Which worker is computing which result (compute-once claims)."""
CORRECTIONS = "corrections"
"""One-point corrections fitted per model and functional."""
IMPORTS = "imports"
"""Progress and options of each import."""
JOBS = "jobs"
"""jobflow's job outputs (the JobStore's ``docs_store``)."""

KEYS = {
    STRUCTURES: "structure_id",
    REFERENCES: "reference_id",
    PREDICTIONS: "prediction_id",
    COMPARISONS: "comparison_id",
    RELAXATIONS: "relaxation_id",
}
"""The key of each clean collection: unique, and what its documents are upserted by."""
