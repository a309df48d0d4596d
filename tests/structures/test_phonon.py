from __future__ import annotations

import numpy as np
import pytest
from phonopy import Phonopy
from pymatgen.core import Structure
from pymatgen.io.phonopy import get_phonopy_structure

from pesbench.schemas.ids import structure_id
from pesbench.structures import PhononParams, generate_phonon_displacements, rebuild_phonopy


@pytest.mark.parametrize("name", ["Si", "LiF", "MgO", "LiCoO2"])
def test_phonopy_reproduces_its_dataset(name: str, bulks: dict[str, Structure]) -> None:
    result = generate_phonon_displacements(bulks[name])
    perfect, *displaced = result.structures
    assert perfect.role == "perfect_supercell"
    assert displaced
    details = displaced[0].details
    # a fresh phonopy on the stored cell and matrices finds the same displacements
    fresh = Phonopy(
        get_phonopy_structure(details.unitcell),
        supercell_matrix=np.array(details.supercell_matrix),
        primitive_matrix=np.array(details.primitive_matrix),
        symprec=details.symprec,
    )
    fresh.generate_displacements(distance=0.01)
    assert [d["number"] for d in fresh.dataset["first_atoms"]] == [
        d["number"] for d in details.dataset["first_atoms"]
    ]
    for ref, got in zip(fresh.dataset["first_atoms"], details.dataset["first_atoms"], strict=True):
        np.testing.assert_allclose(ref["displacement"], got["displacement"], atol=1e-12)
    # the rebuilt object regenerates every displaced supercell, in order
    phonon = rebuild_phonopy(details)
    cells = phonon.supercells_with_displacements
    assert len(cells) == len(displaced)
    for cell, item in zip(cells, displaced, strict=True):
        np.testing.assert_allclose(cell.positions, item.structure.cart_coords, atol=1e-8)
        moved = item.structure.cart_coords - perfect.structure.cart_coords
        norms = np.linalg.norm(moved, axis=1)
        assert norms[item.details.displaced_atom_index] == pytest.approx(0.01, abs=1e-9)
        assert np.count_nonzero(norms > 1e-9) == 1
        assert item.details.perfect_supercell_id == structure_id(perfect.structure)
    # and takes forces back: a harmonic restoring force on the displaced atom
    forces = []
    for item in displaced:
        f = np.zeros((len(item.structure), 3))
        f[item.details.displaced_atom_index] = -5.0 * np.array(item.details.displacement_A)
        forces.append(f)
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    n = len(perfect.structure)
    assert phonon.force_constants.shape == (n, n, 3, 3)
    assert np.all(np.isfinite(phonon.force_constants))


def test_displacement_amplitude_and_supercell_are_parameters(bulks: dict) -> None:
    params = PhononParams(distance_A=0.03, supercell_matrix=[[2, 0, 0], [0, 2, 0], [0, 0, 2]])
    result = generate_phonon_displacements(bulks["Si"], params)
    assert len(result.structures[0].structure) == 16
    d = result.structures[1].details
    assert np.linalg.norm(d.displacement_A) == pytest.approx(0.03)
