"""Documents of the ``comparisons`` collection: a model against a DFT reference.

Two levels share the collection, told apart by ``level``:

- ``"structure"`` (:class:`StructureComparisonDoc`): one prediction against one reference
  of the same structure: energy, force and stress errors, the structure's own slope.
- ``"material"`` (:class:`MaterialComparisonDoc`): all structures of one (material,
  category, model, reference functional): error statistics, softening scale, cMAE, the
  one-point correction and the category's property errors.

Energies of different codes are never compared as absolute totals. Where each side has
relaxed the structure's parent bulk (cell and positions), the energy error is of energies
referenced to each side's own relaxed bulk, per atom:
``(E_model/N - E_model,bulk/atom) - (E_DFT/N - E_DFT,bulk/atom)`` (``energy_referenced_*``;
which relaxation counts as a side's bulk: :mod:`pesbench.stores.relaxed_bulk`). Where
either side has none, the material level falls back to the MAE with the set's mean offset
removed (``energy_mae_centered``), and ``energy_referencing`` says which one applies.

``pairing`` says whether the reference functional is the one the model was trained on
(``"native"``: PBE models against PBE and PBE+U references) or another (``"cross"``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pesbench.schemas.base import Functional, PesbenchDoc

__all__ = [
    "EnergyReferencing",
    "MaterialComparisonDoc",
    "Pairing",
    "PropertyRow",
    "StructureComparisonDoc",
    "is_native_pair",
    "material_comparison_id",
    "structure_comparison_id",
]

Pairing = Literal["native", "cross"]
EnergyReferencing = Literal["relaxed_bulk", "mean_offset"]
"""How a material's energy error is referenced: to each side's own relaxed parent bulk
(every structure has both bulks), or only with the set's mean offset removed."""


def is_native_pair(model_functional: str, reference_functional: str) -> bool:
    """Whether a model trained on ``model_functional`` is natively compared to the reference.

    A GGA model (``"PBE"``) trained on MPtrj covers PBE and PBE+U data, so both are native;
    ``"r2SCAN"`` only pairs with ``"r2SCAN"``.
    """
    return model_functional.removesuffix("+U") == reference_functional.removesuffix("+U")


def structure_comparison_id(prediction_id: str, reference_id: str) -> str:
    """Key of a structure-level comparison: one per (prediction, reference)."""
    return f"{prediction_id}|{reference_id}"


def material_comparison_id(material: str, category: str, model_id: str, functional: str) -> str:
    """Key of a material-level comparison: one per (material, category, model, functional)."""
    return f"{material}|{category}|{model_id}|{functional}"


class _ComparisonBase(PesbenchDoc):
    """Who was compared with what, shared by both levels."""

    comparison_id: str = Field(description="Key of the document (see the *_comparison_id).")
    source_stamp: str = Field(
        description="What the document was built from, hashed: structure level, the input "
        "documents' ids and times; material level, its members' ids (with the newest "
        "member's last_updated). Unchanged -> not rebuilt."
    )
    material: str = Field(
        description="Parent bulk of the structure (its structure_id, else its formula)."
    )
    formula: str = Field(description="Reduced formula of the parent bulk.")
    category: str = Field(description="Out-of-distribution category ('unknown' if unrecorded).")
    model_id: str = Field(description="uMLIP id, e.g. 'chgnet-0.3.0'.")
    model_functional: Functional = Field(description="Functional the model was trained on.")
    functional: Functional = Field(description="Functional of the DFT reference.")
    reference_code: str = Field(description="DFT code of the reference ('vasp', 'gpaw', ...).")
    pairing: Pairing = Field(description="'native' (trained on it) or 'cross' functional.")
    campaign: str | None = Field(None, description="Campaign of the reference, if any.")
    campaigns: list[str] = Field(
        default_factory=list,
        description="Campaigns it belongs to: structure level, those that asked for both the "
        "reference and the prediction; material level, those of its members.",
    )


