"""The sanity check every loaded model passes before use: a model that loads can be garbage.

Three reference cells (primitive diamond Si, rocksalt MgO, fcc Cu: every atom on a site
where symmetry makes the force vanish) are predicted with the model, and it is rejected
(:class:`~pesbench.mlip.errors.ModelSanityError`) unless, for each cell whose elements it
knows (at least one):

1. energy, forces and stress are finite;
2. every force component is below :data:`FORCE_TOL` (symmetry says zero);
3. the energy per atom agrees with a value recorded for this model id within
   :data:`RECORDED_TOL` (the CHGNet and SevenNet weights in their wheels), or else, for a
   model trained on DFT energies, with the known value for its functional within
   :data:`FUNCTIONAL_TOL`, or else (an arbitrary ASE calculator) lies within
   :data:`ENERGY_BOUNDS`.

The functional values are CHGNet's (0.3.0 for PBE, r2scan for r2SCAN): MP-compatible
total energies, which other models trained on MP, MatPES or Alexandria data reproduce to
a few tenths of an eV/atom. The garbage matgl models described in the project notes miss
MgO by 4 eV/atom and fail.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pymatgen.core import Lattice, Structure

from pesbench.mlip.base import Predictor
from pesbench.mlip.errors import ModelSanityError

__all__ = [
    "ENERGY_BOUNDS",
    "FORCE_TOL",
    "FUNCTIONAL_ENERGIES",
    "FUNCTIONAL_TOL",
    "RECORDED_ENERGIES",
    "RECORDED_TOL",
    "reference_cells",
    "sanity_check",
]

FORCE_TOL = 1e-3
"""eV/Å: largest force component allowed on the symmetric reference cells."""
RECORDED_TOL = 0.01
"""eV/atom: agreement with a value recorded for the same model id."""
FUNCTIONAL_TOL = 1.0
"""eV/atom: agreement with the known value for the model's training functional."""
ENERGY_BOUNDS = (-20.0, 20.0)
"""eV/atom: plausible range for calculators not trained on DFT total energies."""


def _fcc(a: float) -> Lattice:
    h = a / 2
    return Lattice([[0, h, h], [h, 0, h], [h, h, 0]])


