"""Parity figures: every point drawn, as markers when few and as a density when many."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import PathCollection, PolyCollection

from pesbench.analysis.plots import DENSITY_ABOVE, parity_figure


def _collections(n: int) -> tuple[list, str]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    fig = parity_figure([("m vs PBE", x, 0.8 * x)], "force component", "eV/Å", {"m vs PBE": 0.8})
    ax = fig.axes[0]
    return list(ax.collections), ax.get_title()


def test_few_points_are_markers_many_are_a_density_of_all_of_them() -> None:
    few, title = _collections(DENSITY_ABOVE)
    assert any(isinstance(c, PathCollection) for c in few)
    assert f"({DENSITY_ABOVE:,} points)" in title
    many, title = _collections(4 * DENSITY_ABOVE)
    (hexbin,) = [c for c in many if isinstance(c, PolyCollection)]
    assert not any(isinstance(c, PathCollection) for c in many)
    assert hexbin.get_array().sum() == 4 * DENSITY_ABOVE  # every point counted, none dropped
    assert f"({4 * DENSITY_ABOVE:,} points)" in title
