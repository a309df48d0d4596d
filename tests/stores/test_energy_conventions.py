"""Energy conventions meet DFT (issue 13, item 3): a model of MP2020-corrected energies is
compared with raw DFT energies after its MP2020 correction is removed, structure by
structure and for its relaxed bulk; a raw model is compared as predicted.

Planted: the DFT energies are raw; the "mp2020" model predicts exactly those plus the MP2020
correction of each cell (pymatgen's oxide correction, -0.687 eV per O), the raw model exactly
those. Every energy error then comes out zero, although the vacancy cell (Mg3O4) and its bulk
(Mg4O4) carry different corrections per atom.
"""

from __future__ import annotations

from typing import Any

import pytest
from pymatgen.core import Element, Lattice, Structure
from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

from pesbench.analysis.conventions import convention_of, mp2020_correction, raw_energy
from pesbench.schemas.prediction import ModelInfo
from pesbench.stores.builders import StructureComparisonBuilder

MGO = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
)
VACANCY = MGO.copy()
VACANCY.remove_sites([0])  # Mg3O4
OXIDE = MaterialsProject2020Compatibility(check_potcar=False).comp_correction["oxide"]
RAW = {"bulk": -5.9 * 8, "vacancy": -38.1}  # "DFT" totals, eV
CHGNET = {"model_id": "chgnet-0.3.0", "checksum": "c0ffee", "functional": "PBE"}  # as stored
SEVENNET = {
    "model_id": "7net-0",
    "checksum": "5eed",
    "functional": "PBE",
    "energy_convention": "raw",
}


def test_mp2020_correction_is_pymatgens_oxide_correction() -> None:
    assert abs(OXIDE - (-0.687)) < 1e-3
    assert mp2020_correction(MGO) == pytest.approx(4 * OXIDE)
    assert mp2020_correction(VACANCY) == pytest.approx(4 * OXIDE)
    si = Structure(Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
    assert mp2020_correction(si) == 0.0
    # Fe in an oxide: MP computed it with U, and adds the GGA/GGA+U mixing correction
    feo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.33), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    assert mp2020_correction(feo) < 4 * OXIDE - 4 * 1.0


def test_structures_without_corrected_elements_skip_the_scheme_with_its_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import itertools

    from pesbench.analysis import conventions

    pool = ["Pd", "Ag", "Cu", "Au", "Li", "Mg", "Fe", "Ni", "Si", "O", "N", "Cl", "H", "Al"]
    cells = [
        Structure(Lattice.cubic(4.0), [a, b, b, a], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5],
                  [0, 0.5, 0.5]])
        for a, b in itertools.combinations(pool, 2)
    ]  # fmt: skip
    calls: list[str] = []
    scheme = conventions._compatibility()
    adjustments = scheme.get_adjustments  # type: ignore[attr-defined]
    monkeypatch.setattr(scheme, "get_adjustments", lambda e: calls.append(1) or adjustments(e))
    fast = [mp2020_correction(c) for c in cells]
    skipped = len(cells) - len(calls)
    every = frozenset(el.symbol for el in Element)
    monkeypatch.setattr(conventions, "_corrected_elements", lambda: every)  # no skipping
    assert fast == [mp2020_correction(c) for c in cells]  # the scheme's own values
    assert skipped == 21  # the 7 x 6 / 2 pairs of elements it never corrects
    assert any(v != 0 for v in fast)


def test_convention_of_falls_back_on_the_built_in_ids() -> None:
    assert convention_of(CHGNET) == "mp2020"  # stored before conventions were recorded
    assert convention_of({**CHGNET, "model_id": "chgnet-r2scan"}) == "raw"
    assert convention_of(SEVENNET) == "raw"
    assert convention_of({"model_id": "mace:my.model"}) == "unknown"
    info = ModelInfo(**CHGNET, name="chgnet", version="0.3.0")
    assert raw_energy(-40.0, MGO, info) == pytest.approx(-40.0 - 4 * OXIDE)


def _item(model: dict[str, Any], corrected: bool) -> dict[str, Any]:
    shift = {"bulk": mp2020_correction(MGO), "vacancy": mp2020_correction(VACANCY)}
    predicted = {k: RAW[k] + (shift[k] if corrected else 0.0) for k in RAW}
    n = len(VACANCY)
    return {
        "comparison_id": "c",
        "source_stamp": "s",
        "reference": {
            "reference_id": "r",
            "structure_id": "vac",
            "structure": VACANCY.as_dict(),
            "n_atoms": n,
            "energy_per_atom": RAW["vacancy"] / n,
            "functional": "PBE",
            "code": "vasp",
        },
        "prediction": {
            "prediction_id": "p",
            "structure_id": "vac",
            "n_atoms": n,
            "energy_per_atom": predicted["vacancy"] / n,
            "model": model,
        },
        "structure": {"category": "defect", "parent_id": "bulk", "parent_formula": "MgO"},
        "dft_bulk": {"relaxation_id": "d", "energy_per_atom": RAW["bulk"] / 8},
        "model_bulk": {
            "relaxation_id": "m",
            "energy_per_atom": predicted["bulk"] / 8,
            "structure": MGO.as_dict(),
        },
    }


def test_corrected_and_raw_models_both_meet_dft_on_its_raw_footing() -> None:
    builder = StructureComparisonBuilder.__new__(StructureComparisonBuilder)
    chgnet = builder.process_item(_item(CHGNET, corrected=True))
    sevennet = builder.process_item(_item(SEVENNET, corrected=False))
    for doc in (chgnet, sevennet):
        assert doc["energy_per_atom_error"] == pytest.approx(0.0, abs=1e-12)
        assert doc["energy_referenced_error"] == pytest.approx(0.0, abs=1e-12)
    assert chgnet["energy_convention_model"] == "mp2020"
    assert chgnet["energy_correction_per_atom_model"] == pytest.approx(4 * OXIDE / 7)
    assert sevennet["energy_correction_per_atom_model"] == 0.0
    # taken as raw, the corrected model's vacancy would be off: the correction matters
    wrong = builder.process_item(_item({**CHGNET, "energy_convention": "raw"}, corrected=True))
    assert wrong["energy_referenced_error"] == pytest.approx(4 * OXIDE / 7 - 4 * OXIDE / 8)
