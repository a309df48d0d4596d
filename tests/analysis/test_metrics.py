from __future__ import annotations

import numpy as np
import pytest

from pesbench.analysis.metrics import error_stats, mae, max_abs_error, rmse, stack_components


def test_errors_by_hand() -> None:
    ref = [[1.0, 0.0, -1.0], [0.5, 0.5, 0.5]]
    pred = [[1.5, 0.0, -2.0], [0.5, 0.0, 0.5]]
    # differences 0.5, 0, -1, 0, -0.5, 0
    assert mae(ref, pred) == pytest.approx(2.0 / 6)
    assert rmse(ref, pred) == pytest.approx(np.sqrt(1.5 / 6))
    assert max_abs_error(ref, pred) == pytest.approx(1.0)
    stats = error_stats(ref, pred)
    assert stats.n == 6
    assert stats.as_dict("force_") == {
        "force_mae": pytest.approx(1 / 3),
        "force_rmse": pytest.approx(0.5),
        "force_max": pytest.approx(1.0),
        "force_n": 6,
    }


def test_shape_mismatch_and_empty_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        mae(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="no values"):
        mae([], [])


def test_stack_components() -> None:
    out = stack_components([np.ones((2, 3)), np.zeros((1, 3))])
    assert out.shape == (9,)
    assert out.sum() == 6


def test_error_stats_equal_numpys_reductions_to_the_bit() -> None:
    rng = np.random.default_rng(7)
    for n in (1, 3, 7, 96, 3 * 257):
        ref, pred = rng.normal(size=(n, 3)), rng.normal(size=(n, 3))
        diff = (pred - ref).ravel()
        stats = error_stats(ref, pred)
        assert stats.mae == float(np.mean(np.abs(diff)))
        assert stats.rmse == float(np.sqrt(np.mean(diff**2)))
        assert stats.max == float(np.max(np.abs(diff)))
