"""``pesbench report CAMPAIGN``: the HTML report (figures embedded) and CSV tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.report import write_report
from pesbench.settings import get_settings

__all__ = ["report"]


def report(
    campaign: Annotated[str, typer.Argument(help="Campaign name (of the references).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder (default: DATA_DIR/reports/CAMPAIGN)."),
    ] = None,
    build: Annotated[
        bool, typer.Option("--build/--no-build", help="Update the comparisons first.")
    ] = True,
    cross: Annotated[
        bool, typer.Option("--cross", help="Also compare models with other functionals.")
    ] = False,
) -> None:
    """Write one self-contained HTML report of a campaign, plus its numbers as CSV."""
    check_database()
    files = write_report(campaign, output, get_settings(), build=build, cross_functional=cross)
    console.print(f"report: {files.html}")
    console.print(f"figures: {', '.join(files.figures) or 'none'}")
    console.print(f"tables: {', '.join(str(p) for p in files.csv)}")
