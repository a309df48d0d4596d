"""A vectorised Morse pair potential: labels and a "model" for data at the scale of 10^5 cells.

Not a physical model of any material: a smooth, cheap stand-in with exact forces and
stress, for benchmarks and tests that need many labelled structures (ASE's EMT builds its
neighbour list in Python and takes about 14 ms per small cell here; this takes well under
one). Every pair within ``cutoff`` of every periodic image is summed in NumPy at once,
which suits cells of up to a few tens of atoms.

    E = scale * sum_{i<j} D_ij * [exp(-2 a (r - r0_ij)) - 2 exp(-a (r - r0_ij)) - c_ij]

with ``c_ij`` the bracket at ``cutoff`` (the energy goes to zero there; the force has a
small step, irrelevant for labels). ``r0_ij`` is the mean of the elements' fcc nearest-
neighbour distances (:data:`NN_DISTANCE`, others 2.5 Å) and ``D_ij`` the geometric mean of
:data:`WELL_DEPTH` (others 0.3 eV).

Name it as a model: ``ase:pesbench.testing.morse.ScaledMorse`` with ``{"scale": 0.8}``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

__all__ = ["NN_DISTANCE", "WELL_DEPTH", "ScaledMorse"]

NN_DISTANCE = {"Cu": 2.55, "Ni": 2.49, "Al": 2.86, "Ag": 2.89, "Au": 2.88, "Pd": 2.75, "Pt": 2.77}
"""Nearest-neighbour distance of each element's fcc crystal, Å (the pair minimum)."""
WELL_DEPTH = {"Cu": 0.34, "Ni": 0.42, "Al": 0.27, "Ag": 0.33, "Au": 0.44, "Pd": 0.40, "Pt": 0.55}
"""Depth of the pair well, eV (of the order of cohesive energy / 12)."""


class ScaledMorse(Calculator):
    """The Morse sum of the module docstring, times ``scale`` (energy, forces and stress).

    Results in ASE's units: energy eV, forces eV/Å, stress eV/Å³ (Voigt, tensile positive).

    Parameters
    ----------
    scale
        Factor on everything: 0.8 is a "model" softened by exactly 0.8 against 1.0.
    alpha
        Width parameter ``a``, 1/Å.
    cutoff
        Pair cutoff, Å.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, scale: float = 1.0, alpha: float = 1.6, cutoff: float = 5.0) -> None:
        super().__init__()
        self.scale, self.alpha, self.cutoff = float(scale), float(alpha), float(cutoff)

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Any = None,
        system_changes: Any = all_changes,
    ) -> None:
        """Energy, forces and stress of ``atoms`` (periodic in all three directions)."""
        super().calculate(atoms, properties or ["energy"], system_changes)
        atoms = self.atoms
        if not atoms.pbc.all():
            raise ValueError("ScaledMorse needs a cell periodic in all three directions")
        cell = atoms.cell.array
        pos = atoms.positions
        # the images within reach: as many cells along each vector as the cutoff spans
        reach = np.ceil(self.cutoff * np.linalg.norm(np.linalg.inv(cell), axis=0)).astype(int)
        grid = np.stack(
            np.meshgrid(*(np.arange(-n, n + 1) for n in reach), indexing="ij"), axis=-1
        ).reshape(-1, 3)
        shifts = grid @ cell
        # d[i, j, m] = position of j in image m minus position of i
        d = pos[None, :, None, :] + shifts[None, None, :, :] - pos[:, None, None, :]
        r = np.linalg.norm(d, axis=-1)
        inside = (r < self.cutoff) & (r > 1e-8)
        symbols = atoms.get_chemical_symbols()
        r_nn = np.array([NN_DISTANCE.get(s, 2.5) for s in symbols])
        depth = np.array([WELL_DEPTH.get(s, 0.3) for s in symbols])
        r0 = (0.5 * (r_nn[:, None] + r_nn[None, :]))[:, :, None]
        well = np.sqrt(depth[:, None] * depth[None, :])[:, :, None]
        a = self.alpha
        near, far = np.exp(-a * (r - r0)), np.exp(-a * (self.cutoff - r0))
        pair = well * (near**2 - 2 * near - (far**2 - 2 * far))
        slope = well * (-2 * a * near**2 + 2 * a * near)  # d pair / d r
        pair, slope = np.where(inside, pair, 0.0), np.where(inside, slope, 0.0)
        rr = np.where(inside, r, 1.0)
        unit_slope = (slope / rr)[..., None] * d  # (n, n, m, 3)
        energy = 0.5 * pair.sum()
        forces = unit_slope.sum(axis=(1, 2))
        virial = 0.5 * np.einsum("ijmk,ijml->kl", unit_slope, d)
        stress = virial / atoms.get_volume()
        s = self.scale
        self.results = {
            "energy": s * energy,
            "free_energy": s * energy,
            "forces": s * forces,
            "stress": s * stress.flat[[0, 4, 8, 5, 2, 1]],
        }
