"""Defect formation energies from relaxed supercells, with chemical potentials per side."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted import SOFTENING, TIGHT, cu_bulk, model_side

from pesbench.mlip import load_model
from pesbench.properties import EngineSide, ModelSide, compute_properties
from pesbench.properties.defect import MOLECULE_BOX_A, reference_phase
from pesbench.schemas.property import PropertySetDoc
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.testing.emt import EmtEngine

# 27-atom supercell (3x3x3 primitive Cu); a vacancy, a Cu and an O interstitial (octahedral)
PARAMS = {"min_length_A": 7.0, "max_interstitial_sites": 1, "interstitial_species": ["Cu", "O"]}
LABELS = ["interstitial Cu 0", "interstitial O 0", "vacancy Cu 0"]


def _run(side) -> PropertySetDoc:
    return compute_properties("defect", cu_bulk(), side, parameters=PARAMS, thresholds=TIGHT)


@pytest.fixture(scope="module")
def dft(tmp_path_factory: pytest.TempPathFactory) -> PropertySetDoc:
    """EMT engine as the "DFT" (computed once for the module)."""
    return _run(EngineSide(EmtEngine(), "PBE", workdir=tmp_path_factory.mktemp("emt")))


def _values(result: PropertySetDoc) -> dict:
    assert not result.notes
    return {p.label: p for p in result.properties}


def test_like_against_like(dft):
    ref, model = _values(dft), _values(_run(model_side(1.0)))
    assert sorted(ref) == LABELS
    assert sorted(model) == LABELS
    for label, prop in ref.items():
        assert prop.name == "formation_energy"
        assert prop.unit == "eV"
        assert model[label].value == pytest.approx(prop.value, rel=1e-6)


def test_planted_softening(dft):
    ref, model = _values(dft), _values(_run(model_side(SOFTENING)))
    for label, prop in ref.items():
        assert model[label].value / prop.value == pytest.approx(SOFTENING, abs=2e-3)


def test_physically_sensible(dft):
    values = {p.label: p for p in dft.properties}
    vacancy = values["vacancy Cu 0"]
    # EMT Cu: 1.23 eV in this 27-atom cell (experiment ~1.28 eV)
    assert 1.0 < vacancy.value < 1.4
    assert values["interstitial Cu 0"].value > vacancy.value
    assert vacancy.details["atoms_added"] == {"Cu": -1}
    bulk = dft.relaxations[0]
    # mu_Cu from fcc Cu relaxed on its own equals the relaxed bulk per atom (same side)
    mu_cu = vacancy.details["chemical_potentials_eV"]["Cu"]
    assert mu_cu == pytest.approx(bulk.energy_per_atom, abs=1e-5)
    assert vacancy.details["reference_phases"] == {"Cu": "Cu"}
    assert values["interstitial O 0"].details["reference_phases"] == {"O": "O2"}
    # E_f = E_def - E_pristine + mu_Cu for a vacancy
    d = vacancy.details
    assert vacancy.value == pytest.approx(d["defect_energy_eV"] - d["pristine_energy_eV"] + mu_cu)


def test_terms_are_relaxed_on_the_open_shell_side(dft):
    by_id = {r.relaxation_id: r for r in dft.relaxations}
    vacancy = next(p for p in dft.properties if p.label == "vacancy Cu 0")
    defect, pristine = by_id[vacancy.terms["defect"]], by_id[vacancy.terms["pristine"]]
    assert not defect.settings.relax_cell
    assert not pristine.settings.relax_cell
    assert defect.n_steps > 0
    assert vacancy.details["unrelaxed_defect_energy_eV"] > defect.energy
    # every term of the set is spin-polarised (the bulk is not: it only sets the lattice)
    for term in dft.relaxations[1:]:
        assert term.input_settings["spin_polarized"] is True
    assert "spin_polarized" not in dft.relaxations[0].input_settings
    o2 = by_id[next(p for p in dft.properties if p.label == "interstitial O 0").terms["mu_O"]]
    assert o2.structure.composition.reduced_formula == "O2"
    assert not o2.settings.relax_cell
    assert o2.final_structure.lattice.abc == pytest.approx((MOLECULE_BOX_A,) * 3)
    mu_cu = by_id[vacancy.terms["mu_Cu"]]
    assert mu_cu.settings.relax_cell


def test_reference_phases():
    formula, o2 = reference_phase("O")
    assert formula == "O2"
    assert len(o2) == 2
    assert o2.lattice.abc == pytest.approx((MOLECULE_BOX_A,) * 3)
    assert o2.get_distance(0, 1) == pytest.approx(1.25, abs=0.05)
    formula, cu = reference_phase("Cu")
    assert (formula, len(cu), cu.get_space_group_info()[0]) == ("Cu", 1, "Fm-3m")
    assert reference_phase("Mn") is None  # alpha-Mn: ASE has no basis for it


def test_failed_term_is_a_note_not_a_value(dft, tmp_path: Path):
    relaxed = dft.relaxations[0].final_structure
    side = EngineSide(EmtEngine(), "PBE", workdir=tmp_path)
    one_step = RelaxSettings(fmax=TIGHT.fmax, max_steps=1)
    result = compute_properties("defect", relaxed, side, parameters=PARAMS, thresholds=one_step)
    assert result.relaxations[0].converged  # the relaxed bulk needs no step
    assert result.properties == []
    assert any(n.startswith("vacancy Cu 0: not converged in 1") for n in result.notes)
    assert any("no chemical potential of Cu" in n for n in result.notes)


def test_a_model_of_mp2020_corrected_energies_is_compared_on_the_raw_footing(dft):
    """EMT plus each cell's MP2020 correction, declared "mp2020": equal to EMT's values.

    The O interstitial (Cu27O, an oxide to MP2020: -0.687 eV) against pristine Cu27 and
    mu_O from O2 (no correction): without removing the correction it would be 0.687 eV off.
    """
    predictor = load_model("ase:pesbench.testing.emt.MP2020EMT", check=False)
    assert predictor.info.energy_convention == "mp2020"
    model = _values(_run(ModelSide(predictor)))
    ref = _values(dft)
    for label, prop in ref.items():
        assert model[label].value == pytest.approx(prop.value, abs=1e-6)
    oxygen = model["interstitial O 0"].details
    assert oxygen["correction_removed_eV"] == pytest.approx(-0.687, abs=1e-3)
    assert model["vacancy Cu 0"].details["correction_removed_eV"] == 0.0
