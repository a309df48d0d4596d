"""Rendering is apart from the queries: a hand-built ReportData renders without a database."""

from __future__ import annotations

import io

import pandas as pd

from pesbench.report.data import (
    Comparisons,
    Convention,
    Corrections,
    CrossFunctional,
    Figure,
    HeldOutRoutes,
    PropertiesData,
    ReportData,
    Routes,
    Table,
)
from pesbench.report.render import format_cell, render_report

EVIL = "<script>alert(1)</script>"
PNG = b"\x89PNG\r\n\x1a\n"


def _data(**changes: object) -> ReportData:
    routes = Table(["model_id", "route from GGA", "force MAE (eV/Å)"],
                   [["chgnet-r2scan", "transfer learning", 0.123456]])  # fmt: skip
    data = ReportData(
        campaign=f"camp{EVIL}",
        version="9.9.9",
        stamp="2026-12-02 09:00 UTC",
        csv_names=["material.csv", "structure.csv", "properties.csv"],
        partial=True,
        planned_at="2026-12-01 08:00",
        comparisons=Comparisons(
            summary=Table(
                ["formula", "model_id", "force_mae"],
                [["Cu", f"m{EVIL}", 0.0512345], ["CuO", "m2", None]],
            ),
            stand_ins=["chgnet-r2scan (stand-in)"],
            force_parity=Figure("force parity", PNG),
            conventions=[Convention(f"m{EVIL}", "raw DFT total energies")],
            softening=Table(
                ["functional", "formula", "category", "m2"], [["PBE", "Cu", "rattled", 0.85]]
            ),
        ),
        properties=PropertiesData(statement="Each side relaxes.", pairing="At its functional."),
        cross_functional=CrossFunctional("2 structures have both: too few."),
        routes=Routes(routes, [HeldOutRoutes("ft", ["MgO"], "Si", routes)]),
        corrections=Corrections(warnings=[]),
        notes=[f"a note {EVIL}"],
    )
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def test_render_shows_every_section_of_hand_built_data() -> None:
    page = render_report(_data())
    for heading in (
        "<b>Partial:</b> the campaign's last run (planned 2026-12-01 08:00 UTC)",
        "<b>Not DFT:</b> references from chgnet-r2scan (stand-in)",
        "<h2>Summary per material, category, model and functional</h2>",
        "<h2>Force parity</h2>",
        "Energy conventions.",
        "<h2>Softening scale across models</h2>",
        "<h2>Properties (relaxed)</h2>",
        "No relaxed property was computed in this campaign.",
        "<h2>GGA vs r2SCAN</h2>",
        "<h3>Routes from GGA to r2SCAN, on the same r2SCAN references</h3>",
        "<h3>On the held-out materials of ft: MgO</h3>",
        "<h2>Corrected models</h2>",
        "<h2>Notes</h2>",
    ):
        assert heading in page, heading
    assert page.count("data:image/png;base64,") == 1
    assert "<h2>Energy parity</h2>" not in page  # a figure not drawn has no section
    summary = pd.read_html(io.StringIO(page.split("Summary per material")[1]))[0]
    assert summary["force_mae"].tolist() == ["0.05123", "–"]


def test_render_escapes_campaign_names_model_ids_and_notes() -> None:
    page = render_report(_data())
    assert "<script>" not in page
    assert "camp&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>pesbench report: camp&lt;script&gt;" in page
    assert "<b>m&lt;script&gt;" in page  # the model id of a convention


def test_render_without_comparisons_or_partial_run() -> None:
    page = render_report(_data(comparisons=None, routes=None, partial=False, notes=[]))
    assert "Partial:" not in page
    assert "Summary per material" not in page
    assert "<h2>Properties (relaxed)</h2>" in page
    assert "None: fine-tune on this campaign" in page


def test_cells_read_as_the_tables_always_did() -> None:
    assert [format_cell(v) for v in (0.123456, 3.0, None, float("nan"), 7, True, "x")] == [
        "0.1235", "3", "–", "–", "7", "True", "x",
    ]  # fmt: skip
