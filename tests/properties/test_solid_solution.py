"""Mixing energies of relaxed orderings against relaxed end members, each side its own."""

from __future__ import annotations

import pytest
from ase.calculators.emt import EMT
from planted import SOFTENING, TIGHT, cu_bulk, model_side
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.analysis.category import Result, category_properties
from pesbench.properties import EngineSide, compute_properties
from pesbench.schemas.property import PropertySetDoc
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.structures import generate
from pesbench.testing.emt import EmtEngine

# Au on the Cu sites of the 4-atom conventional cell: L1_2 Cu3Au and L1_0 CuAu
PARAMS = {"sublattice": "Cu", "substituent": "Au", "fractions": [0.25, 0.5], "supercell": [1, 1, 1]}
LABELS = ["Au x=0.25 #0", "Au x=0.5 #0"]


def _run(side, bulk=None, thresholds=TIGHT) -> PropertySetDoc:
    return compute_properties(
        "solid_solution", bulk or cu_bulk(), side, parameters=PARAMS, thresholds=thresholds
    )


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
        assert prop.name == "mixing_energy"
        assert prop.unit == "eV/f.u."
        assert model[label].value == pytest.approx(prop.value, rel=1e-6)


def test_planted_softening(dft):
    ref, model = _values(dft), _values(_run(model_side(SOFTENING)))
    for label, prop in ref.items():
        assert model[label].value / prop.value == pytest.approx(SOFTENING, abs=2e-3)


def test_physically_sensible(dft):
    values = {p.label: p for p in dft.properties}
    # EMT orders Cu-Au: -0.010 eV/f.u. for L1_2 Cu3Au, -0.008 for L1_0 CuAu
    for prop in values.values():
        assert -0.05 < prop.value < 0.0
        assert prop.details["formula_unit"] == "Cu"
        assert prop.details["n_formula_units"] == 4
    cu3au = values["Au x=0.25 #0"]
    d = cu3au.details
    assert d["ordering_formula"] == "Cu3Au"
    expected = d["ordering_energy_eV"] / 4 - 0.75 * d["host_energy_per_fu_eV"]
    expected -= 0.25 * d["substituted_energy_per_fu_eV"]
    assert cu3au.value == pytest.approx(expected)
    # the host end member is the side's relaxed bulk (per formula unit)
    assert d["host_energy_per_fu_eV"] == pytest.approx(dft.relaxations[0].energy_per_atom)


def test_every_term_relaxed_in_cell_and_positions(dft):
    by_id = {r.relaxation_id: r for r in dft.relaxations}
    prop = next(p for p in dft.properties if p.label == "Au x=0.5 #0")
    terms = {role: by_id[rid] for role, rid in prop.terms.items()}
    assert sorted(terms) == ["host", "ordering", "substituted"]
    for term in terms.values():
        assert term.settings.relax_cell
        assert term.converged
    assert terms["substituted"].structure.composition.reduced_formula == "Au"
    assert terms["substituted"].n_steps > 0  # Au relaxes to its own, larger lattice
    assert terms["substituted"].final_structure.volume > terms["host"].final_structure.volume
    assert len(terms["ordering"].structure) == len(terms["host"].structure) == 4
    assert prop.details["unrelaxed_ordering_energy_eV"] > terms["ordering"].energy


def test_failed_term_is_a_note_not_a_value(dft):
    relaxed = dft.relaxations[0].final_structure
    result = _run(model_side(1.0), relaxed, RelaxSettings(fmax=TIGHT.fmax, max_steps=1))
    assert result.relaxations[0].converged  # the relaxed bulk needs no step
    assert result.properties == []
    assert any(n.startswith("substituted end member Au: not converged") for n in result.notes)
    assert any("no mixing energy of the 2 orderings" in n for n in result.notes)


def test_single_point_analysis_finds_the_generated_end_members():
    generation = generate(cu_bulk(3.59), "solid_solution", PARAMS)
    energies = {}
    for doc in generation.structures:
        atoms = AseAtomsAdaptor.get_atoms(doc.structure)
        atoms.calc = EMT()
        energies[doc.structure_id] = Result(atoms.get_potential_energy())
    rows, notes = category_properties(generation.structures, energies, energies)
    assert notes == []
    assert [row.label for row in rows] == ["x=0.250 #0", "x=0.500 #0"]
