"""Error metrics of predictions against references: MAE, RMSE and maximum absolute error.

Every function takes the reference first and the prediction second, as arrays of any
matching shape, and compares them element by element (force *components*, stress tensor
*components*). Units are those of the inputs (eV/atom, eV/Å, GPa).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "ErrorStats",
    "error_stats",
    "mae",
    "max_abs_error",
    "paired_arrays",
    "rmse",
    "stack_components",
]


def paired_arrays(reference: ArrayLike, predicted: ArrayLike) -> tuple[NDArray, NDArray]:
    """Return ``reference`` and ``predicted`` as flat float arrays of equal length.

    Raises
    ------
    ValueError
        When the shapes differ or the arrays are empty.
    """
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(predicted, dtype=float)
    if ref.shape != pred.shape:
        raise ValueError(f"reference shape {ref.shape} != predicted shape {pred.shape}")
    if ref.size == 0:
        raise ValueError("no values to compare")
    return ref.ravel(), pred.ravel()


def mae(reference: ArrayLike, predicted: ArrayLike) -> float:
    """Mean absolute error ``mean(|predicted - reference|)``, in the units of the inputs."""
    ref, pred = paired_arrays(reference, predicted)
    return float(np.mean(np.abs(pred - ref)))


def rmse(reference: ArrayLike, predicted: ArrayLike) -> float:
    """Root-mean-square error ``sqrt(mean((predicted - reference)^2))``, units of the inputs."""
    ref, pred = paired_arrays(reference, predicted)
    return float(np.sqrt(np.mean((pred - ref) ** 2)))


def max_abs_error(reference: ArrayLike, predicted: ArrayLike) -> float:
    """Largest absolute error ``max(|predicted - reference|)``, in the units of the inputs."""
    ref, pred = paired_arrays(reference, predicted)
    return float(np.max(np.abs(pred - ref)))


@dataclass(frozen=True)
class ErrorStats:
    """MAE, RMSE and maximum absolute error of one quantity, in the units of the inputs.

    Attributes
    ----------
    mae, rmse, max
        The three errors.
    n
        Number of values compared (components, not atoms).
    """

    mae: float
    rmse: float
    max: float
    n: int

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        """The fields as a flat dict, keys prefixed (``prefix="force_"`` -> ``force_mae``)."""
        return {
            f"{prefix}mae": self.mae,
            f"{prefix}rmse": self.rmse,
            f"{prefix}max": self.max,
            f"{prefix}n": self.n,
        }


def error_stats(reference: ArrayLike, predicted: ArrayLike) -> ErrorStats:
    """MAE, RMSE and maximum absolute error of ``predicted`` against ``reference``.

    Parameters
    ----------
    reference, predicted
        Arrays of the same shape (any), compared element by element.

    Returns
    -------
    ErrorStats
        The errors, in the units of the inputs, and the number of values compared.
    """
    ref, pred = paired_arrays(reference, predicted)
    diff = pred - ref
    absolute = np.abs(diff)
    n = int(diff.size)
    # np.mean, np.sqrt and np.max without their Python wrappers (a structure's forces are a
    # few dozen values: the wrappers were most of the time); the same reductions (numpy's
    # pairwise sum), the same division by n and IEEE's exactly rounded square root.
    return ErrorStats(
        mae=float(np.add.reduce(absolute)) / n,
        rmse=math.sqrt(float(np.add.reduce(diff * diff)) / n),
        max=float(np.maximum.reduce(absolute)),
        n=n,
    )


def stack_components(arrays: Sequence[ArrayLike]) -> NDArray:
    """Concatenate per-structure arrays (forces (n_i, 3), stresses 3x3) into one flat vector."""
    if not arrays:
        return np.zeros(0)
    return np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays])
