"""PES softening: the slope of predicted against reference forces, cMAE, one-point correction.

The softening scale of a material (Deng et al., npj Comput. Mater. 11, 9, 2025) is the
least-squares slope of the predicted force components against the DFT ones, fitted
through the origin: ``s = sum(x y) / sum(x x)`` with ``x`` the reference and ``y`` the
predicted components. ``s < 1`` means the model's PES is softer than DFT's. The corrected
MAE (cMAE) is the force MAE after dividing the predictions by ``s``: what is left once the
systematic softening is removed. The one-point correction fits ``s`` on a single structure
of a material (in the paper, one high-energy structure) and divides the predictions of the
material's other structures by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike

from pesbench.analysis.metrics import paired_arrays, stack_components

__all__ = [
    "OnePointCorrection",
    "SofteningFit",
    "corrected_mae",
    "fit_softening",
    "one_point_correction",
    "softening_scale",
]


def softening_scale(reference_forces: ArrayLike, predicted_forces: ArrayLike) -> float:
    """Least-squares slope of predicted vs reference force components, through the origin.

    Parameters
    ----------
    reference_forces, predicted_forces
        Forces of the same atoms, shape (n, 3) (or any matching shape: all components of
        a material's structures concatenated), eV/Å.

    Returns
    -------
    float
        ``sum(ref * pred) / sum(ref ** 2)``, dimensionless; < 1 is a softened PES.

    Raises
    ------
    ValueError
        When the shapes differ, or every reference component is zero (no slope defined).
    """
    ref, pred = paired_arrays(reference_forces, predicted_forces)
    denom = float(np.dot(ref, ref))
    if denom == 0.0:
        raise ValueError("all reference force components are zero: the slope is undefined")
    return float(np.dot(ref, pred) / denom)


def corrected_mae(reference_forces: ArrayLike, predicted_forces: ArrayLike, scale: float) -> float:
    """Force MAE after dividing the predictions by ``scale`` (the cMAE when ``scale`` = s), eV/Å."""
    if scale == 0.0:
        raise ValueError("scale must be non-zero")
    ref, pred = paired_arrays(reference_forces, predicted_forces)
    return float(np.mean(np.abs(pred / scale - ref)))


@dataclass(frozen=True)
class SofteningFit:
    """The softening scale of one set of forces, with the diagnostics of an ordinary fit.

    Attributes
    ----------
    scale
        Slope through the origin (the softening scale), dimensionless.
    slope, intercept
        Ordinary least squares with an intercept: ``pred ≈ slope * ref + intercept``
        (dimensionless, eV/Å).
    r2
        Coefficient of determination of the fit with intercept (dimensionless).
    r2_origin
        ``1 - SS_res / SS_tot`` of the through-origin fit, SS_tot about the mean.
    mae
        Force MAE of the raw predictions, eV/Å.
    cmae
        Force MAE after dividing the predictions by ``scale``, eV/Å.
    n
        Number of force components fitted.
    """

    scale: float
    slope: float
    intercept: float
    r2: float
    r2_origin: float
    mae: float
    cmae: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a flat dict."""
        return asdict(self)


def _r2(y: np.ndarray, fitted: np.ndarray) -> float:
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - fitted) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def fit_softening(reference_forces: ArrayLike, predicted_forces: ArrayLike) -> SofteningFit:
    """Softening scale, fit with intercept, R², MAE and cMAE of one set of forces.

    Parameters
    ----------
    reference_forces, predicted_forces
        Forces (eV/Å) of matching shape: one structure (n, 3), or a material's structures
        flattened together with :func:`~pesbench.analysis.metrics.stack_components`.

    Returns
    -------
    SofteningFit
    """
    x, y = paired_arrays(reference_forces, predicted_forces)
    scale = softening_scale(x, y)
    if x.size >= 2 and np.ptp(x) > 0:
        slope, intercept = (float(v) for v in np.polyfit(x, y, 1))
    else:
        slope, intercept = float("nan"), float("nan")
    return SofteningFit(
        scale=scale,
        slope=slope,
        intercept=intercept,
        r2=_r2(y, slope * x + intercept) if np.isfinite(slope) else float("nan"),
        r2_origin=_r2(y, scale * x),
        mae=float(np.mean(np.abs(y - x))),
        cmae=corrected_mae(x, y, scale),
        n=int(x.size),
    )


@dataclass(frozen=True)
class OnePointCorrection:
    """A scale fitted on one structure, applied to the others of the same material.

    Attributes
    ----------
    scale
        Softening scale of the fitting structure alone (dimensionless).
    fit_index
        Index, in the input list, of the structure the scale was fitted on.
    mae_before, mae_after
        Force MAE (eV/Å) over the *other* structures' components, raw and after dividing
        the predictions by ``scale``.
    relative_change
        ``(mae_after - mae_before) / mae_before``: negative when the correction helps.
    n_structures
        Number of structures the correction was applied to.
    """

    scale: float
    fit_index: int
    mae_before: float
    mae_after: float
    relative_change: float
    n_structures: int

    def as_dict(self) -> dict[str, float | int]:
        """The fields as a flat dict."""
        return asdict(self)


def one_point_correction(
    reference_forces: Sequence[ArrayLike],
    predicted_forces: Sequence[ArrayLike],
    fit_index: int = 0,
) -> OnePointCorrection:
    """Fit the softening scale on structure ``fit_index``, apply it to the other structures.

    Parameters
    ----------
    reference_forces, predicted_forces
        One force array (n_i, 3), eV/Å, per structure of a material, in the same order.
    fit_index
        Which structure the scale is fitted on (the paper takes a high-energy one).

    Returns
    -------
    OnePointCorrection
        MAE of the other structures before and after the correction.

    Raises
    ------
    ValueError
        With fewer than two structures, or lists of different lengths.
    """
    if len(reference_forces) != len(predicted_forces):
        raise ValueError("reference and predicted lists differ in length")
    if len(reference_forces) < 2:
        raise ValueError("a one-point correction needs at least two structures")
    n = len(reference_forces)
    if not -n <= fit_index < n:
        raise ValueError(f"fit_index {fit_index} out of range for {n} structures")
    fit_index %= n
    scale = softening_scale(reference_forces[fit_index], predicted_forces[fit_index])
    others = [i for i in range(n) if i != fit_index]
    ref = stack_components([reference_forces[i] for i in others])
    pred = stack_components([predicted_forces[i] for i in others])
    before = float(np.mean(np.abs(pred - ref)))
    after = corrected_mae(ref, pred, scale)
    return OnePointCorrection(
        scale=scale,
        fit_index=fit_index,
        mae_before=before,
        mae_after=after,
        relative_change=(after - before) / before if before > 0 else float("nan"),
        n_structures=len(others),
    )
