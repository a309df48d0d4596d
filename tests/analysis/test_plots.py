"""Parity figures: every point drawn, as markers when few and as a density when many."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection, PolyCollection

from pesbench.analysis.plots import BARS_UP_TO, DENSITY_ABOVE, one_point_figure, parity_figure


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


def test_one_point_bars_for_a_few_groups_a_fixed_size_scatter_for_many() -> None:
    rng = np.random.default_rng(1)

    def frame(n: int) -> pd.DataFrame:
        before = rng.uniform(0.1, 0.3, n)
        after = before * np.where(np.arange(n) % 4 == 0, 1.2, 0.5)  # one in four worse
        return pd.DataFrame(
            {"label": [f"g{i}" for i in range(n)], "one_point_mae_before": before,
             "one_point_mae_after": after}
        )  # fmt: skip

    few = one_point_figure(frame(BARS_UP_TO)).axes[0]
    assert len(few.patches) == 2 * BARS_UP_TO  # a pair of bars each
    many = one_point_figure(frame(2000))
    (points,) = [c for c in many.axes[0].collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == 2000  # every group drawn
    assert many.get_size_inches()[0] < 10  # not 0.9 inch per group
    assert "2,000 groups, 1,500 improved" in many.axes[0].get_title()
