"""Energy conventions of the models, and putting a model's energies on DFT's footing.

Universal potentials trained on the same DFT data do not all predict the same energy:

- **MP2020-corrected** (``"mp2020"``). CHGNet 0.2.0 and 0.3.0 learned MPtrj's
  ``corrected_total_energy`` (Deng et al., Nat. Mach. Intell. 5, 1031 (2023)): the raw
  PBE/PBE+U energy plus the MP2020 anion corrections (oxide, peroxide, superoxide, F, Cl,
  N, H, S, ...) and the GGA/GGA+U mixing corrections of the transition metals with U
  (Wang et al., Sci. Rep. 11, 15496 (2021); pymatgen's
  ``MaterialsProject2020Compatibility``). Measured on this project's machine (docs/models.md):
  CHGNet's MgO and LiF energies lie 0.34 and 0.22 eV/atom below SevenNet's, the oxide and
  fluoride corrections per atom (-0.687/2, -0.462/2); Si, which has none, differs by 0.09.
- **Raw** (``"raw"``). SevenNet (its checkpoints name their data
  ``chgnet_total_dataset_uncorrected``), MACE-MP (trained on MPtrj's uncorrected energies;
  Matbench Discovery adds the MP2020 corrections to its predictions), the MatPES and MP
  r2SCAN models (no correction scheme exists for r2SCAN; chgnet-r2scan lies within
  10 meV/atom of 7net-mf-0's r2SCAN head on MgO), and any ASE calculator.
- **Unknown** (``"unknown"``): a user's model file; treated as raw, and reports say so.

pesbench's DFT energies (GPAW, VASP) are raw. Wherever a model's energy meets a DFT energy
(the comparisons' energy errors, and each side's energy above its own relaxed bulk), the
MP2020 correction of that structure is removed from an ``"mp2020"`` model's energy
(:func:`raw_energy`), so that both are raw energies. The correction of a structure depends
only on its composition, the oxidation state of its anions (oxide vs peroxide from the
O-O distances) and whether it is in MP's GGA+U space; forces and stress are unaffected.
"""

from __future__ import annotations

import functools
import warnings

from pymatgen.core import Structure

from pesbench.schemas.prediction import EnergyConvention, ModelInfo

__all__ = [
    "CONVENTION_TEXT",
    "KNOWN_CONVENTIONS",
    "convention_of",
    "mp2020_correction",
    "raw_energy",
]

KNOWN_CONVENTIONS: dict[str, EnergyConvention] = {
    "chgnet-0.3.0": "mp2020",
    "chgnet-0.2.0": "mp2020",
    "chgnet-r2scan": "raw",
    "7net-0": "raw",
    "7net-l3i5": "raw",
    "7net-mf-0:PBE": "raw",
    "7net-mf-0:r2SCAN": "raw",
}
"""The convention of each built-in model id (documents stored before pesbench recorded
it carry none: :func:`convention_of` falls back on this)."""

CONVENTION_TEXT: dict[EnergyConvention, str] = {
    "mp2020": "MP2020-corrected energies (the correction is removed before comparing with DFT)",
    "raw": "raw DFT total energies",
    "unknown": "energy convention unknown (compared as raw energies)",
}
"""One line per convention, for reports and ``pesbench models``."""


@functools.cache
def _compatibility() -> object:
    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    # POTCARs are not checked: the correction is computed for a model's energy, which
    # never had POTCARs; the run type and U values are those MP's data used (below)
    return MaterialsProject2020Compatibility(check_potcar=False)


@functools.cache
def _corrected_elements() -> frozenset[str]:
    """The elements whose presence can give a structure an MP2020 correction.

    pymatgen's scheme corrects the anions of its ``comp_correction`` (O under its oxide
    types, S, F, Cl, N, H, ...) and, with O or F the most electronegative element, the
    transition metals of its ``u_corrections``; a structure holding none of them is
    corrected by 0 (its oxidation states, which pymatgen guesses first, decide nothing).
    """
    compat = _compatibility()
    anions = {name for name in compat.comp_correction if name[:1].isupper()}  # type: ignore[attr-defined]
    anions |= {"O", "S"}  # the oxide and sulfide types
    mixing: set[str] = set()
    for anion, metals in compat.u_corrections.items():  # type: ignore[attr-defined]
        mixing |= {anion, *metals}
    return frozenset(anions | mixing)


def mp2020_correction(structure: Structure) -> float:
    """The MP2020 correction (eV, whole cell) MP's data add to ``structure``'s raw energy.

    The structure is taken as MP computed it: PBE+U with MP's U values when it holds O or
    F and a transition metal of MP's U set (Co, Cr, Fe, Mn, Mo, Ni, V, W), else PBE.

    Raises
    ------
    ValueError
        pymatgen's scheme cannot correct it (e.g. an anion whose oxidation state it cannot
        assign); the message says why.
    """
    from pymatgen.entries.compatibility import CompatibilityError
    from pymatgen.entries.computed_entries import ComputedStructureEntry

    compat = _compatibility()
    elements = {el.symbol for el in structure.composition}
    if not elements & _corrected_elements():
        return 0.0  # nothing the scheme corrects: no oxidation-state guesses (seconds a cell)
    u_values: dict[str, float] = {}
    for anion in ("F", "O"):  # MP applies U in oxides and fluorides (O first when both)
        if anion in elements:
            u_values = dict(compat.u_settings[anion])  # type: ignore[attr-defined]
    hubbards = {el: u for el, u in u_values.items() if el in elements}
    entry = ComputedStructureEntry(
        structure,
        0.0,
        parameters={
            "run_type": "GGA+U" if hubbards else "GGA",
            "hubbards": hubbards,
            "is_hubbard": bool(hubbards),
        },
    )
    try:
        with warnings.catch_warnings():  # "Failed to guess oxidation states" and the like
            warnings.simplefilter("ignore")
            adjustments = compat.get_adjustments(entry)  # type: ignore[attr-defined]
    except CompatibilityError as exc:
        raise ValueError(
            f"{structure.composition.reduced_formula}: no MP2020 correction ({exc})"[:300]
        ) from None
    return float(sum(adj.value for adj in adjustments))


def convention_of(model: ModelInfo | dict) -> EnergyConvention:
    """A model's energy convention: as recorded, else that of its built-in id, else unknown."""
    info = model if isinstance(model, dict) else model.model_dump()
    recorded = info.get("energy_convention") or "unknown"
    if recorded != "unknown":
        return recorded  # type: ignore[return-value]
    base = str(info.get("model_id", "")).split("+scale@")[0]
    return KNOWN_CONVENTIONS.get(base, "unknown")


def raw_energy(energy: float, structure: Structure, model: ModelInfo | dict) -> float:
    """``energy`` (eV, whole cell) predicted by ``model``, as a raw DFT energy.

    An ``"mp2020"`` model's energy less the structure's :func:`mp2020_correction`; any other
    model's energy unchanged.
    """
    if convention_of(model) != "mp2020":
        return energy
    return energy - mp2020_correction(structure)
