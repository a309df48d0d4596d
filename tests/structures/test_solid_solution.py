from __future__ import annotations

import itertools

import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.schemas.ids import structure_id
from pesbench.structures import SolidSolutionParams, generate_solid_solutions
from pesbench.structures.common import GenerationParameterError


def _orderings(result) -> list:
    return [item for item in result.structures if item.role == "ordering"]


def _brute_force_classes(bulk: Structure, sub: str, new: str, k: int, supercell: list[int]) -> int:
    conv = SpacegroupAnalyzer(bulk, symprec=0.01).get_conventional_standard_structure()
    parent = conv.make_supercell(supercell, in_place=False)
    sites = [i for i, s in enumerate(parent) if str(s.specie) == sub]
    candidates = []
    for combo in itertools.combinations(sites, k):
        s = parent.copy()
        for i in combo:
            s.replace(i, new)
        candidates.append(s)
    return len(StructureMatcher().group_structures(candidates))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("MgO", SolidSolutionParams()),  # Ca_xMg_{1-x}O on the Mg sublattice, 2x1x1 conventional
        ("LiCoO2", SolidSolutionParams(sublattice="Co", substituent="Ni", fractions=[0.5])),
        ("Si", SolidSolutionParams(substituent="Ge", fractions=[0.25], supercell=[1, 1, 1])),
    ],
)
def test_no_two_orderings_are_equivalent(
    name: str, params: SolidSolutionParams, bulks: dict
) -> None:
    result = generate_solid_solutions(bulks[name], params)
    matcher = StructureMatcher()
    by_fraction: dict[float, list[Structure]] = {}
    for item in _orderings(result):
        by_fraction.setdefault(item.details.fraction, []).append(item.structure)
    assert sorted(by_fraction) == sorted(params.fractions)
    for structures in by_fraction.values():
        for a, b in itertools.combinations(structures, 2):
            assert not matcher.fit(a, b)


def test_enumeration_is_complete_and_compositions_right(bulks: dict) -> None:
    params = SolidSolutionParams(fractions=[0.25], max_per_composition=50)
    result = generate_solid_solutions(bulks["MgO"], params)
    orderings = _orderings(result)
    assert len(orderings) == _brute_force_classes(bulks["MgO"], "Mg", "Ca", 2, [2, 1, 1])
    for item in orderings:
        assert item.structure.composition.reduced_formula == "CaMg3O4"
        assert item.details.n_sublattice_sites == 8
        assert item.details.enumeration == "exhaustive"


def test_cap_and_seed(bulks: dict) -> None:
    capped = SolidSolutionParams(fractions=[0.5], max_per_composition=2, seed=1)
    first = generate_solid_solutions(bulks["MgO"], capped)
    again = generate_solid_solutions(bulks["MgO"], capped)
    assert len(_orderings(first)) == 2
    ids = [structure_id(i.structure) for i in first.structures]
    assert ids == [structure_id(i.structure) for i in again.structures]
    assert _orderings(first)[0].details.n_distinct_found > 2


def test_sampling_when_too_many_combinations(bulks: dict) -> None:
    params = SolidSolutionParams(fractions=[0.5], max_enumerated=10, max_per_composition=3)
    result = generate_solid_solutions(bulks["MgO"], params)
    assert {i.details.enumeration for i in _orderings(result)} == {"sampled"}
    assert 1 <= len(_orderings(result)) <= 3


def test_end_members_come_first_in_the_same_supercell(bulks: dict) -> None:
    result = generate_solid_solutions(bulks["MgO"], SolidSolutionParams(fractions=[0.5]))
    host, full = result.structures[:2]
    assert [host.role, full.role] == ["end_member", "end_member"]
    assert [host.details.fraction, full.details.fraction] == [0.0, 1.0]
    assert host.structure.composition.reduced_formula == "MgO"
    assert full.structure.composition.reduced_formula == "CaO"
    assert full.details.n_substituted == full.details.n_sublattice_sites == 8
    for item in result.structures[2:]:
        assert item.role == "ordering"
        assert item.structure.lattice == host.structure.lattice
        assert len(item.structure) == len(host.structure) == len(full.structure)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (SolidSolutionParams(fractions=[0.3]), "not a multiple of 1/8"),
        (SolidSolutionParams(sublattice="Zn"), "no Zn sublattice"),
        (SolidSolutionParams(substituent="Xx"), "unknown element"),
    ],
)
def test_bad_parameters(params: SolidSolutionParams, message: str, bulks: dict) -> None:
    with pytest.raises(GenerationParameterError, match=message):
        generate_solid_solutions(bulks["MgO"], params)
