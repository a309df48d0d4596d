"""Figures of the report (matplotlib, object API: no pyplot state, no display needed).

Each function takes arrays or a tidy table and returns a ``matplotlib.figure.Figure``;
:func:`figure_png` turns one into PNG bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from pesbench.analysis.metrics import paired_arrays

__all__ = [
    "BARS_UP_TO",
    "DENSITY_ABOVE",
    "cross_functional_figure",
    "figure_png",
    "one_point_figure",
    "parity_figure",
    "softening_distribution_figure",
]


DENSITY_ABOVE = 5000
"""Points per parity panel above which it is drawn as a density (hexbin)."""
BARS_UP_TO = 40
"""Groups of the one-point figure up to which each gets labelled bars (more: a scatter)."""


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


def parity_figure(
    panels: Sequence[tuple[str, ArrayLike, ArrayLike]],
    quantity: str,
    unit: str,
    scales: Mapping[str, float] | None = None,
) -> Figure:
    """Predicted against reference values, one panel per (title, reference, predicted).

    Parameters
    ----------
    panels
        ``(title, reference values, predicted values)`` per panel (e.g. one per model and
        functional); arrays of any matching shape, flattened.
    quantity, unit
        Axis label (``"force component"``, ``"eV/Å"``).
    scales
        Title -> softening scale: drawn as the line ``y = s x``.

    Every point is drawn: as markers up to :data:`DENSITY_ABOVE` points per panel, above
    that as a hexagonal-bin density with a log colour scale.
    """
    n = max(len(panels), 1)
    fig = Figure(figsize=(4.0 * n, 4.0), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    for ax, (title, ref, pred) in zip(axes, panels, strict=False):
        x, y = paired_arrays(ref, pred)
        lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.5", lw=1, label="y = x")
        if x.size > DENSITY_ABOVE:  # a density, not 10^5 overlapping markers
            ax.hexbin(x, y, gridsize=80, bins="log", mincnt=1, cmap="viridis", linewidths=0)
        else:
            ax.scatter(x, y, s=6, alpha=0.5, color="tab:blue", edgecolors="none")
        if scales and title in scales and np.isfinite(scales[title]):
            s = scales[title]
            ax.plot([lo, hi], [s * lo, s * hi], color="tab:red", lw=1.2, label=f"y = {s:.3f} x")
        mae = float(np.mean(np.abs(y - x)))
        ax.set_title(f"{title}\nMAE {mae:.3g} {unit} ({x.size:,} points)", fontsize=9)
        ax.set_xlabel(f"reference {quantity} ({unit})")
        ax.set_ylabel(f"predicted {quantity} ({unit})")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=8, loc="upper left")
    return fig


def softening_distribution_figure(frame: pd.DataFrame) -> Figure:
    """Softening scale of each material, per category, one colour per model and functional.

    Parameters
    ----------
    frame
        Columns ``category``, ``model_id``, ``functional``, ``softening_scale``.
    """
    data = frame.dropna(subset=["softening_scale"])
    fig = Figure(figsize=(7.0, 3.8), layout="constrained")
    ax = fig.subplots()
    categories = sorted(data["category"].unique())
    series = sorted({(m, f) for m, f in zip(data["model_id"], data["functional"], strict=True)})
    width = 0.8 / max(len(series), 1)
    rng = np.random.default_rng(0)
    for k, (model, functional) in enumerate(series):
        part = data[(data["model_id"] == model) & (data["functional"] == functional)]
        for i, category in enumerate(categories):
            values = part.loc[part["category"] == category, "softening_scale"].to_numpy(float)
            if values.size == 0:
                continue
            centre = i - 0.4 + width * (k + 0.5)
            jitter = rng.uniform(-width / 4, width / 4, size=values.size)
            ax.scatter(
                centre + jitter, values, s=22, color=f"C{k}",
                label=f"{model} vs {functional}" if i == 0 or values.size else None,
            )  # fmt: skip
            ax.hlines(np.median(values), centre - width / 3, centre + width / 3, color=f"C{k}")
    ax.axhline(1.0, color="0.5", lw=1, ls="--")
    ax.set_xticks(range(len(categories)), categories)
    ax.set_ylabel("softening scale (slope through origin)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=8)
    ax.set_title("Softening scale per material (< 1: softened PES)", fontsize=10)
    return fig


def cross_functional_figure(
    gga_per_atom: ArrayLike,
    r2scan_per_atom: ArrayLike,
    gga_referenced: ArrayLike,
    r2scan_referenced: ArrayLike,
    labels: Sequence[str] = ("GGA", "r2SCAN"),
) -> Figure:
    """GGA against r2SCAN energies per atom: raw, and relative to fitted elemental refs."""
    fig = Figure(figsize=(8.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, (x, y, title) in zip(
        axes,
        (
            (gga_per_atom, r2scan_per_atom, "total energies"),
            (gga_referenced, r2scan_referenced, "relative to elemental references"),
        ),
        strict=True,
    ):
        a, b = paired_arrays(x, y)
        ax.scatter(a, b, s=12, alpha=0.7)
        r = np.corrcoef(a, b)[0, 1] if a.size > 1 and np.ptp(a) and np.ptp(b) else np.nan
        ax.set_title(f"{title}\nPearson r = {r:.3f}", fontsize=9)
        ax.set_xlabel(f"{labels[0]} (eV/atom)")
        ax.set_ylabel(f"{labels[1]} (eV/atom)")
    return fig


def one_point_figure(frame: pd.DataFrame) -> Figure:
    """Force MAE of each group before and after the one-point correction.

    Up to :data:`BARS_UP_TO` groups: a pair of bars each, labelled. More (a dataset of
    hundreds of materials): one point per group, raw MAE against corrected MAE, with the
    diagonal (below it, the correction helped), in a figure of fixed size.

    Parameters
    ----------
    frame
        Columns ``label``, ``one_point_mae_before``, ``one_point_mae_after`` (eV/Å).
    """
    data = frame.dropna(subset=["one_point_mae_before", "one_point_mae_after"])
    if len(data) > BARS_UP_TO:
        return _one_point_scatter(data)
    fig = Figure(figsize=(max(4.0, 0.9 * len(data) + 2), 3.8), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(data))
    ax.bar(x - 0.2, data["one_point_mae_before"], 0.4, label="raw")
    ax.bar(x + 0.2, data["one_point_mae_after"], 0.4, label="one-point corrected")
    ax.set_xticks(x, data["label"], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("force MAE of the other structures (eV/Å)")
    ax.legend(fontsize=8)
    ax.set_title("One-point correction (scale fitted on one structure)", fontsize=10)
    return fig


def _one_point_scatter(data: pd.DataFrame) -> Figure:
    before = data["one_point_mae_before"].to_numpy(dtype=float)
    after = data["one_point_mae_after"].to_numpy(dtype=float)
    fig = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.scatter(before, after, s=6, alpha=0.5, linewidths=0)
    top = 1.05 * float(max(before.max(), after.max(), 1e-12))
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="no change")
    ax.set(xlim=(0, top), ylim=(0, top))
    ax.set_xlabel("raw force MAE of the other structures (eV/Å)")
    ax.set_ylabel("one-point corrected force MAE (eV/Å)")
    ax.legend(fontsize=8, loc="upper left")
    helped = int((after < before).sum())
    ax.set_title(f"One-point correction: {len(data):,} groups, {helped:,} improved", fontsize=10)
    return fig
