"""MP2020 corrections that put a model's energies on DFT's raw footing, cached.

For the structure-level comparisons (:mod:`pesbench.stores.structure_builder`): pymatgen's
correction computed once per composition where only that matters, and once per relaxed bulk.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pesbench.analysis.conventions import convention_of, mp2020_correction
from pesbench.schemas.structure_dict import structure_from_dict

__all__ = ["bulk_correction", "composition_key", "model_footing", "structure_correction"]


def model_footing(
    model: dict[str, Any], structure: dict[str, Any] | None, bulk: dict[str, Any] | None
) -> dict[str, Any]:
    """How the model's energies are put on DFT's raw footing (:mod:`pesbench.analysis.conventions`).

    The MP2020 correction per atom of the structure and of the model's relaxed bulk, to be
    removed from an ``"mp2020"`` model's energies (zero for a raw one); ``None`` and a note
    when pymatgen's scheme cannot correct the structure (its energies then stay as predicted).
    """
    convention = convention_of(model)
    fields: dict[str, Any] = {
        "energy_convention_model": convention,
        "energy_correction_per_atom_model": 0.0,
        "bulk_correction_per_atom": 0.0,
    }
    if convention != "mp2020":
        return fields
    try:
        if structure is not None:
            fields["energy_correction_per_atom_model"] = structure_correction(structure)
        if bulk is not None and bulk.get("structure") is not None:
            fields["bulk_correction_per_atom"] = bulk_correction(bulk)
    except ValueError as exc:
        fields |= {
            "energy_correction_per_atom_model": None,
            "bulk_correction_per_atom": 0.0,
            "energy_footing_note": f"energies as predicted (MP2020-corrected): {exc}",
        }
    return fields


_CORRECTIONS: dict[tuple[int, tuple[tuple[str, float], ...]], float] = {}
"""MP2020 correction per atom by (sites, composition), of structures without O or S."""

_STRUCTURE_DEPENDENT = {"O", "S"}
"""Elements whose MP2020 correction depends on the structure (oxide and sulfide types)."""


def composition_key(structure: dict[str, Any]) -> tuple[int, tuple[tuple[str, float], ...]] | None:
    """What the MP2020 correction of a structure (a ``Structure.as_dict``) depends on.

    Its number of sites and its composition, where it holds neither O nor S (pymatgen's
    scheme reads the structure only for their oxide and sulfide types) nor species with an
    oxidation state; None otherwise (the correction is then computed for the structure).
    """
    amounts: dict[str, float] = defaultdict(float)
    for site in structure["sites"]:
        for species in site["species"]:
            if species.get("oxidation_state") or species["element"] in _STRUCTURE_DEPENDENT:
                return None
            amounts[species["element"]] += species["occu"]
    return len(structure["sites"]), tuple(sorted(amounts.items()))


def structure_correction(structure: dict[str, Any]) -> float:
    """:func:`mp2020_correction` per atom of ``structure`` (a ``Structure.as_dict``).

    Computed once per composition where only the composition matters
    (:func:`composition_key`): pymatgen's oxidation-state guesses were most of a build's
    time for an ``mp2020`` model.
    """
    key = composition_key(structure)
    if key is not None and key in _CORRECTIONS:
        return _CORRECTIONS[key]
    cell = structure_from_dict(structure)
    value = mp2020_correction(cell) / len(cell)
    if key is not None:
        if len(_CORRECTIONS) > 100_000:  # bounded: a long-lived builder process
            _CORRECTIONS.clear()
        _CORRECTIONS[key] = value
    return value


_BULK_CORRECTIONS: dict[str, float] = {}
"""MP2020 correction per atom of each relaxed bulk, by relaxation_id: one bulk serves every
comparison of its material, and a relaxation's structure never changes under its id."""


def bulk_correction(bulk: dict[str, Any]) -> float:
    """:func:`mp2020_correction` per atom of a relaxed bulk, computed once per relaxation."""
    key = str(bulk["relaxation_id"])
    if key not in _BULK_CORRECTIONS:
        if len(_BULK_CORRECTIONS) > 10_000:  # bounded: a long-lived builder process
            _BULK_CORRECTIONS.clear()
        cell = structure_from_dict(bulk["structure"])
        _BULK_CORRECTIONS[key] = mp2020_correction(cell) / len(cell)
    return _BULK_CORRECTIONS[key]
