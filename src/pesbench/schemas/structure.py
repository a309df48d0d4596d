"""Documents of generated structures: one :class:`StructureDoc` per structure.

Each document carries what the analysis of its category needs later, in ``details``, a
model chosen by the category (``details.kind``). Lengths are in Å, areas in Å², fractional
coordinates are relative to the document's own lattice unless a field says otherwise.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymatgen.core import Structure

from pesbench.schemas.base import PesbenchDoc
from pesbench.schemas.details import (
    DefectDetails,
    HighEnergyDetails,
    Matrix3,
    MigrationDetails,
    PhononDetails,
    SolidSolutionDetails,
    StructureDetails,
    StructureField,
    SurfaceDetails,
    _drop_monty_keys,
)
from pesbench.schemas.ids import structure_id

__all__ = [
    "CATEGORIES",
    "Category",
    "DefectDetails",
    "GenerationDoc",
    "HighEnergyDetails",
    "Matrix3",
    "MigrationDetails",
    "PhononDetails",
    "Role",
    "SkippedStructure",
    "SolidSolutionDetails",
    "StructureDetails",
    "StructureDoc",
    "StructureField",
    "SurfaceDetails",
]

Category = Literal["surface", "defect", "solid_solution", "migration", "phonon", "high_energy"]
"""The six out-of-distribution categories."""

CATEGORIES: tuple[str, ...] = (
    "surface",
    "defect",
    "solid_solution",
    "migration",
    "phonon",
    "high_energy",
)


Role = Literal[
    "bulk_reference",
    "slab",
    "pristine",
    "vacancy",
    "interstitial",
    "antisite",
    "ordering",
    "end_member",
    "endpoint",
    "image",
    "perfect_supercell",
    "displaced",
    "rattled",
    "strained",
    "md_snapshot",
]
"""What a structure is within its category's set (a slab, its bulk reference, ...)."""


class SkippedStructure(BaseModel):
    """A structure the generator considered and left out, with why (never silently)."""

    model_config = ConfigDict(extra="forbid")

    _monty = model_validator(mode="before")(_drop_monty_keys)

    label: str = Field(description="What was skipped, e.g. 'slab (1, 1, 1) termination 0'.")
    reason: str = Field(description="Why, e.g. 'polar: dipole 0.3 e/Å'.")


class StructureDoc(PesbenchDoc):
    """One generated structure: its content id, how it was made, what its analysis needs."""

    _monty = model_validator(mode="before")(_drop_monty_keys)

    structure_id: str = Field(
        description="Content hash of the structure (pesbench.schemas.ids.structure_id)."
    )
    structure: StructureField = Field(description="The structure (pymatgen, Å).")
    formula_reduced: str = Field(description="Reduced formula of the structure.")
    nsites: int = Field(description="Number of atoms.")
    category: Category = Field(description="Out-of-distribution category.")
    role: Role = Field(description="What the structure is within its category's set.")
    parent_id: str = Field(description="structure_id of the bulk it was generated from.")
    parent_formula: str = Field(description="Reduced formula of that bulk.")
    source: str | None = Field(default=None, description="File the bulk was read from, if any.")
    generator: str = Field(description="Dotted name of the generating function.")
    parameters: dict[str, Any] = Field(
        description="All generator parameters, defaults included (units in their docs)."
    )
    seed: int | None = Field(
        default=None, description="Random seed of the generator (None: the category uses none)."
    )
    details: StructureDetails = Field(description="Category-specific data for the analysis.")
    tags: list[str] = Field(default_factory=list, description="Free labels.")

    @classmethod
    def from_structure(
        cls,
        structure: Structure,
        *,
        category: str,
        role: str,
        parent: Structure,
        generator: str,
        parameters: dict[str, Any],
        details: BaseModel,
        seed: int | None = None,
        source: str | None = None,
        tags: list[str] | None = None,
        parent_id: str | None = None,
    ) -> StructureDoc:
        """Build the document of ``structure``, generated from the bulk ``parent``.

        ``structure_id``, formula and site count are derived here, never passed in;
        ``parent_id``, ``structure_id(parent)`` when the caller has it already (a
        generation's many documents share one bulk), is computed here when not given.
        """
        sid, parent_id = structure_id(structure), parent_id or structure_id(parent)
        return cls(
            structure_id=sid,
            structure=structure,
            formula_reduced=_formula_of(sid),
            nsites=len(structure),
            category=category,  # type: ignore[arg-type]
            role=role,  # type: ignore[arg-type]
            parent_id=parent_id,
            parent_formula=_formula_of(parent_id),
            source=source,
            generator=generator,
            parameters=parameters,
            seed=seed,
            details=details,  # type: ignore[arg-type]
            tags=list(tags or []),
        )


def _formula_of(sid: str) -> str:
    """The reduced formula a ``structure_id`` starts with (``"<formula>-<hex digest>"``)."""
    return sid.rsplit("-", 1)[0]


def _with_structure_ids(value: Any) -> Any:
    """The serialised form without its monty keys, ``structure_ids`` taken from its structures.

    A document with structures has their ids (given ones must agree); one without keeps the
    ids it was given (its structures are in the database, see ``GenerateMaker``).
    """
    value = _drop_monty_keys(value)
    if isinstance(value, dict) and value.get("structures"):
        ids = [
            s.structure_id if isinstance(s, StructureDoc) else s.get("structure_id")
            for s in value["structures"]
        ]
        given = value.get("structure_ids")
        if given and list(given) != ids:
            raise ValueError("structure_ids disagree with the structures' own ids")
        value = {**value, "structure_ids": ids}
    return value


class GenerationDoc(PesbenchDoc):
    """What one generation (one bulk, one category) returns: its documents and its skips.

    ``structure_ids`` is serialised with the documents, so that a job's output in the
    JobStore carries it and a downstream job takes ``generate_job.output.structure_ids``
    (an id list, not the structures). A document may hold the ids alone, its structures
    stored in the ``structures`` collection (``GenerateMaker(keep_structures=False)``).
    """

    _monty = model_validator(mode="before")(_with_structure_ids)

    category: Category = Field(description="Out-of-distribution category.")
    parent_id: str = Field(description="structure_id of the bulk.")
    source: str | None = Field(default=None, description="File the bulk was read from, if any.")
    parameters: dict[str, Any] = Field(description="All generator parameters, defaults included.")
    structures: list[StructureDoc] = Field(
        description="The generated structures; empty where only their ids are kept."
    )
    structure_ids: list[str] = Field(
        default_factory=list,
        description="The structure_id of every generated structure, in order (those of "
        "``structures`` where it holds them).",
    )
    skipped: list[SkippedStructure] = Field(
        default_factory=list, description="Candidates left out, each with its reason."
    )
