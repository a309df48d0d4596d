"""One relaxation loop on an ASE ``Atoms`` with its calculator attached: pure ASE.

Imports only ASE and numpy, so that GPAW's MPI ranks can run it
(:mod:`pesbench.engines.gpaw.worker`) without importing the rest of pesbench. The
optimizer is one of ASE's (BFGS by default); cell relaxations go through ASE's
``FrechetCellFilter``; held atoms through ``FixAtoms``. Every frame's energy, forces
(unconstrained), stress, cell and positions is recorded, the initial frame included, from
the calculator's own results of that step (no extra evaluation).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import Atoms
from ase.constraints import FixAtoms
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS, FIRE, LBFGS

__all__ = ["OPTIMIZERS", "RelaxOutcome", "relax_atoms"]

OPTIMIZERS = {"BFGS": BFGS, "FIRE": FIRE, "LBFGS": LBFGS}
"""ASE optimizers by name."""


@dataclass
class RelaxOutcome:
    """What :func:`relax_atoms` returns (ASE units: eV, eV/Å, eV/Å³ with ASE's sign)."""

    converged: bool
    n_steps: int
    reason: str | None
    """Why it did not converge, in one line; None when it did."""
    energies: list[float] = field(default_factory=list)
    forces: list[list[list[float]]] = field(default_factory=list)
    stresses: list[list[list[float]]] = field(default_factory=list)
    """3x3 stress of each frame, eV/Å³, positive = tensile (ASE)."""
    cells: list[list[list[float]]] = field(default_factory=list)
    positions: list[list[list[float]]] = field(default_factory=list)
    max_force: float | None = None
    """Largest force norm on a free atom in the last frame, eV/Å."""
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (what the GPAW worker writes)."""
        return dict(self.__dict__)


def _free_max_force(forces: np.ndarray, fixed: tuple[int, ...]) -> float:
    free = np.ones(len(forces), dtype=bool)
    free[list(fixed)] = False
    return float(np.linalg.norm(forces[free], axis=1).max()) if free.any() else 0.0


def _record(atoms: Atoms, outcome: RelaxOutcome, fixed: tuple[int, ...]) -> None:
    """Append the current frame (the calculator's results of this step) to ``outcome``."""
    forces = atoms.get_forces(apply_constraint=False)
    outcome.energies.append(float(atoms.get_potential_energy()))
    outcome.forces.append(np.asarray(forces, dtype=float).tolist())
    outcome.stresses.append(np.asarray(atoms.get_stress(voigt=False), dtype=float).tolist())
    outcome.cells.append(np.asarray(atoms.cell, dtype=float).tolist())
    outcome.positions.append(np.asarray(atoms.positions, dtype=float).tolist())
    outcome.max_force = _free_max_force(np.asarray(forces), fixed)


def _checked(
    optimizer: str, fix_indices: tuple[int, ...] | list[int], sizes: Iterable[int]
) -> tuple[int, ...]:
    """The fixed atoms' indices, sorted, once each.

    Raises ``ValueError`` for an unknown optimizer, or an index past the atoms of a
    structure (``sizes``: the number of atoms of each).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    fixed = tuple(sorted(set(int(i) for i in fix_indices)))
    for n_atoms in sizes:
        if fixed and max(fixed) >= n_atoms:
            raise ValueError(f"fixed atom index {max(fixed)} out of range for {n_atoms} atoms")
    return fixed


def relax_atoms(
    atoms: Atoms,
    *,
    relax_cell: bool = False,
    fix_indices: tuple[int, ...] | list[int] = (),
    fmax: float = 0.05,
    max_steps: int = 500,
    optimizer: str = "BFGS",
    logfile: str | None = None,
) -> RelaxOutcome:
    """Relax ``atoms`` in place with its attached calculator.

    Parameters
    ----------
    atoms
        With a calculator attached; its positions (and cell) are changed in place.
    relax_cell
        Relax the cell too (``FrechetCellFilter``: the stress enters the convergence
        criterion as stress times volume, in eV).
    fix_indices
        Atoms held fixed (``FixAtoms``); any constraint already on ``atoms`` is replaced.
    fmax
        Convergence threshold, eV/Å.
    max_steps
        Most optimizer steps; 0 evaluates the structure once (always "converged").
    optimizer
        ``BFGS``, ``FIRE`` or ``LBFGS``.
    logfile
        Optimizer log (None: silent; ``"-"``: standard output).

    Returns
    -------
    RelaxOutcome
        ``converged`` False with ``reason`` when ``max_steps`` ran out.
    """
    start = time.perf_counter()
    fixed = _checked(optimizer, fix_indices, [len(atoms)])
    atoms.set_constraint(FixAtoms(indices=list(fixed)) if fixed else None)
    outcome = RelaxOutcome(converged=False, n_steps=0, reason=None)
    record = functools.partial(_record, atoms, outcome, fixed)
    if max_steps == 0:
        record()
        outcome.converged = True
    else:
        target = FrechetCellFilter(atoms) if relax_cell else atoms
        opt = OPTIMIZERS[optimizer](target, logfile=logfile)
        opt.attach(record, interval=1)
        outcome.converged = bool(opt.run(fmax=fmax, steps=max_steps))
        outcome.n_steps = int(opt.nsteps)
        if not outcome.converged:
            outcome.reason = (
                f"not converged in {max_steps} {optimizer} steps: largest force "
                f"{outcome.max_force:.3f} eV/Å{' (or cell stress)' if relax_cell else ''}, "
                f"asked < {fmax} eV/Å"
            )
    atoms.set_constraint(None)
    outcome.seconds = time.perf_counter() - start
    return outcome
