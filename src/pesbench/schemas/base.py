"""What every stored document shares, and the names of the levels of theory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pymatgen.core import Structure

from pesbench import __version__
from pesbench.schemas.structure_dict import structure_from_dict, structure_to_dict

__all__ = [
    "FUNCTIONALS",
    "CampaignMember",
    "Forces",
    "Functional",
    "PesResultDoc",
    "PesbenchDoc",
    "Status",
    "Stress",
    "StructureField",
]

StructureField = Annotated[
    Structure,
    BeforeValidator(lambda v: structure_from_dict(v) if isinstance(v, dict) else v),
    PlainSerializer(structure_to_dict, return_type=dict, when_used="json"),
    WithJsonSchema({"type": "object", "description": "pymatgen Structure.as_dict()"}),
]
"""A pymatgen ``Structure`` field: an object in Python, ``as_dict()`` in JSON and MongoDB.

Written and read through :mod:`pesbench.schemas.structure_dict` (pymatgen's dict, faster)."""

Forces = list[list[float]]
"""Per-atom forces, shape (n_atoms, 3), eV/Å."""

Stress = list[list[float]]
"""Stress tensor, 3x3, GPa, physics sign convention: positive = tensile (ASE's sign;
VASP prints the opposite sign in kBar: ``stress_GPa = -0.1 * stress_kBar``)."""

Status = Literal["success", "failed"]

Functional = Literal["PBE", "PBE+U", "r2SCAN", "SCAN", "PBEsol", "PBEsol+U"]
"""Levels of theory: GGA (PBE), GGA+U (PBE+U, Materials Project U values), meta-GGA (r2SCAN).

SCAN, PBEsol and PBEsol+U are recognised in imported VASP runs; the pipeline computes
the first three.

A uMLIP's training functional uses the same names (MPtrj-trained models: ``"PBE"``, which
covers PBE+U data too; MatPES-r2SCAN or CHGNet-r2scan: ``"r2SCAN"``)."""

FUNCTIONALS: tuple[str, ...] = ("PBE", "PBE+U", "r2SCAN", "SCAN", "PBEsol", "PBEsol+U")


def _now() -> datetime:
    return datetime.now(UTC)


class PesbenchDoc(BaseModel):
    """Base of the stored documents: provenance fields; subclasses add the science."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    pesbench_version: str = Field(
        default=__version__, description="Version of pesbench that built the document."
    )
    created_at: datetime = Field(
        default_factory=_now, description="When the document was built (UTC)."
    )


class CampaignMember(BaseModel):
    """The campaigns a stored result belongs to.

    The one that computed it, and every one whose plan found it stored and reused it.
    """

    campaign: str | None = Field(None, description="Campaign that computed it, if any.")
    campaigns: list[str] = Field(
        default_factory=list,
        validate_default=True,
        description="Every campaign that asked for it: ``campaign`` first, then those that "
        "reused it (added when their plan finds it stored).",
    )
    tags: list[str] = Field(default_factory=list, description="Free labels.")

    @field_validator("campaigns")
    @classmethod
    def _with_own_campaign(cls, value: list[str], info: ValidationInfo) -> list[str]:
        own = info.data.get("campaign")
        return value if own is None or own in value else [own, *value]


class PesResultDoc(PesbenchDoc, CampaignMember):
    """Energy, forces and stress of one structure at one level of theory (DFT or a uMLIP).

    Shared by ``ReferenceDoc`` (DFT) and ``PredictionDoc`` (uMLIP). A failed calculation
    is stored too (``status="failed"`` with ``failure_reason``) and never compared.
    """

    structure_id: str = Field(description="Content hash of the structure (schemas.ids).")
    n_atoms: int = Field(ge=1, description="Number of atoms in the cell.")
    status: Status = Field("success", description="'success', or 'failed' with a reason.")
    failure_reason: str | None = Field(None, description="Why it failed, in one line.")
    energy: float | None = Field(None, description="Total energy of the cell, eV.")
    energy_per_atom: float | None = Field(None, description="Total energy per atom, eV/atom.")
    forces: Forces | None = Field(None, description="Forces, (n_atoms, 3), eV/Å.")
    stress: Stress | None = Field(
        None, description="Stress tensor, 3x3, GPa, positive = tensile (ASE sign)."
    )
    magmoms: list[float] | None = Field(None, description="Magnetic moment per atom, μB.")
    site_order: str | None = Field(
        None,
        description="Hash of the site order the per-atom arrays follow (schemas.ids.site_order); "
        "None: not recorded (documents of one structure_id then assumed to share it).",
    )
