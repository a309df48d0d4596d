"""``ReferenceDoc``: one DFT single point (energy, forces, stress) of one structure."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import Field, model_validator

from pesbench.schemas.base import Functional, PesResultDoc, StructureField

__all__ = ["ReferenceDoc", "hash_inputs", "reference_id"]


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

    @model_validator(mode="after")
    def _set_reference_id(self) -> ReferenceDoc:
        expected = reference_id(self.structure_id, self.functional, self.input_hash)
        if self.reference_id != expected:
            object.__setattr__(self, "reference_id", expected)
        return self
