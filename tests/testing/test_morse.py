"""The vectorised Morse stand-in: forces and stress are the derivatives of its energy."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from pesbench.testing.morse import ScaledMorse


def _alloy() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 4]] = "Au"
    strain = np.array([[0.02, 0.01, 0], [0, -0.01, 0], [0, 0.03, 0]])
    atoms.set_cell(atoms.cell @ (np.eye(3) + strain), scale_atoms=True)
    atoms.positions += np.random.default_rng(3).normal(0, 0.1, atoms.positions.shape)
    return atoms


def _energy(atoms: Atoms) -> float:
    atoms.calc = ScaledMorse()
    return float(atoms.get_potential_energy())


def test_forces_are_minus_the_energy_gradient() -> None:
    atoms = _alloy()
    atoms.calc = ScaledMorse()
    forces = atoms.get_forces()
    h, numeric = 1e-5, np.zeros_like(forces)
    for i in range(len(atoms)):
        for k in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, k] += h
            minus.positions[i, k] -= h
            numeric[i, k] = -(_energy(plus) - _energy(minus)) / (2 * h)
    assert np.abs(forces - numeric).max() < 1e-6
    assert np.abs(forces.sum(axis=0)).max() < 1e-10  # no net force
    assert np.abs(forces).max() > 0.1  # the rattle is felt


def test_stress_is_the_strain_derivative_over_the_volume() -> None:
    atoms = _alloy()
    atoms.calc = ScaledMorse()
    stress = atoms.get_stress(voigt=False)
    h, numeric = 1e-6, np.zeros((3, 3))
    for k in range(3):
        for m in range(3):
            strain = np.zeros((3, 3))
            strain[k, m] = strain[m, k] = h / 2 if k != m else h
            ends = []
            for sign in (1, -1):
                strained = atoms.copy()
                strained.set_cell(atoms.cell @ (np.eye(3) + sign * strain), scale_atoms=True)
                ends.append(_energy(strained))
            numeric[k, m] = (ends[0] - ends[1]) / (2 * h) / atoms.get_volume()
    assert np.abs(stress - numeric).max() < 1e-7
    assert np.abs(stress).max() > 1e-3


def test_every_image_within_the_cutoff_is_counted() -> None:
    primitive = bulk("Cu", "fcc", a=3.61)  # one atom: the pairs are all with images
    supercell = primitive.repeat((3, 2, 2))
    assert _energy(supercell) / len(supercell) == pytest.approx(_energy(primitive), abs=1e-10)
    assert _energy(primitive) < -1.0  # twelve wells of about -0.34 eV, halved, and more


def test_scale_multiplies_everything() -> None:
    atoms = _alloy()
    atoms.calc = ScaledMorse()
    full = (atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress())
    atoms.calc = ScaledMorse(scale=0.8)
    soft = (atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress())
    assert soft[0] == pytest.approx(0.8 * full[0], rel=1e-12)
    np.testing.assert_allclose(soft[1], 0.8 * full[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(soft[2], 0.8 * full[2], rtol=1e-12, atol=1e-14)


def test_a_non_periodic_cell_is_refused() -> None:
    atoms = Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[10, 10, 10], pbc=False)
    atoms.calc = ScaledMorse()
    with pytest.raises(ValueError, match="periodic"):
        atoms.get_potential_energy()
