"""Elemental reference energies (AtomRef) and the GGA -> r2SCAN cross-functional gap.

GGA and r2SCAN total energies differ by large per-element shifts (Huang, Deng et al.,
npj Comput. Mater. 11, 313, 2025). The per-element reference energies ``mu_el`` are the
linear least-squares fit ``E_i ≈ sum_el n_i,el * mu_el`` of the total energies on the
compositions (CHGNet's AtomRef). Fitting the *difference* ``E_r2SCAN - E_GGA`` the same way
gives the per-element shift table; adding it to GGA energies "re-references" them to
r2SCAN. Energies are total energies in eV unless a name says per atom (eV/atom).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Composition
from scipy import stats

from pesbench.analysis.metrics import paired_arrays
from pesbench.errors import PesbenchError

__all__ = [
    "AtomRef",
    "CompositionLike",
    "Correlation",
    "CrossFunctionalSummary",
    "UnderdeterminedFitError",
    "composition_matrix",
    "correlation",
    "cross_functional_summary",
    "fit_atomref",
    "force_correlation",
]

CompositionLike = Composition | str | Mapping[str, float]
"""A pymatgen ``Composition``, a formula (``"Mg2O2"``) or a mapping element -> count."""


class UnderdeterminedFitError(PesbenchError, ValueError):
    """The compositions do not determine every element's reference energy."""


def _as_composition(value: CompositionLike) -> Composition:
    return value if isinstance(value, Composition) else Composition(value)


def composition_matrix(
    compositions: Sequence[CompositionLike], elements: Sequence[str] | None = None
) -> tuple[NDArray, list[str]]:
    """Counts of each element in each composition.

    Parameters
    ----------
    compositions
        One composition per structure (atoms in the cell, not the reduced formula).
    elements
        Column order; default: the elements present, sorted by symbol.

    Returns
    -------
    matrix, elements
        ``matrix[i, j]`` = number of atoms of ``elements[j]`` in structure ``i``.
    """
    comps = [_as_composition(c) for c in compositions]
    if elements is None:
        elements = sorted({str(el) for comp in comps for el in comp.elements})
    index = {el: j for j, el in enumerate(elements)}
    matrix = np.zeros((len(comps), len(elements)))
    for i, comp in enumerate(comps):
        for el, count in comp.get_el_amt_dict().items():
            if el not in index:
                raise ValueError(f"element {el} of {comp.formula} is not in {list(elements)}")
            matrix[i, index[el]] = count
    return matrix, list(elements)


@dataclass(frozen=True)
class AtomRef:
    """Per-element reference energies fitted by linear least squares on composition.

    Attributes
    ----------
    energies
        Element -> reference energy, eV/atom.
    rmse_per_atom
        Root-mean-square residual of the fit per atom, eV/atom.
    n_structures
        Number of structures fitted.
    """

    energies: dict[str, float]
    rmse_per_atom: float
    n_structures: int

    def reference_energy(self, compositions: Sequence[CompositionLike]) -> NDArray:
        """``sum_el n_el * mu_el`` of each composition, eV (total, not per atom)."""
        matrix, _ = composition_matrix(compositions, list(self.energies))
        return matrix @ np.array(list(self.energies.values()))

    def referenced(self, compositions: Sequence[CompositionLike], energies: ArrayLike) -> NDArray:
        """Total energies minus their elemental references, eV (total, not per atom)."""
        return np.asarray(energies, dtype=float) - self.reference_energy(compositions)

    def as_dict(self) -> dict[str, object]:
        """The fields as a dict."""
        return asdict(self)


def fit_atomref(
    compositions: Sequence[CompositionLike],
    energies: ArrayLike,
    elements: Sequence[str] | None = None,
) -> AtomRef:
    """Fit per-element reference energies: ``E_i ≈ sum_el n_i,el mu_el`` (least squares).

    Each structure is weighted by ``1 / n_atoms`` (the fit is of energies per atom, the
    way CHGNet fits its AtomRef), so large cells do not dominate.

    Parameters
    ----------
    compositions
        One composition per structure.
    energies
        Total energy of each structure, eV. Fit the difference of two functionals to get
        their per-element shift table.
    elements
        Elements to fit, in order; default all those present.

    Returns
    -------
    AtomRef

    Raises
    ------
    UnderdeterminedFitError
        When the compositions are linearly dependent in the elements (e.g. only one
        stoichiometry of a binary): then no per-element split of the energy exists.
    """
    matrix, elements = composition_matrix(compositions, elements)
    e = np.asarray(energies, dtype=float)
    if e.shape != (matrix.shape[0],):
        raise ValueError(f"{matrix.shape[0]} compositions but energies of shape {e.shape}")
    n_atoms = matrix.sum(axis=1)
    if np.any(n_atoms <= 0):
        raise ValueError("every composition needs at least one atom")
    a = matrix / n_atoms[:, None]
    b = e / n_atoms
    rank = np.linalg.matrix_rank(a)
    if rank < len(elements):
        raise UnderdeterminedFitError(
            f"the compositions fix only {rank} of {len(elements)} element reference energies "
            f"({', '.join(elements)}): add structures of other stoichiometries"
        )
    mu, *_ = np.linalg.lstsq(a, b, rcond=None)
    resid = b - a @ mu
    return AtomRef(
        energies={el: float(m) for el, m in zip(elements, mu, strict=True)},
        rmse_per_atom=float(np.sqrt(np.mean(resid**2))),
        n_structures=len(e),
    )


