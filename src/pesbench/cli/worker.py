"""``pesbench worker``: run FireWorks jobs of one category on this machine (rlaunch)."""

from __future__ import annotations

import typer
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.settings import get_settings
from pesbench.stores.launchpad import get_launchpad
from pesbench.workflows.fireworks import CATEGORIES

__all__ = ["worker"]


def worker(
    category: str = typer.Option(
        ..., "--category", "-c", help=f"Jobs to pull: {' or '.join(CATEGORIES)}."
    ),
    max_jobs: int = typer.Option(0, "--max", min=0, help="Stop after this many (0: no limit)."),
    wait: int = typer.Option(
        0, min=0, help="Seconds to keep polling for new jobs once none is ready (0: stop)."
    ),
) -> None:
    """Run ready jobs of one category until none is left (FireWorks' rlaunch rapidfire)."""
    if category not in CATEGORIES:
        raise typer.BadParameter(" or ".join(CATEGORIES), param_hint="--category")
    check_database()
    settings = get_settings()
    launchpad = get_launchpad(settings)
    launch_dir = settings.data_dir / "fireworks"
    launch_dir.mkdir(parents=True, exist_ok=True)
    fworker = FWorker(name=f"pesbench-{category}", category=category)
    before = launchpad.fireworks.count_documents({"state": "COMPLETED"})
    rapidfire(
        launchpad,
        fworker,
        m_dir=str(launch_dir),
        nlaunches=max_jobs or ("infinite" if wait else 0),
        max_loops=-1,
        sleep_time=min(wait, 10) if wait else None,
        timeout=wait or None,
        local_redirect=False,
    )
    done = launchpad.fireworks.count_documents({"state": "COMPLETED"}) - before
    console.print(f"worker ({category}): {done} job(s) completed")
