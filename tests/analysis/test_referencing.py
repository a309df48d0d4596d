from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition

from pesbench.analysis.referencing import (
    UnderdeterminedFitError,
    composition_matrix,
    correlation,
    cross_functional_summary,
    fit_atomref,
    force_correlation,
)

GGA_MU = {"Ca": -1.9, "Li": -1.3, "Mg": -1.6, "O": -4.9}
SHIFT = {"Ca": -12.5, "Li": -3.25, "Mg": -24.0, "O": -19.75}  # r2SCAN - GGA, eV/atom


def _compositions(n: int, seed: int = 0) -> list[Composition]:
    rng = np.random.default_rng(seed)
    comps = []
    while len(comps) < n:
        counts = rng.integers(0, 5, size=4)
        if counts.sum() == 0:
            continue
        comps.append(Composition(dict(zip(sorted(GGA_MU), counts.tolist(), strict=True))))
    return comps


def _linear(comps: list[Composition], table: dict[str, float]) -> np.ndarray:
    return np.array([sum(c[el] * v for el, v in table.items()) for c in comps])


def test_composition_matrix() -> None:
    matrix, elements = composition_matrix(["Mg2O2", {"Ca": 1, "O": 1}])
    assert elements == ["Ca", "Mg", "O"]
    assert matrix.tolist() == [[0, 2, 2], [1, 0, 1]]


def test_planted_shift_table_recovered_exactly() -> None:
    comps = _compositions(40)
    rng = np.random.default_rng(1)
    formation = rng.normal(0, 0.3, size=len(comps)) * np.array([c.num_atoms for c in comps])
    e_gga = _linear(comps, GGA_MU) + formation
    e_r2 = e_gga + _linear(comps, SHIFT)

    table = fit_atomref(comps, e_r2 - e_gga)
    assert table.energies.keys() == SHIFT.keys()
    for el, value in SHIFT.items():
        assert table.energies[el] == pytest.approx(value, abs=1e-9)
    assert table.rmse_per_atom < 1e-9

    exact = fit_atomref(comps, _linear(comps, GGA_MU))
    assert exact.energies == pytest.approx(GGA_MU, abs=1e-9)

    summary = cross_functional_summary(comps, e_gga, e_r2)
    assert summary.shift_table == pytest.approx(SHIFT, abs=1e-9)
    assert summary.mae_rereferenced == pytest.approx(0.0, abs=1e-9)
    assert summary.mae_raw > 10.0
    assert summary.mae_constant_shift > 0.5
    # each functional referenced to its own elements: identical formation-like energies
    assert summary.referenced.pearson == pytest.approx(1.0, abs=1e-9)
    assert summary.referenced.spearman == pytest.approx(1.0, abs=1e-9)
    assert summary.total.pearson < 0.99


def test_held_out_structures_predicted_by_the_shift_table() -> None:
    comps = _compositions(30, seed=3)
    rng = np.random.default_rng(2)
    e_gga = _linear(comps, GGA_MU) + rng.normal(0, 0.5, size=len(comps))
    e_r2 = e_gga + _linear(comps, SHIFT) + rng.normal(0, 0.01, size=len(comps))
    mask = np.arange(len(comps)) < 20
    summary = cross_functional_summary(comps, e_gga, e_r2, fit_mask=mask)
    assert (summary.n_fit, summary.n_test) == (20, 10)
    assert summary.mae_rereferenced < 0.02
    assert summary.mae_rereferenced < summary.mae_constant_shift < summary.mae_raw


def test_underdetermined_fit_refused() -> None:
    with pytest.raises(UnderdeterminedFitError, match="1 of 2"):
        fit_atomref(["MgO", "Mg2O2", "Mg3O3"], [-10.0, -20.0, -30.0])


def test_correlations() -> None:
    x = np.arange(10.0)
    c = correlation(x, x**3)
    assert c.spearman == pytest.approx(1.0)
    assert c.pearson < 0.95
    assert np.isnan(correlation(x, np.ones(10)).pearson)
    f = force_correlation(np.ones((3, 3)) * x[:3, None], 2 * np.ones((3, 3)) * x[:3, None])
    assert f["slope"] == pytest.approx(2.0)
    assert f["pearson"] == pytest.approx(1.0)
