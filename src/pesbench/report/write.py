"""``write_report``: the campaign's report, one self-contained HTML file plus CSV tables.

Reads (:mod:`pesbench.report.queries`), assembles what the page shows
(:mod:`pesbench.report.assemble`), writes the CSV tables and renders the page
(:mod:`pesbench.report.render`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pesbench.report.assemble import assemble_report
from pesbench.report.inputs import ReportInputs
from pesbench.report.queries import load_report_inputs
from pesbench.report.render import render_report
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.builders import build_comparisons

__all__ = ["ReportFiles", "write_report", "write_tables"]


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote."""

    html: Path
    csv: list[Path] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cross_functional: str = ""
    partial: bool = False
    """Whether the campaign's last run had not finished when the report was written."""


def write_tables(inputs: ReportInputs, out_dir: Path) -> list[Path]:
    """Write the report's CSV tables into ``out_dir``; the corrections' only where any.

    Returns
    -------
    list of Path
        The files written: ``material``, ``structure``, ``properties``, then
        ``finetunes`` and ``scale_fits``.
    """
    tables: list[tuple[str, pd.DataFrame]] = [
        ("material", inputs.material),
        ("structure", inputs.structure),
        ("properties", inputs.relaxed.rows),
    ]
    tables += [(n, f) for n, f in (("finetunes", inputs.finetunes),
                                   ("scale_fits", inputs.scale_fits)) if not f.empty]  # fmt: skip
    written = []
    for name, frame in tables:
        path = out_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        written.append(path)
    return written


def write_report(
    campaign: str,
    out_dir: Path | None = None,
    settings: PesbenchSettings | None = None,
    *,
    build: bool = True,
    cross_functional: bool = False,
) -> ReportFiles:
    """Write ``report.html`` and the CSV tables of ``campaign`` into ``out_dir``.

    Parameters
    ----------
    campaign
        Campaign name (the ``campaign`` of the references).
    out_dir
        Default: ``<data_dir>/reports/<campaign>``.
    settings
        Which database; default the process settings.
    build
        Bring the comparisons up to date first (incremental).
    cross_functional
        With ``build``: also compare each model with the functionals it was not trained on.

    Returns
    -------
    ReportFiles
        The page, the tables, the figures drawn, the notes and the GGA vs r2SCAN summary.

    Raises
    ------
    PesbenchError
        When the campaign has neither comparisons nor properties.
    """
    settings = settings or get_settings()
    out_dir = out_dir or settings.data_dir / "reports" / campaign
    if build:
        build_comparisons(settings, cross_functional=cross_functional)
    inputs = load_report_inputs(campaign, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = write_tables(inputs, out_dir)
    data = assemble_report(inputs, [p.name for p in csv])
    result = ReportFiles(
        html=out_dir / "report.html",
        csv=csv,
        figures=data.figure_names,
        notes=data.notes,
        cross_functional=data.cross_functional.text,
        partial=data.partial,
    )
    result.html.write_text(render_report(data), encoding="utf-8")
    return result
