"""``ReferenceDoc``: one DFT single point (energy, forces, stress) of one structure."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pesbench.schemas.base import Functional, PesResultDoc, StructureField
from pesbench.schemas.ids import site_order as order_hash

__all__ = ["ImportProvenance", "ReferenceDoc", "hash_inputs", "reference_id"]


def hash_inputs(settings: dict[str, Any]) -> str:
    """Return the sha256 (first 16 hex digits) of the physically relevant input settings.

    Keys are sorted and floats written with ``repr``, so equal settings in any order give
    the same hash. Put in ``settings`` only what changes the physics (functional, cutoff,
    k-point density, smearing, spin, +U values, pseudopotentials, precision), never paths,
    core counts or parallelisation.
    """
    payload = json.dumps(settings, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def reference_id(structure_id: str, functional: str, input_hash: str) -> str:
    """The dedupe key of a reference: one per (structure, functional, inputs)."""
    return f"{structure_id}:{functional}:{input_hash}"


class ImportProvenance(BaseModel):
    """Where an imported reference came from (``pesbench import``): dataset, file, frame."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name given at import.")
    dataset_version: str = Field("", description="Dataset version given at import ('' if none).")
    source_file: str = Field(description="File the frame was read from (absolute path).")
    source_format: str = Field(description="Reader: extxyz, ase, asedb, vasp, mptrj, records.")
    frame_index: int = Field(ge=0, description="0-based index of the frame in the file.")
    frame_id: str | None = Field(None, description="The file's own id of the frame, if any.")
    material_id: str | None = Field(
        None, description="The file's id of the material (mp-id ...); compared per material."
    )
    run_id: str | None = Field(
        None, description="The run (relaxation, MD) the frame belongs to; frames share it."
    )
    ionic_step: int | None = Field(None, ge=0, description="0-based ionic step within the run.")
    category: str = Field("imported", description="Category the comparisons group it under.")
    import_id: str | None = Field(
        default=None,
        description="The import that stored it (its progress record in ``imports``): "
        "``--replace`` deletes by it. None: stored before it was recorded.",
    )
    source_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Physically relevant settings the file states (VASP: cutoff, k-points...).",
    )


class ReferenceDoc(PesResultDoc):
    """A DFT reference: energy, forces, stress and provenance of one single point.

    Two references are comparable only when ``functional`` and ``input_hash`` agree.
    Absolute energies of different codes are not comparable (GPAW's are relative to its
    reference atoms, VASP's to its PAW atoms); forces, stresses and energy differences are.
    """

    reference_id: str = Field(
        "", description="structure_id:functional:input_hash (set automatically)."
    )
    structure: StructureField | None = Field(None, description="The structure computed.")
    functional: Functional = Field(description="Level of theory (schemas.base.Functional).")
    code: str = Field(description="DFT code: 'vasp' or 'gpaw'.")
    code_version: str | None = Field(None, description="Version of the DFT code.")
    input_hash: str = Field(description="hash_inputs() of input_settings.")
    input_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Physically relevant settings: cutoff (eV), k-points, xc, U, spin, PSPs.",
    )
    converged_electronic: bool | None = Field(None, description="SCF converged.")
    converged_ionic: bool | None = Field(
        None, description="Ionic loop converged (None for a single point)."
    )
    wall_time_s: float | None = Field(None, description="Wall time of the run, s.")
    corrections: list[dict[str, Any]] = Field(
        default_factory=list, description="Corrections custodian applied (errors and actions)."
    )
    run_dir: str | None = Field(None, description="Folder the run wrote (host:path).")
    parent_reference_id: str | None = Field(
        None, description="Reference whose wavefunction this run started from (r2SCAN from PBE)."
    )
    provenance: ImportProvenance | None = Field(
        None, description="Imported references: dataset, file and frame (None if computed)."
    )

    @model_validator(mode="after")
    def _set_reference_id(self) -> ReferenceDoc:
        expected = reference_id(self.structure_id, self.functional, self.input_hash)
        if self.reference_id != expected:
            object.__setattr__(self, "reference_id", expected)
        if self.site_order is None and self.structure is not None:
            object.__setattr__(self, "site_order", order_hash(self.structure))
        return self
