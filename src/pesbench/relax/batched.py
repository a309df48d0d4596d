"""Many relaxations at once: one ASE optimizer per structure, one batched evaluation per step.

Every structure keeps its own ASE optimizer, filter and constraints, set up exactly as
:func:`pesbench.relax.optimize.relax_atoms` sets them up, and the loop of ASE's
``Dynamics.irun`` is run by hand for all of them in lock step. Between an optimizer's step
(which moves the atoms) and its convergence check (which reads the forces there), the
energies, forces and stresses of all structures still relaxing are computed by ONE call of
an ``evaluate`` function, which a uMLIP answers with its batched forward pass
(:meth:`pesbench.properties.sides.ModelSide.relax_many`). Each structure's calculator is
then handed its results, the way ASE's ``SinglePointCalculator`` holds them, so the
optimizer reads them as if it had computed them itself.

The trajectories are therefore ASE's one-by-one trajectories, up to the difference between
a batched and a single forward pass (none for a calculator without batches). A structure
that converges or runs out of steps leaves the batch; one the model cannot evaluate is
reported with the model's reason and the others go on. Imports only ASE and numpy, like
:mod:`pesbench.relax.optimize`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.constraints import FixAtoms
from ase.filters import FrechetCellFilter
from ase.optimize.optimize import Optimizer

from pesbench.relax.optimize import OPTIMIZERS, RelaxOutcome, _checked, _record

__all__ = ["Evaluate", "relax_many"]

Evaluate = Callable[[Sequence[Atoms]], Sequence["dict[str, Any] | str"]]
"""Energies, forces and stresses of several structures in one call.

Index-aligned with its argument: for each structure either the results an ASE calculator
would hold (``energy``, ``free_energy``, ``forces`` (n, 3), ``stress`` (Voigt, 6), eV and
eV/Å³ with ASE's sign) or a one-line reason why it has none.
"""


class EvaluationError(RuntimeError):
    """A structure that ``evaluate`` gave no results for (its reason is the message)."""


class _HeldResults(Calculator):
    """A structure's calculator in a batch: it holds the results the batch gave it.

    An optimizer that asks at positions the batch did not see (a line search) gets one
    extra single-structure ``evaluate`` call, counted in ``extra_calls``.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, evaluate: Evaluate) -> None:
        super().__init__()
        self.evaluate = evaluate
        self.extra_calls = 0

    def hold(self, atoms: Atoms, results: dict[str, Any]) -> None:
        """Take ``results`` as this calculator's results at ``atoms`` as it is now."""
        self.atoms = atoms.copy()
        self.results = dict(results)

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        """Evaluate ``atoms`` alone (only where the batch did not)."""
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        self.extra_calls += 1
        result = self.evaluate([self.atoms])[0]
        if isinstance(result, str):
            raise EvaluationError(result)
        self.results = dict(result)


@dataclass
class _Run:
    """One structure's relaxation in progress."""

    atoms: Atoms
    calc: _HeldResults
    outcome: RelaxOutcome
    fixed: tuple[int, ...]
    opt: Optimizer | None
    seconds: float = 0.0
    converged: bool = False

    def record(self) -> None:
        _record(self.atoms, self.outcome, self.fixed)

    def check(self) -> bool:
        """After an evaluation: ASE's log, observers and convergence test (``Dynamics.irun``)."""
        if self.opt is None:  # a single point
            self.record()
            return True
        gradient = self.opt.optimizable.get_gradient()
        self.opt.log(gradient)
        self.opt.call_observers()
        gradient = self.opt.optimizable.get_gradient()
        return bool(self.opt.gradient_converged(gradient))