@dataclass(frozen=True)
class Correlation:
    """Pearson and Spearman correlation of two samples (dimensionless), and their size."""

    pearson: float
    spearman: float
    n: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        """The fields as a flat dict, keys prefixed."""
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


def correlation(x: ArrayLike, y: ArrayLike) -> Correlation:
    """Pearson and Spearman correlation of ``x`` and ``y`` (flattened); NaN when undefined."""
    a, b = paired_arrays(x, y)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Correlation(float("nan"), float("nan"), int(a.size))
    return Correlation(
        pearson=float(stats.pearsonr(a, b).statistic),
        spearman=float(stats.spearmanr(a, b).statistic),
        n=int(a.size),
    )


def force_correlation(forces_a: ArrayLike, forces_b: ArrayLike) -> dict[str, float | int]:
    """Correlation and through-origin slope of the force components of two functionals.

    Parameters
    ----------
    forces_a, forces_b
        Forces of the same atoms (eV/Å) at two levels of theory (e.g. GGA, r2SCAN).

    Returns
    -------
    dict
        ``pearson``, ``spearman``, ``n``, ``slope`` (b against a, dimensionless) and
        ``mae`` (eV/Å).
    """
    a, b = paired_arrays(forces_a, forces_b)
    denom = float(np.dot(a, a))
    return {
        **correlation(a, b).as_dict(),
        "slope": float(np.dot(a, b) / denom) if denom > 0 else float("nan"),
        "mae": float(np.mean(np.abs(b - a))),
    }


@dataclass(frozen=True)
class CrossFunctionalSummary:
    """How GGA energies relate to r2SCAN energies over a set of structures.

    Energies per atom throughout (eV/atom).

    Attributes
    ----------
    shift_mean, shift_std
        Mean and standard deviation of ``e_r2SCAN - e_GGA`` per atom.
    total
        Correlation of the raw per-atom energies of the two functionals.
    referenced
        Correlation of the per-atom energies after subtracting each functional's own
        fitted elemental references (formation-energy-like quantities).
    shift_table
        Per-element shift ``mu_r2SCAN - mu_GGA`` fitted on the training structures.
    mae_raw
        MAE of predicting r2SCAN per-atom energies by the GGA ones unchanged.
    mae_constant_shift
        ... by GGA plus the mean per-atom shift of the training structures.
    mae_rereferenced
        ... by GGA plus the per-element shift table (re-referencing).
    n_fit, n_test
        Structures used to fit the shifts and to measure the errors (the same set when no
        split was asked for: then the errors are in-sample).
    """

    shift_mean: float
    shift_std: float
    total: Correlation
    referenced: Correlation
    shift_table: dict[str, float]
    mae_raw: float
    mae_constant_shift: float
    mae_rereferenced: float
    n_fit: int
    n_test: int
    atomref_gga: dict[str, float] = field(default_factory=dict)
    atomref_r2scan: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The fields as a nested dict."""
        return asdict(self)


def cross_functional_summary(
    compositions: Sequence[CompositionLike],
    gga_energies: ArrayLike,
    r2scan_energies: ArrayLike,
    fit_mask: ArrayLike | None = None,
) -> CrossFunctionalSummary:
    """Shift, correlations, and the error of predicting r2SCAN from GGA energies.

    Parameters
    ----------
    compositions
        One composition per structure.
    gga_energies, r2scan_energies
        Total energies of each structure at the two levels of theory, eV.
    fit_mask
        Booleans: structures whose energies fit the shifts; the errors are measured on the
        others. Default: fit and measure on all (in-sample errors).

    Returns
    -------
    CrossFunctionalSummary
    """
    comps = [_as_composition(c) for c in compositions]
    e_gga, e_r2 = paired_arrays(gga_energies, r2scan_energies)
    n_atoms = np.array([c.num_atoms for c in comps], dtype=float)
    if n_atoms.shape != e_gga.shape:
        raise ValueError("one composition per energy is needed")
    fit = np.ones(len(comps), bool) if fit_mask is None else np.asarray(fit_mask, bool)
    test = ~fit if fit_mask is not None and np.any(~fit) else np.ones(len(comps), bool)
    fit_comps = [c for c, keep in zip(comps, fit, strict=True) if keep]
    test_comps = [c for c, keep in zip(comps, test, strict=True) if keep]
    elements = sorted({str(el) for comp in comps for el in comp.elements})

    pa_gga, pa_r2 = e_gga / n_atoms, e_r2 / n_atoms
    shift = pa_r2 - pa_gga
    ref_gga = fit_atomref(fit_comps, e_gga[fit], elements)
    ref_r2 = fit_atomref(fit_comps, e_r2[fit], elements)
    table = fit_atomref(fit_comps, (e_r2 - e_gga)[fit], elements)

    target = pa_r2[test]
    raw = pa_gga[test]
    const = raw + float(np.mean(shift[fit]))
    reref = raw + table.reference_energy(test_comps) / n_atoms[test]
    return CrossFunctionalSummary(
        shift_mean=float(np.mean(shift)),
        shift_std=float(np.std(shift)),
        total=correlation(pa_gga, pa_r2),
        referenced=correlation(
            ref_gga.referenced(comps, e_gga) / n_atoms, ref_r2.referenced(comps, e_r2) / n_atoms
        ),
        shift_table=table.energies,
        mae_raw=float(np.mean(np.abs(raw - target))),
        mae_constant_shift=float(np.mean(np.abs(const - target))),
        mae_rereferenced=float(np.mean(np.abs(reref - target))),
        n_fit=int(fit.sum()),
        n_test=int(test.sum()),
        atomref_gga=ref_gga.energies,
        atomref_r2scan=ref_r2.energies,
    )