def reference_cells() -> dict[str, Structure]:
    """The reference cells, by name (primitive cells at about their PBE volumes)."""
    return {
        "Si-diamond": Structure(_fcc(5.468), ["Si", "Si"], [[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]]),
        "MgO-rocksalt": Structure(_fcc(4.256), ["Mg", "O"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
        "Cu-fcc": Structure(_fcc(3.63), ["Cu"], [[0.0, 0.0, 0.0]]),
    }


RECORDED_ENERGIES: dict[str, dict[str, float]] = {
    # measured with chgnet 0.4.2 on CPU (float32), cells of reference_cells()
    "chgnet-0.3.0": {"Si-diamond": -5.3138, "MgO-rocksalt": -6.3139, "Cu-fcc": -4.0826},
    "chgnet-0.2.0": {"Si-diamond": -5.3726, "MgO-rocksalt": -6.3204, "Cu-fcc": -4.0664},
    "chgnet-r2scan": {"Si-diamond": -8.7324, "MgO-rocksalt": -8.0343, "Cu-fcc": -10.8110},
    # measured with sevenn 0.13.0 on CPU (float32), e3nn 0.5.1: raw (uncorrected) energies
    "7net-0": {"Si-diamond": -5.4029, "MgO-rocksalt": -5.9775, "Cu-fcc": -4.0951},
    "7net-l3i5": {"Si-diamond": -5.4243, "MgO-rocksalt": -5.9796, "Cu-fcc": -4.0910},
    "7net-mf-0:PBE": {"Si-diamond": -5.3775, "MgO-rocksalt": -5.9692, "Cu-fcc": -4.0842},
    "7net-mf-0:r2SCAN": {"Si-diamond": -8.7174, "MgO-rocksalt": -8.0395, "Cu-fcc": -10.8120},
}
"""eV/atom recorded with the model id: a changed or corrupted file fails."""

FUNCTIONAL_ENERGIES: dict[str, dict[str, float]] = {
    "PBE": RECORDED_ENERGIES["chgnet-0.3.0"],
    "PBE+U": RECORDED_ENERGIES["chgnet-0.3.0"],
    "r2SCAN": RECORDED_ENERGIES["chgnet-r2scan"],
}
"""eV/atom expected of any model trained on that functional's MP-compatible energies."""


def sanity_check(
    predictor: Predictor,
    *,
    expected: dict[str, float] | None = None,
    tolerance: float | None = None,
) -> dict[str, float]:
    """Check ``predictor`` on the reference cells; raise if it predicts nonsense.

    Parameters
    ----------
    predictor
        A loaded model.
    expected
        Energies per atom by cell name to compare with, instead of the recorded or
        functional values (the module docstring says which apply by default).
    tolerance
        eV/atom allowed from ``expected``.

    Returns
    -------
    dict[str, float]
        Energy per atom (eV/atom) of each cell checked, by name.

    Raises
    ------
    ModelSanityError
        With the cell, the value and what was expected.
    """
    cells = reference_cells()
    check = _energy_rule(predictor, expected, tolerance)
    names = list(cells)
    preds = predictor.predict([cells[n] for n in names])
    report: dict[str, float] = {}
    problems = []
    for k, name in enumerate(names):
        cell = cells[name]
        failure = preds.failures[k]
        if failure is not None:
            # a cell with elements the model lacks is skipped; when the model cannot
            # say which elements it knows (an ASE calculator), any failing cell is
            if predictor.elements is not None and "unknown to" not in failure:
                problems.append(f"{name}: {failure}")
            continue
        energy = preds.energies[k]
        forces = preds.forces[k]
        assert energy is not None  # no failure: all set
        assert forces is not None
        per_atom = energy / len(cell)
        problems += _cell_problems(name, per_atom, forces, check)
        report[name] = per_atom
    if not report and not problems:
        problems.append(f"predicts none of the reference cells ({', '.join(names)})")
    if problems:
        raise ModelSanityError(
            f"model {predictor.model_id} failed its sanity check ({'; '.join(problems)}); "
            "it is not used: check the model file, or the functional it was trained on"
        )
    return report


def _cell_problems(
    name: str, per_atom: float, forces: np.ndarray, check: Callable[[str, float], str | None]
) -> list[str]:
    """What is wrong with one cell's prediction: a force where symmetry says 0, its energy."""
    problems = []
    worst = float(np.abs(forces).max())
    if worst > FORCE_TOL:
        problems.append(f"{name}: force {worst:.2g} eV/Å where symmetry says 0 (limit {FORCE_TOL})")
    message = check(name, per_atom)
    if message:
        problems.append(f"{name}: {message}")
    return problems


def _energy_rule(
    predictor: Predictor, expected: dict[str, float] | None, tolerance: float | None
) -> Callable[[str, float], str | None]:
    if expected is not None:
        values, tol, what = expected, tolerance or RECORDED_TOL, "the expected value"
    elif predictor.model_id in RECORDED_ENERGIES:
        values = RECORDED_ENERGIES[predictor.model_id]
        tol, what = tolerance or RECORDED_TOL, f"the value recorded for {predictor.model_id}"
    elif predictor.dft_trained:
        functional = predictor.info.functional
        values = FUNCTIONAL_ENERGIES[functional]
        tol, what = tolerance or FUNCTIONAL_TOL, f"the known {functional} value"
    else:
        low, high = ENERGY_BOUNDS

        def bounded(name: str, per_atom: float) -> str | None:
            if low <= per_atom <= high:
                return None
            return f"{per_atom:.3f} eV/atom outside the plausible range [{low}, {high}]"

        return bounded

    def near(name: str, per_atom: float) -> str | None:
        if name not in values or abs(per_atom - values[name]) <= tol:
            return None
        return (
            f"{per_atom:.3f} eV/atom, {what} is {values[name]:.3f} "
            f"(off by {per_atom - values[name]:+.3f}, tolerance {tol})"
        )

    return near
