"""``pesbench worker``: run FireWorks jobs of one category on this machine (rlaunch)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer
from fireworks import FWorker, LaunchPad
from fireworks.core.rocket_launcher import launch_rocket, rapidfire
from fireworks.fw_config import RAPIDFIRE_SLEEP_SECS
from fireworks.utilities.fw_utilities import create_datestamp_dir, get_fw_logger

from pesbench.cli.console import console
from pesbench.cli.db import check_database
from pesbench.settings import get_settings
from pesbench.stores.launchpad import get_launchpad
from pesbench.workflows.fireworks import CATEGORIES

__all__ = ["worker"]

POLL_S = min(RAPIDFIRE_SLEEP_SECS, 10)
"""Seconds between polls for a ready job when none is (FireWorks' RAPIDFIRE_SLEEP_SECS)."""


def worker(
    category: str = typer.Option(
        ..., "--category", "-c", help=f"Jobs to pull: {' or '.join(CATEGORIES)}."
    ),
    max_jobs: int = typer.Option(0, "--max", min=0, help="Stop after this many (0: no limit)."),
    wait: int = typer.Option(
        0,
        min=0,
        help="Keep polling while jobs of this category wait on other jobs (any category) "
        "and stop after this many seconds with nothing to run or coming (0: stop as soon as "
        "nothing of this category is ready or waiting on its own running jobs).",
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
    if not wait:
        before = launchpad.fireworks.count_documents({"state": "COMPLETED"})
        rapidfire(
            launchpad, fworker, m_dir=str(launch_dir), nlaunches=max_jobs, local_redirect=False
        )
        done = launchpad.fireworks.count_documents({"state": "COMPLETED"}) - before
    else:
        done = _run_until_idle(launchpad, fworker, launch_dir, max_jobs, wait)
    console.print(f"worker ({category}): {done} job(s) completed")


def _coming(launchpad: LaunchPad, fworker: FWorker) -> bool:
    """Whether a job of ``fworker``'s category waits in a workflow that still has work going."""
    waiting = launchpad.fireworks.find({**fworker.query, "state": "WAITING"}, {"fw_id": 1})
    waiting_ids = [fw["fw_id"] for fw in waiting]
    if not waiting_ids:
        return False
    for workflow in launchpad.workflows.find({"nodes": {"$in": waiting_ids}}, {"fw_states": 1}):
        if set(workflow.get("fw_states", {}).values()) & {"READY", "RESERVED", "RUNNING"}:
            return True
    return False


def _run_until_idle(
    launchpad: LaunchPad, fworker: FWorker, launch_dir: Path, max_jobs: int, wait: int
) -> int:
    """Run ready jobs one by one (a launcher folder each, as rapidfire); return how many ran.

    Stops after ``max_jobs`` (0: no limit), or after ``wait`` seconds in which no job of the
    category was ready or coming (:func:`_coming`).
    """
    logger = get_fw_logger("rocket.launcher", l_dir=launchpad.get_logdir())
    ran = 0
    idle_since = time.monotonic()
    while not max_jobs or ran < max_jobs:
        if launchpad.run_exists(fworker):
            folder = Path(create_datestamp_dir(str(launch_dir), logger, prefix="launcher_"))
            os.chdir(folder)
            try:
                launched = launch_rocket(launchpad, fworker)
            finally:
                os.chdir(launch_dir)
            if launched:
                ran += 1
                idle_since = time.monotonic()
                continue
            if not any(folder.iterdir()):
                folder.rmdir()
        elif _coming(launchpad, fworker):
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= wait:
            break
        time.sleep(min(POLL_S, wait))
    return ran
