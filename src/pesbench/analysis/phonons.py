"""Phonon frequencies over a whole q-mesh, and how a model's compare with the reference's.

The softening paper compares phonons mode by mode: the MAE of the frequencies, and the
least-squares slope of model against reference frequencies through the origin (the phonon
softening scale; a PES softened in energy by ``s`` has frequencies ``sqrt(s)`` times). Both
sides' frequencies must be on the same q-points in the same order: :func:`mesh_qpoints`
lists a Γ-centred mesh without symmetry reduction, so the order does not depend on the
symmetry each side's relaxed cell happens to keep.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike, NDArray

from pesbench.analysis.metrics import mae
from pesbench.analysis.softening import softening_scale

__all__ = ["frequency_comparison", "mesh_qpoints", "phonon_dos", "phonon_dos_figure"]


def mesh_qpoints(mesh: Sequence[int]) -> NDArray:
    """Every q-point of a Γ-centred mesh, reduced coordinates in [-0.5, 0.5), C order.

    Parameters
    ----------
    mesh
        Divisions along the three reciprocal lattice vectors, e.g. ``(8, 8, 8)``.

    Returns
    -------
    numpy.ndarray
        ``(prod(mesh), 3)``; q-point ``(i, j, k)`` is row ``(i * m1 + j) * m2 + k``.
    """
    divisions = [int(m) for m in mesh]
    if len(divisions) != 3 or min(divisions) < 1:
        raise ValueError(f"a mesh is three positive integers, got {list(mesh)}")
    axes = [np.arange(m) / m for m in divisions]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid - np.floor(grid + 0.5)


def frequency_comparison(
    reference_values: ArrayLike, model_values: ArrayLike
) -> tuple[float, float]:
    """MAE and through-origin slope of model against reference phonon frequencies.

    Parameters
    ----------
    reference_values, model_values
        Frequencies of the same modes in the same order (THz), any matching shape
        (e.g. the flattened q-mesh x bands of each side's ``phonon_frequencies``).

    Returns
    -------
    tuple of float
        ``(MAE, slope)``: the MAE in THz, and ``sum(r m) / sum(r r)`` (dimensionless;
        < 1: the model's phonons are soft).

    Raises
    ------
    ValueError
        When the shapes differ, there are no values, or every reference value is zero.
    """
    return mae(reference_values, model_values), softening_scale(reference_values, model_values)


def phonon_dos(frequencies: ArrayLike, grid: ArrayLike, sigma: float = 0.1) -> NDArray:
    """Phonon density of states from the frequencies of a uniform q-mesh.

    A Gaussian of width ``sigma`` (THz) per mode, normalised to one state per mode (the
    integral over frequency is 1), evaluated on ``grid`` (THz).
    """
    freqs = np.ravel(np.asarray(frequencies, dtype=float))
    points = np.asarray(grid, dtype=float)
    if freqs.size == 0 or sigma <= 0:
        raise ValueError("phonon_dos needs frequencies and a positive sigma")
    weights = np.exp(-0.5 * ((points[:, None] - freqs[None, :]) / sigma) ** 2)
    return weights.sum(axis=1) / (freqs.size * sigma * np.sqrt(2.0 * np.pi))


def phonon_dos_figure(
    curves: Sequence[tuple[str, str, ArrayLike, ArrayLike]], sigma: float = 0.1
) -> Figure:
    """One panel per material: the DOS of the DFT and the model frequencies, overlaid.

    ``curves`` holds ``(title, model label, DFT frequencies, model frequencies)`` (THz).
    """
    fig = Figure(figsize=(4.2 * len(curves), 3.2))
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (title, label, reference, model) in zip(axes, curves, strict=True):
        top = max(np.max(reference), np.max(model)) * 1.1 + 3 * sigma
        grid = np.linspace(min(0.0, np.min(reference), np.min(model)), top, 600)
        ax.plot(grid, phonon_dos(reference, grid, sigma), color="black", label="DFT")
        ax.plot(grid, phonon_dos(model, grid, sigma), color="tab:red", label=label)
        ax.set_xlabel("frequency (THz)")
        ax.set_ylabel("DOS (states/THz/mode)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
