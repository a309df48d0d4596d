"""``pesbench run`` and ``pesbench submit``: a campaign spec, here or to FireWorks."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.report import energy_summary, load_relaxed_properties
from pesbench.schemas.campaign import CampaignRunSummary
from pesbench.settings import get_settings
from pesbench.stores.query import query_comparisons
from pesbench.workflows.execute import preflight, run_campaign, submit_campaign
from pesbench.workflows.spec import CampaignSpec, load_spec

__all__ = ["print_summary", "run", "run_with_progress", "submit"]

_SUMMARY_COLUMNS = {  # column -> header of the printed summary
    "formula": "material",
    "category": "category",
    "model_id": "model",
    "functional": "vs DFT",
    "n_structures": "n",
    "softening_scale": "slope",
    "r2": "R²",
    "force_mae": "F MAE eV/Å",
    "cmae": "cMAE eV/Å",
    "E MAE (eV/atom)": "E MAE eV/at",
    "E referenced to": "E vs",
}
_REFERENCED = {"each side's own relaxed bulk": "bulk", "mean offset removed": "offset"}
_SPEC = typer.Argument(..., exists=False, help="Campaign YAML file.")


def run(
    spec_file: Path = _SPEC,
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate and check, run nothing."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Recompute references and predictions stored as failed."
    ),
) -> None:
    """Run a campaign on this machine (jobflow run_locally), reusing every stored result."""
    spec = load_spec(spec_file)
    if not dry_run:
        check_database()
    with console.status("checking the DFT engine and the models"):
        checked = preflight(spec)
    for line in checked:
        console.print(f"  ok  {line}")
    if dry_run:
        console.print(f"campaign {spec.name!r} is valid; nothing was run (--dry-run)")
        return
    summary = run_with_progress(spec, retry_failed)
    print_summary(spec, summary)


def run_with_progress(spec: CampaignSpec, retry_failed: bool) -> CampaignRunSummary:
    """Run the campaign locally with a live line: jobs finished, started, and the current one."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"campaign {spec.name}: starting", total=None)

        def update(started: int, finished: int, current: str) -> None:
            bar.update(task, description=f"jobs done {finished}/{started} started - {current}")

        summary = run_campaign(spec, retry_failed=retry_failed, progress=update)
        bar.update(task, description=f"campaign {spec.name}: done")
    return summary


def print_summary(spec: CampaignSpec, summary: CampaignRunSummary) -> None:
    """The campaign's counts, its softening table and the report's path."""
    console.print(
        f"\n[bold]{spec.name}[/]: {summary.structures} structures; references "
        f"{summary.references_new} computed, {summary.references_reused} reused, "
        f"{summary.references_failed} failed; predictions {summary.predictions_new} computed, "
        f"{summary.predictions_reused} reused, {summary.predictions_failed} failed"
    )
    table = query_comparisons(get_settings(), "material", campaign=spec.name)
    if not table.empty:
        table = energy_summary(table)
        table["E referenced to"] = table["E referenced to"].map(_REFERENCED)
        wanted = [column for column in _SUMMARY_COLUMNS if column in table.columns]
        view = Table(title="softening: slope of predicted vs DFT forces (< 1: softer than DFT)")
        for column in wanted:
            view.add_column(_SUMMARY_COLUMNS[column], no_wrap=True)
        for _, row in table[wanted].iterrows():
            view.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        console.print(view)
        console.print(
            "E MAE: energy error per atom, of energies over each side's own relaxed bulk "
            "(bulk), else after removing the mean offset (offset): codes differ in zero"
        )
    _print_properties(spec.name)
    if summary.cross_functional:
        console.print(f"GGA -> r2SCAN: {summary.cross_functional}")
    for error in summary.job_errors:
        console.print(f"[red]job failed:[/] {error}")
    if summary.report:
        console.print(f"report: {summary.report}")
    elif summary.report_error:
        console.print(f"[yellow]no report:[/] {summary.report_error}")


def _print_properties(campaign: str) -> None:
    """The relaxed properties, summarised per category, property and model."""
    relaxed = load_relaxed_properties(campaign)
    if relaxed.empty:
        return
    view = Table(title="relaxed properties: each side from its own relaxed geometries")
    for column in ("category", "property", "model", "n", "MAE", "mean rel. error", "under"):
        view.add_column(column, no_wrap=True)
    for _, row in relaxed.summary.iterrows():
        view.add_row(
            row["category"],
            f"{row['name']} ({row['unit']})",
            row["model"],
            str(row["n"]),
            f"{row['mae']:.4g}",
            f"{row['mean_relative_error']:+.1%}",
            f"{row['fraction_underpredicted']:.0%}",
        )
    console.print(view)
    console.print("under: share of values the model puts below DFT (softening's signature)")
    for note in relaxed.notes:
        console.print(f"[yellow]not computed:[/] {note}")


def submit(
    spec_file: Path = _SPEC,
    check: bool = typer.Option(
        True,
        "--check/--no-check",
        help="Check engine and models here first (skip on a login node).",
    ),
) -> None:
    """Add a campaign to the FireWorks LaunchPad; workers run it (`pesbench worker`, qlaunch)."""
    spec = load_spec(spec_file)
    check_database()
    if check:
        with console.status("checking the DFT engine and the models"):
            for line in preflight(spec):
                console.print(f"  ok  {line}")
    fw_id = submit_campaign(spec)
    console.print(
        f"submitted campaign {spec.name!r} (workflow of fw_id {fw_id}); run workers with "
        "`pesbench worker --category dft` and `--category mlip`, then `pesbench status "
        f"{spec.name}`"
    )
