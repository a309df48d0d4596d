"""``RelaxationDoc``: one structure relaxed (or evaluated once) by one side, DFT or a uMLIP.

A *side* is what computes: a DFT engine at one functional with its input settings, or one
uMLIP (its id and weights checksum). Each side relaxes its own copy of every structure a
property needs, with the same :class:`RelaxSettings` on every side, and the property is
computed from that side's relaxed geometries only (see :mod:`pesbench.properties`).

The dedupe key ``relaxation_id`` hashes the initial structure, the side and the settings:
the same structure relaxed by the same side with the same settings is stored once and
never relaxed again. Every optimizer frame (energy, forces, stress, cell and positions)
is kept: these near-equilibrium-to-far frames are data for the softening statistics.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pymatgen.core import Structure

from pesbench.schemas.base import (
    CampaignMember,
    Forces,
    PesbenchDoc,
    Status,
    Stress,
    StructureField,
)
from pesbench.schemas.ids import structure_id

__all__ = [
    "Optimizer",
    "RelaxFrames",
    "RelaxSettings",
    "RelaxationDoc",
    "SideKind",
    "relaxation_id",
]

Optimizer = Literal["BFGS", "FIRE", "LBFGS"]
SideKind = Literal["dft", "model"]


class RelaxSettings(BaseModel):
    """The constraints and thresholds of a relaxation, the same on every side.

    ``fmax`` and ``max_steps`` left at None take the ``relax_fmax`` and ``relax_steps``
    settings when the relaxation runs (:meth:`resolved`); the document records the values
    used.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    relax_cell: bool = Field(
        default=False,
        description="Relax the cell too (ASE's FrechetCellFilter), else positions only at "
        "fixed cell.",
    )
    fix_indices: tuple[int, ...] = Field(
        default=(),
        description="Atoms held fixed (ApproxNEB's moving ion, a slab's frozen layers).",
    )
    fmax: float | None = Field(
        default=None, gt=0, description="Force threshold, eV/Å (None: the relax_fmax setting)."
    )
    max_steps: int | None = Field(
        default=None,
        ge=0,
        description="Most optimizer steps (None: the relax_steps setting); 0 is a single "
        "point (a 'static' evaluation: no convergence asked).",
    )
    optimizer: Optimizer = Field(default="BFGS", description="ASE optimizer.")

    @field_validator("fix_indices")
    @classmethod
    def _sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(i < 0 for i in value):
            raise ValueError("atom indices must be >= 0")
        return tuple(sorted(set(value)))

    @classmethod
    def static(cls) -> RelaxSettings:
        """A single point: energy, forces and stress of the structure as it is."""
        return cls(max_steps=0, fmax=1.0)

    @property
    def is_static(self) -> bool:
        """Whether this is a single point (no optimizer step)."""
        return self.max_steps == 0

    def optimizer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`pesbench.relax.relax_atoms` (settings resolved)."""
        if self.fmax is None or self.max_steps is None:
            raise ValueError("resolve fmax and max_steps first (RelaxSettings.resolved)")
        return self.model_dump()

    def resolved(self, fmax: float, max_steps: int) -> RelaxSettings:
        """These settings with the defaults ``fmax`` and ``max_steps`` filled in."""
        return self.model_copy(
            update={
                "fmax": self.fmax if self.fmax is not None else fmax,
                "max_steps": self.max_steps if self.max_steps is not None else max_steps,
            }
        )


def relaxation_id(structure: Structure, side_key: str, settings: RelaxSettings) -> str:
    """Dedupe key: sha256 (24 hex) of the structure, the side and the resolved settings.

    Unlike ``structure_id`` it depends on the order of the sites, which ``fix_indices``
    and the stored frames refer to.
    """
    sites = [
        [site.species_string, [round(float(x) % 1.0, 4) % 1.0 for x in site.frac_coords]]
        for site in structure
    ]
    payload = json.dumps(
        [structure_id(structure), sites, side_key, settings.model_dump(mode="json")],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


class RelaxFrames(BaseModel):
    """Every optimizer frame, in order (the first is the initial structure)."""

    model_config = ConfigDict(extra="forbid")

    energies: list[float] = Field(default_factory=list, description="Total energies, eV.")
    forces: list[Forces] = Field(
        default_factory=list, description="Forces of each frame, (n_atoms, 3), eV/Å."
    )
    stresses: list[Stress] = Field(
        default_factory=list, description="Stress of each frame, 3x3, GPa, positive = tensile."
    )
    cells: list[list[list[float]]] = Field(
        default_factory=list, description="Lattice matrix of each frame (rows), Å."
    )
    positions: list[list[list[float]]] = Field(
        default_factory=list, description="Cartesian positions of each frame, Å."
    )

    def __len__(self) -> int:
        return len(self.energies)


class RelaxationDoc(PesbenchDoc, CampaignMember):
    """One structure relaxed by one side (DFT or a uMLIP); failed relaxations too.

    ``status="failed"`` when the optimizer did not converge within ``max_steps`` (the
    reason gives the force left), or the calculation itself failed. A failed relaxation
    has no property computed from it.
    """

    relaxation_id: str = Field(description="relaxation_id(structure, side_key, settings).")
    structure_id: str = Field(description="Content hash of the initial structure.")
    structure: StructureField = Field(description="The initial structure.")
    final_structure_id: str | None = Field(None, description="Content hash of the final one.")
    final_structure: StructureField | None = Field(None, description="The relaxed structure.")
    parent_id: str | None = Field(
        None, description="structure_id this structure was generated from (its bulk)."
    )
    side: str = Field(description="Who computed: a model id, or 'PBE (gpaw)'-like for DFT.")
    side_kind: SideKind = Field(description="'dft' or 'model'.")
    side_key: str = Field(description="Identity of the side hashed into relaxation_id.")
    functional: str | None = Field(None, description="DFT functional, or the model's training one.")
    settings: RelaxSettings = Field(description="Constraints and thresholds, resolved.")
    input_hash: str | None = Field(None, description="DFT: hash of the engine's input settings.")
    input_settings: dict[str, Any] = Field(
        default_factory=dict, description="DFT: the engine's physically relevant settings."
    )
    status: Status = Field("success", description="'success', or 'failed' with a reason.")
    failure_reason: str | None = Field(None, description="Why it failed, in one line.")
    converged: bool = Field(False, description="fmax reached within max_steps (static: True).")
    n_steps: int = Field(0, ge=0, description="Optimizer steps taken.")
    energy: float | None = Field(
        None, description="Final total energy, eV (see final_single_point)."
    )
    energy_per_atom: float | None = Field(None, description="Final energy per atom, eV/atom.")
    forces: Forces | None = Field(None, description="Final forces, (n_atoms, 3), eV/Å.")
    stress: Stress | None = Field(None, description="Final stress, 3x3, GPa, + = tensile.")
    final_single_point: bool = Field(
        False,
        description="energy, forces and stress are from a fresh single point of the final "
        "structure (DFT cell relaxations: its own basis and k-mesh), not the last frame.",
    )
    max_force: float | None = Field(
        None, description="Largest force norm on a free atom in the final frame, eV/Å."
    )
    frames: RelaxFrames = Field(default_factory=RelaxFrames, description="Every frame.")
    wall_time_s: float | None = Field(None, description="Wall time of the relaxation, s.")
    run_dir: str | None = Field(None, description="DFT: folder the run wrote (host:path).")
