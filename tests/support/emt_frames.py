"""EMT-labelled frames for the import tests (not a test module)."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator


def emt_frames(n: int, seed: int = 0) -> list[Atoms]:
    """``n`` rattled and strained Cu/Al cells labelled by EMT (single-point calculators)."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu" if k % 2 == 0 else "Al", "fcc", a=3.6 if k % 2 == 0 else 4.05)
        atoms = atoms.repeat((2, 1, 1))
        atoms.set_cell(atoms.cell * (1 + 0.01 * (k % 3)), scale_atoms=True)
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        results = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames
