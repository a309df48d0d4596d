from __future__ import annotations

import numpy as np
import pytest

from pesbench.analysis.softening import (
    corrected_mae,
    fit_softening,
    one_point_correction,
    softening_scale,
)


@pytest.mark.parametrize("scale", [0.55, 0.8, 0.93, 1.0, 1.25])
def test_planted_scale_recovered(scale: float) -> None:
    rng = np.random.default_rng(int(scale * 100))
    ref = rng.normal(0.0, 1.0, size=(96, 3))
    pred = scale * ref + rng.normal(0.0, 0.03, size=ref.shape)
    assert softening_scale(ref, pred) == pytest.approx(scale, abs=0.01)
    fit = fit_softening(ref, pred)
    assert fit.scale == pytest.approx(scale, abs=0.01)
    assert fit.slope == pytest.approx(scale, abs=0.01)
    assert fit.intercept == pytest.approx(0.0, abs=0.01)
    assert fit.r2 > 0.99
    assert fit.n == 288
    # dividing by the slope removes the systematic part: only the noise is left
    assert fit.cmae == pytest.approx(np.sqrt(2 / np.pi) * 0.03 / scale, rel=0.15)
    if abs(scale - 1) > 0.05:
        assert fit.cmae < 0.5 * fit.mae


def test_through_origin_differs_from_free_fit_with_offset() -> None:
    ref = np.linspace(0.1, 2.0, 30).reshape(10, 3)
    pred = 0.7 * ref + 0.5
    fit = fit_softening(ref, pred)
    assert fit.slope == pytest.approx(0.7)
    assert fit.intercept == pytest.approx(0.5)
    assert fit.scale == pytest.approx(
        np.dot(ref.ravel(), pred.ravel()) / np.dot(ref.ravel(), ref.ravel())
    )
    assert fit.scale > 0.8  # the offset leaks into the through-origin slope


def test_zero_reference_refused() -> None:
    with pytest.raises(ValueError, match="zero"):
        softening_scale(np.zeros((4, 3)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="non-zero"):
        corrected_mae(np.ones(3), np.ones(3), 0.0)


def test_one_point_correction_lowers_mae_of_other_structures() -> None:
    rng = np.random.default_rng(7)
    refs = [rng.normal(0, 1 + i, size=(8 + i, 3)) for i in range(5)]
    preds = [0.75 * r + rng.normal(0, 0.02, size=r.shape) for r in refs]
    result = one_point_correction(refs, preds, fit_index=4)
    assert result.scale == pytest.approx(0.75, abs=0.01)
    assert result.n_structures == 4
    assert result.fit_index == 4
    assert result.mae_after < 0.2 * result.mae_before
    assert result.relative_change < -0.8


def test_one_point_correction_needs_two_structures() -> None:
    with pytest.raises(ValueError, match="two"):
        one_point_correction([np.ones((2, 3))], [np.ones((2, 3))])
