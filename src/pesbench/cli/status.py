"""``pesbench status`` and ``pesbench resume``: where a campaign stands; rerun lost jobs."""

from __future__ import annotations

import typer
from rich.table import Table

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.workflows.execute import campaign_status, resume_campaign

__all__ = ["resume", "status"]


def status(campaign: str = typer.Argument(..., help="Campaign name.")) -> None:
    """Counts per stage and state, reused results, and failures with their reasons."""
    check_database()
    state = campaign_status(campaign)
    table = Table(title=f"campaign {campaign}")
    for column in ("stage", "counts"):
        table.add_column(column)
    table.add_row("structures", str(state.structures))
    table.add_row("references", ", ".join(f"{k} {v}" for k, v in state.references.items()))
    table.add_row("predictions", ", ".join(f"{k} {v}" for k, v in state.predictions.items()))
    for category, counts in sorted(state.fireworks.items()):
        table.add_row(
            f"jobs ({category})", ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        )
    if state.runs:
        last = state.runs[-1]
        table.add_row(
            "last plan",
            f"references {last.get('references_new', 0)} new / "
            f"{last.get('references_reused', 0)} reused; predictions "
            f"{last.get('predictions_new', 0)} new / {last.get('predictions_reused', 0)} reused",
        )
    console.print(table)
    for failure in state.failures:
        console.print(f"[red]failed[/] {failure}")


def resume(
    campaign: str = typer.Argument(..., help="Campaign name."),
    lost_after: int = typer.Option(
        4 * 3600, help="A running job silent for this many seconds is lost (FireWorks ping)."
    ),
    lock_wait: float = typer.Option(
        300.0,
        help="A workflow lock held this many seconds is stale (its worker died); "
        "FireWorks' own WFLOCK_EXPIRATION_SECS.",
    ),
) -> None:
    """Repair what killed workers left half done; rerun lost and fizzled FireWorks jobs."""
    check_database()
    rerun = resume_campaign(campaign, lost_after_s=lost_after, lock_wait_s=lock_wait)
    if rerun["repaired"]:
        console.print(f"interrupted workflow updates finished: {rerun['repaired']}")
    if rerun["stale_locks"]:
        console.print(
            "a stale workflow lock was released; lost runs are looked for at the next "
            "`pesbench resume` (workers that waited on the lock ping again first)"
        )
        return
    lost = rerun["lost"] or "none"
    console.print(f"lost runs rerun: {lost}; fizzled jobs rerun: {rerun['fizzled'] or 'none'}")