class StructureComparisonDoc(_ComparisonBase):
    """One prediction against one reference of the same structure."""

    level: Literal["structure"] = Field("structure", description="Document level.")
    structure_id: str = Field(description="Content hash of the structure.")
    role: str | None = Field(None, description="Role of the structure in its set (slab, ...).")
    prediction_id: str = Field(description="Key of the prediction document.")
    reference_id: str = Field(description="Key of the reference document.")
    n_atoms: int = Field(ge=1, description="Number of atoms.")
    energy_per_atom_reference: float = Field(description="DFT energy per atom, eV/atom.")
    energy_per_atom_model: float = Field(
        description="Model energy per atom on DFT's raw footing, eV/atom: as predicted, less "
        "the structure's MP2020 correction for a model of MP2020-corrected energies "
        "(energy_correction_per_atom_model; pesbench.analysis.conventions)."
    )
    energy_convention_model: str = Field(
        default="unknown", description="The model's energies: 'mp2020', 'raw' or 'unknown'."
    )
    energy_correction_per_atom_model: float | None = Field(
        default=0.0,
        description="MP2020 correction per atom removed from the model's energies (this "
        "structure's; its relaxed bulk's likewise), eV/atom; 0 for raw energies; None when "
        "pymatgen's scheme could not correct the structure (energy_footing_note).",
    )
    energy_footing_note: str | None = Field(
        default=None, description="Why the model's energies stay as predicted, if they do."
    )
    energy_per_atom_error: float = Field(
        description="Model minus DFT energy per atom as absolute totals, eV/atom: includes "
        "the difference of the two codes' energy zeros (not an error across codes)."
    )
    bulk_relaxation_id_reference: str | None = Field(
        None, description="relaxation_id of the DFT side's relaxed parent bulk (None: none)."
    )
    bulk_relaxation_id_model: str | None = Field(
        None, description="relaxation_id of the model's relaxed parent bulk (None: none)."
    )
    bulk_energy_per_atom_reference: float | None = Field(
        None, description="Energy per atom of the DFT side's relaxed parent bulk, eV/atom."
    )
    bulk_energy_per_atom_model: float | None = Field(
        None,
        description="Energy per atom of the model's relaxed parent bulk on DFT's raw footing "
        "(as energy_per_atom_model), eV/atom.",
    )
    energy_referenced_reference: float | None = Field(
        None,
        description="DFT energy per atom minus that of the DFT side's relaxed parent bulk, "
        "eV/atom (None without both sides' bulks).",
    )
    energy_referenced_model: float | None = Field(
        None,
        description="Model energy per atom minus that of the model's own relaxed parent "
        "bulk, eV/atom (None without both sides' bulks).",
    )
    energy_referenced_error: float | None = Field(
        None,
        description="energy_referenced_model - energy_referenced_reference: the energy error "
        "with each side referenced to its own relaxed parent bulk, eV/atom.",
    )
    force_mae: float | None = Field(None, description="Force component MAE, eV/Å.")
    force_rmse: float | None = Field(None, description="Force component RMSE, eV/Å.")
    force_max: float | None = Field(None, description="Largest force component error, eV/Å.")
    force_scale: float | None = Field(
        None, description="Through-origin slope of this structure's forces (dimensionless)."
    )
    stress_mae: float | None = Field(None, description="Stress component MAE, GPa.")
    stress_rmse: float | None = Field(None, description="Stress component RMSE, GPa.")
    stress_max: float | None = Field(None, description="Largest stress component error, GPa.")


class PropertyRow(BaseModel):
    """One property of a category computed from the model and from the reference."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Property, e.g. 'surface_energy', 'migration_barrier'.")
    label: str = Field(description="Which instance: '(1, 1, 1) t0', 'hop 0', 'vacancy O'.")
    unit: str = Field(description="Unit of the values ('eV/Å²', 'eV', 'eV/atom', 'THz').")
    reference: float = Field(description="Value from the DFT reference, in unit.")
    model: float = Field(description="Value from the model, in unit.")
    error: float = Field(description="model - reference, in unit.")
    ratio: float = Field(description="model / reference (NaN when the reference is 0).")


class MaterialComparisonDoc(_ComparisonBase):
    """All structures of one (material, category, model, functional): the aggregates."""

    level: Literal["material"] = Field("material", description="Document level.")
    structure_ids: list[str] = Field(description="Structures aggregated, sorted.")
    n_structures: int = Field(ge=1, description="Number of structures aggregated.")
    energy_mae: float = Field(
        description="MAE of the energy per atom as absolute totals, eV/atom (includes the "
        "codes' different energy zeros)."
    )
    energy_rmse: float = Field(description="RMSE of those total energies per atom, eV/atom.")
    energy_max: float = Field(description="Largest of those differences (|.|), eV/atom.")
    energy_mae_centered: float = Field(
        description="Energy-per-atom MAE after removing the mean error of the set (a "
        "constant offset, e.g. different codes' energy zeros), eV/atom."
    )
    energy_referencing: EnergyReferencing = Field(
        "mean_offset",
        description="'relaxed_bulk': every structure's energy is referenced to each side's "
        "own relaxed parent bulk, and energy_referenced_mae is the energy error; "
        "'mean_offset': some structure lacks a side's relaxed bulk, and the energy error is "
        "energy_mae_centered.",
    )
    n_energy_referenced: int = Field(
        0, ge=0, description="Structures whose energies are referenced to both relaxed bulks."
    )
    energy_referenced_mae: float | None = Field(
        None,
        description="MAE of the energies referenced to each side's own relaxed parent bulk, "
        "eV/atom, over the n_energy_referenced structures (None: none).",
    )
    energy_referenced_rmse: float | None = Field(
        None, description="RMSE of those referenced energies, eV/atom."
    )
    energy_referenced_max: float | None = Field(
        None, description="Largest referenced energy error, eV/atom."
    )
    force_mae: float | None = Field(None, description="Force component MAE, eV/Å.")
    force_rmse: float | None = Field(None, description="Force component RMSE, eV/Å.")
    force_max: float | None = Field(None, description="Largest force component error, eV/Å.")
    stress_mae: float | None = Field(None, description="Stress component MAE, GPa.")
    softening_scale: float | None = Field(
        None, description="Through-origin slope of predicted vs DFT forces (dimensionless)."
    )
    slope: float | None = Field(None, description="Slope of the fit with intercept.")
    intercept: float | None = Field(None, description="Intercept of that fit, eV/Å.")
    r2: float | None = Field(None, description="R² of the fit with intercept.")
    cmae: float | None = Field(
        None, description="Force MAE after dividing predictions by the softening scale, eV/Å."
    )
    one_point_scale: float | None = Field(
        None, description="Scale fitted on one structure (the highest-force one)."
    )
    one_point_structure_id: str | None = Field(
        None, description="Structure the one-point scale was fitted on."
    )
    one_point_mae_before: float | None = Field(
        None, description="Force MAE of the other structures, raw, eV/Å."
    )
    one_point_mae_after: float | None = Field(
        None, description="Force MAE of the other structures after the correction, eV/Å."
    )
    properties: list[PropertyRow] = Field(
        default_factory=list, description="Property errors of the category."
    )
    notes: list[str] = Field(
        default_factory=list, description="What could not be computed, and why."
    )
