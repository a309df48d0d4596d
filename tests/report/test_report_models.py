"""The report's comparison of the routes from GGA to r2SCAN (pure: frames in, data out)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from pesbench.report.comparisons import held_out_routes, r2scan_routes
from pesbench.report.data import Routes
from pesbench.report.render import render_routes

MATERIAL = pd.DataFrame(
    [
        # formula, model, structures, force MAE, softening
        (f, m, n, mae, s, "r2SCAN", "native", 0.01, 0.02, "mean_offset")
        for f, m, n, mae, s in [
            ("Si", "chgnet-r2scan", 4, 0.20, 0.6),
            ("Si", "7net-mf-0:r2SCAN", 4, 0.30, 0.5),
            ("MgO", "chgnet-r2scan", 2, 0.05, 0.9),
            ("MgO", "7net-mf-0:r2SCAN", 2, 0.02, 0.8),
        ]
    ],
    columns=["formula", "model_id", "n_structures", "force_mae", "softening_scale",
             "functional", "pairing", "energy_mae_centered", "energy_mae", "energy_referencing"],
)  # fmt: skip
TUNED = pd.DataFrame(
    [
        {
            "model_id": "chgnet:ft.pth.tar",
            "base_model": "chgnet-0.3.0",
            "functional": "r2SCAN",
            "train": "Si",
            "test": "MgO",
            "n_test": 2,
            "force_mae_after": 0.04,
        }
    ]
)


def _tables(routes: Routes | None) -> list[pd.DataFrame]:
    assert routes is not None
    return pd.read_html(io.StringIO(render_routes(routes)))


def test_routes_weight_by_structures_and_name_each_route() -> None:
    [table] = _tables(r2scan_routes(MATERIAL, pd.DataFrame()))
    rows = table.set_index("model_id")
    assert rows.loc["chgnet-r2scan", "route from GGA"] == "transfer learning"
    assert rows.loc["7net-mf-0:r2SCAN", "route from GGA"] == "multi-fidelity"
    assert rows.loc["chgnet-r2scan", "force MAE (eV/Å)"] == pytest.approx((4 * 0.2 + 2 * 0.05) / 6)


def test_a_fine_tune_is_compared_on_its_held_out_materials_only() -> None:
    [_, held_out] = _tables(r2scan_routes(MATERIAL, TUNED))
    rows = held_out.set_index("model_id")
    assert rows.loc["chgnet:ft.pth.tar", "force MAE (eV/Å)"] == pytest.approx(0.04)
    assert "fine-tuned from chgnet-0.3.0" in rows.loc["chgnet:ft.pth.tar", "route from GGA"]
    # the other routes on MgO only (the fine-tune trained on Si)
    assert rows.loc["chgnet-r2scan", "force MAE (eV/Å)"] == pytest.approx(0.05)
    assert rows.loc["7net-mf-0:r2SCAN", "force MAE (eV/Å)"] == pytest.approx(0.02)
    assert held_out_routes(MATERIAL, TUNED.assign(functional="PBE")) == []
