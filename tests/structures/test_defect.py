from __future__ import annotations

import itertools

import numpy as np
import pytest
import spglib
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from pesbench.schemas.ids import structure_id
from pesbench.structures import DefectParams, generate_defects
from pesbench.structures.common import GenerationParameterError


def _distinct_sites(structure: Structure) -> int:
    cell = (structure.lattice.matrix, structure.frac_coords, [s.specie.Z for s in structure])
    return len(set(spglib.get_symmetry_dataset(cell, symprec=0.01).equivalent_atoms))


@pytest.fixture(scope="module")
def defects(bulks: dict[str, Structure]) -> dict:
    return {name: generate_defects(bulk) for name, bulk in bulks.items()}


@pytest.mark.parametrize("name", ["Si", "LiF", "MgO", "LiCoO2"])
def test_one_defect_per_symmetry_distinct_site(name: str, defects: dict, bulks: dict) -> None:
    bulk, result = bulks[name], defects[name]
    by_type: dict[str, list] = {}
    for item in result.structures:
        by_type.setdefault(item.details.defect_type, []).append(item)
    assert len(by_type["pristine"]) == 1
    assert len(by_type["vacancy"]) == _distinct_sites(bulk)
    matcher = StructureMatcher()
    for kind in ("vacancy", "antisite", "interstitial"):
        for a, b in itertools.combinations(by_type.get(kind, []), 2):
            assert not matcher.fit(a.structure, b.structure), f"{name}: two equivalent {kind}s"


def test_defect_cells_and_counts(defects: dict, bulks: dict) -> None:
    for name, result in defects.items():
        pristine = result.structures[0].structure
        assert min(pristine.lattice.abc) >= 8.0 - 1e-6
        assert len(pristine) <= 256
        assert (
            pristine.composition.reduced_composition == bulks[name].composition.reduced_composition
        )
        pid = structure_id(pristine)
        for item in result.structures[1:]:
            d = item.details
            assert d.pristine_id == pid
            delta = {"vacancy": -1, "interstitial": +1, "antisite": 0}[d.defect_type]
            assert len(item.structure) == len(pristine) + delta
            assert item.structure.lattice == pristine.lattice
            if d.defect_type == "interstitial":
                others = [i for i in range(len(item.structure)) if i != d.site_index]
                dist = item.structure.get_distance
                assert min(dist(d.site_index, i) for i in others) >= 1.0
            changed = [x for x in (d.removed_species, d.added_species) if x]
            assert len(d.chemical_potential_references) == len(changed)


def test_antisites_follow_the_charge_rule(defects: dict, bulks: dict) -> None:
    lco = [i.details for i in defects["LiCoO2"].structures if i.details.defect_type == "antisite"]
    assert sorted((d.removed_species, d.added_species) for d in lco) == [("Co", "Li"), ("Li", "Co")]
    assert not [i for i in defects["LiF"].structures if i.details.defect_type == "antisite"]
    every = generate_defects(bulks["LiF"], DefectParams(antisites="all", max_interstitial_sites=0))
    assert sum(i.details.defect_type == "antisite" for i in every.structures) == 2


def test_references_name_elemental_phases(defects: dict) -> None:
    vac = [i.details for i in defects["LiF"].structures if i.details.defect_type == "vacancy"]
    assert sorted(d.chemical_potential_references[0] for d in vac) == ["F2", "Li"]


def test_si_interstitials_are_tetrahedral_and_hexagonal(
    defects: dict, bulks: dict[str, Structure]
) -> None:
    inter = [i for i in defects["Si"].structures if i.details.defect_type == "interstitial"]
    nearest = sorted(
        round(
            min(
                i.structure.get_distance(i.details.site_index, j)
                for j in range(len(i.structure) - 1)
            ),
            2,
        )
        for i in inter
    )
    # cubic lattice constant of the diamond bulk: its nearest-neighbour distance is a*sqrt(3)/4
    bulk = bulks["Si"]
    a = 4 / np.sqrt(3) * min(bulk.get_distance(0, j) for j in range(1, len(bulk)))
    hexagonal, tetrahedral = a * np.sqrt(11) / 8, a * np.sqrt(3) / 4
    assert nearest == pytest.approx([hexagonal, tetrahedral], abs=0.006)  # rounded to 0.01


def test_supercell_too_large_is_refused(bulks: dict) -> None:
    with pytest.raises(GenerationParameterError, match="max_atoms=10"):
        generate_defects(bulks["MgO"], DefectParams(max_atoms=10))
