from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.lj import LennardJones
from pymatgen.core import Structure

from pesbench.schemas.ids import structure_id
from pesbench.structures import HighEnergyParams, generate_high_energy
from pesbench.structures.common import GenerationParameterError, standard_supercell

FAST = {"md_snapshots": 0}


def _lj() -> LennardJones:
    return LennardJones(sigma=2.0, epsilon=0.01, rc=4.5)


@pytest.mark.parametrize("name", ["Si", "LiF", "MgO", "LiCoO2"])
def test_strained_cells_have_the_requested_strain(name: str, bulks: dict) -> None:
    bulk = bulks[name]
    params = HighEnergyParams(dedupe_strains=False, n_rattled=0, **FAST)
    strained = [i for i in generate_high_energy(bulk, params).structures if i.role == "strained"]
    assert len(strained) == 8
    for item in strained:
        strain = np.array(item.details.strain)
        ratio = np.array(item.structure.lattice.abc) / np.array(bulk.lattice.abc)
        np.testing.assert_allclose(ratio, 1 + strain, atol=1e-9)
        # the same fractional coordinates, modulo a lattice vector (a bulk site at 1 - 1e-16
        # from get_primitive_structure is the strained cell's 0)
        shift = item.structure.frac_coords - bulk.frac_coords
        np.testing.assert_allclose(shift - np.round(shift), 0.0, atol=1e-9)
        # vectors keep their directions
        for new, old in zip(item.structure.lattice.matrix, bulk.lattice.matrix, strict=True):
            assert np.dot(new, old) / np.linalg.norm(new) / np.linalg.norm(old) == pytest.approx(1)
    volumetric = [i for i in strained if len(set(i.details.strain)) == 1]
    assert sorted(i.details.strain[0] for i in volumetric) == [-0.03, 0.03]
    for item in volumetric:
        expected = (1 + item.details.strain[0]) ** 3
        assert item.structure.volume / bulk.volume == pytest.approx(expected)


def test_equivalent_strains_are_skipped_with_reason(bulks: dict) -> None:
    result = generate_high_energy(bulks["MgO"], HighEnergyParams(n_rattled=0, **FAST))
    assert len([i for i in result.structures if i.role == "strained"]) == 4  # cubic: a and abc
    assert len(result.skipped) == 4
    assert all("symmetry-equivalent" in s.reason for s in result.skipped)
    lco = generate_high_energy(bulks["LiCoO2"], HighEnergyParams(n_rattled=0, **FAST))
    assert len([i for i in lco.structures if i.role == "strained"]) == 6  # hexagonal: a, c, abc


def test_rattles_follow_sigma_and_seed(bulks: dict) -> None:
    params = HighEnergyParams(sigmas_A=[0.1], n_rattled=3, strains=[], **FAST)
    result = generate_high_energy(bulks["MgO"], params)
    rattled = [i for i in result.structures if i.role == "rattled"]
    assert len(rattled) == 3
    reference = generate_high_energy(bulks["MgO"], params.model_copy(update={"seed": 0}))
    other = generate_high_energy(bulks["MgO"], params.model_copy(update={"seed": 1}))
    ids = [structure_id(i.structure) for i in rattled]
    assert ids == [structure_id(i.structure) for i in reference.structures]
    assert set(ids).isdisjoint(structure_id(i.structure) for i in other.structures)
    _, supercell, _ = standard_supercell(bulks["MgO"], 8.0, 128, 0.01)
    for item in rattled:
        delta = item.structure.cart_coords - supercell.cart_coords
        assert np.std(delta) == pytest.approx(0.1, rel=0.25)
        assert abs(np.mean(delta)) < 0.05


def test_md_snapshots_with_any_ase_calculator(bulks: dict) -> None:
    params = HighEnergyParams(
        n_rattled=0, strains=[], md_snapshots=3, md_interval=2, md_equilibration=1
    )
    first = generate_high_energy(bulks["Si"], params, calculator=_lj())
    again = generate_high_energy(bulks["Si"], params, calculator=_lj())
    snaps = [i for i in first.structures if i.role == "md_snapshot"]
    assert [s.details.md_step for s in snaps] == [3, 5, 7]
    assert all(s.details.temperature_K == 1000.0 for s in snaps)
    assert all(s.details.md_model == "LennardJones" for s in snaps)
    assert len({structure_id(s.structure) for s in snaps}) == 3
    assert [structure_id(s.structure) for s in snaps] == [
        structure_id(s.structure) for s in again.structures
    ]
    assert all(s.structure.lattice == snaps[0].structure.lattice for s in snaps)


@pytest.mark.slow
def test_md_with_chgnet(bulks: dict[str, Structure]) -> None:
    import torch

    torch.set_num_threads(1)
    params = HighEnergyParams(
        n_rattled=0, strains=[], md_snapshots=2, md_interval=2, md_equilibration=0
    )
    result = generate_high_energy(bulks["Si"], params)
    snaps = [i for i in result.structures if i.role == "md_snapshot"]
    assert len(snaps) == 2
    assert snaps[0].details.md_model == "chgnet-0.3.0"
    _, supercell, _ = standard_supercell(bulks["Si"], 8.0, 128, 0.01)
    lattice = supercell.lattice
    moved = np.diag(
        lattice.get_all_distances(snaps[-1].structure.frac_coords, supercell.frac_coords)
    )
    assert 1e-4 < moved.max() < 1.0


def test_unknown_md_model_is_refused(bulks: dict) -> None:
    params = HighEnergyParams(n_rattled=0, strains=[], md_snapshots=1, md_model="m3gnet-x")
    with pytest.raises(GenerationParameterError, match="md_model 'm3gnet-x'"):
        generate_high_energy(bulks["Si"], params)