def relax_many(
    structures: Sequence[Atoms],
    evaluate: Evaluate,
    *,
    relax_cell: bool = False,
    fix_indices: tuple[int, ...] | list[int] = (),
    fmax: float = 0.05,
    max_steps: int = 500,
    optimizer: str = "BFGS",
    logfile: str | None = None,
) -> list[RelaxOutcome]:
    """Relax every structure in place, evaluating all that are still relaxing together.

    Parameters
    ----------
    structures
        ASE ``Atoms``; their positions (and cells) are changed in place and their
        calculators replaced (a calculator holding the batch's last results is left on).
    evaluate
        Results of several structures in one call (:data:`Evaluate`).
    relax_cell, fix_indices, fmax, max_steps, optimizer, logfile
        As :func:`pesbench.relax.optimize.relax_atoms`, the same for every structure.

    Returns
    -------
    list[RelaxOutcome]
        Index-aligned with ``structures``, each what :func:`relax_atoms` returns for it with
        a calculator giving the same numbers. A structure ``evaluate`` had no results for is
        ``converged=False`` with the reason (no frames when it failed at the start, else
        the frames up to there). ``seconds`` is the structure's share of the wall time:
        its optimizer steps, plus each evaluation's time split by atoms among the
        structures in it.
    """
    fixed = _checked(optimizer, fix_indices, [len(atoms) for atoms in structures])
    settings = _Settings(relax_cell, fmax, max_steps, optimizer)
    runs = [_start(atoms, evaluate, fixed, settings, logfile) for atoms in structures]
    active = _evaluate(runs, evaluate)
    while active:
        active = _evaluate([run for run in active if _advance(run, settings)], evaluate)
    return [run.outcome for run in runs]


class _Settings(NamedTuple):
    """What :func:`relax_many` relaxes every structure with."""

    relax_cell: bool
    fmax: float
    max_steps: int
    optimizer: str


def _start(
    atoms: Atoms,
    evaluate: Evaluate,
    fixed: tuple[int, ...],
    settings: _Settings,
    logfile: str | None,
) -> _Run:
    """One structure's run: its constraint, its batch calculator and its optimizer."""
    relax_cell, fmax, max_steps, optimizer = settings
    start = time.perf_counter()
    atoms.set_constraint(FixAtoms(indices=list(fixed)) if fixed else None)
    calc = _HeldResults(evaluate)
    atoms.calc = calc
    opt = None
    if max_steps > 0:
        target = FrechetCellFilter(atoms) if relax_cell else atoms
        opt = OPTIMIZERS[optimizer](target, logfile=logfile)
        opt.fmax = fmax
        opt.max_steps = max_steps
    run = _Run(atoms, calc, RelaxOutcome(converged=False, n_steps=0, reason=None), fixed, opt)
    if opt is not None:
        opt.attach(run.record, interval=1)
    run.seconds = time.perf_counter() - start
    return run


def _advance(run: _Run, settings: _Settings) -> bool:
    """After an evaluation: step the optimizer (True: still relaxing) or finish the run."""
    start = time.perf_counter()
    still = False
    try:
        done = run.check()
        if not done and run.opt is not None and run.opt.nsteps < settings.max_steps:
            run.opt.step()
            run.opt.nsteps += 1
            still = True
        else:
            run.converged = done
            _finish(run, *settings)
    except EvaluationError as exc:  # an extra single evaluation the model refused
        _fail(run, str(exc))
    run.seconds += time.perf_counter() - start
    return still


def _evaluate(runs: list[_Run], evaluate: Evaluate) -> list[_Run]:
    """One ``evaluate`` call over ``runs``; those without results are failed and dropped."""
    if not runs:
        return []
    start = time.perf_counter()
    results = list(evaluate([run.atoms for run in runs]))
    if len(results) != len(runs):
        raise RuntimeError(f"evaluate returned {len(results)} results for {len(runs)} structures")
    elapsed = time.perf_counter() - start
    n_atoms = sum(len(run.atoms) for run in runs)
    ok = []
    for run, result in zip(runs, results, strict=True):
        run.seconds += elapsed * len(run.atoms) / max(n_atoms, 1)
        if isinstance(result, str):
            _fail(run, result)
        else:
            run.calc.hold(run.atoms, result)
            ok.append(run)
    return ok


def _finish(run: _Run, relax_cell: bool, fmax: float, max_steps: int, optimizer: str) -> None:
    """The outcome as :func:`relax_atoms` writes it."""
    outcome = run.outcome
    if run.opt is None:
        outcome.converged = True
    else:
        outcome.converged = run.converged
        outcome.n_steps = int(run.opt.nsteps)
        if not outcome.converged:
            outcome.reason = (
                f"not converged in {max_steps} {optimizer} steps: largest force "
                f"{outcome.max_force:.3f} eV/Å{' (or cell stress)' if relax_cell else ''}, "
                f"asked < {fmax} eV/Å"
            )
    outcome.seconds = run.seconds
    run.atoms.set_constraint(None)


def _fail(run: _Run, reason: str) -> None:
    outcome = run.outcome
    outcome.converged = False
    outcome.n_steps = int(run.opt.nsteps) if run.opt is not None else 0
    outcome.reason = reason[:300]
    outcome.seconds = run.seconds
    run.atoms.set_constraint(None)
