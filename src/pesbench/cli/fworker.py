"""``pesbench fworker init``: the files a FireWorks worker needs, for rlaunch or qlaunch."""

from __future__ import annotations

from pathlib import Path

import typer

from pesbench.cli.console import console
from pesbench.workflows.fireworks import CATEGORIES, write_worker_files

__all__ = ["fworker_app"]

fworker_app = typer.Typer(
    help="FireWorks worker configuration (launchpad, fworker, queue adapter).",
    no_args_is_help=True,
)


@fworker_app.command()
def init(
    category: str = typer.Option(
        ..., "--category", "-c", help=f"Jobs this worker pulls: {' or '.join(CATEGORIES)}."
    ),
    scheduler: str = typer.Option(
        "slurm", "--scheduler", "-s", help="slurm, pbs, or none (rlaunch on this machine only)."
    ),
    directory: Path = typer.Option(  # noqa: B008  # typer's way of declaring options
        "fworker", "--dir", "-d", help="Folder to write the files into."
    ),
    queue: str | None = typer.Option(None, help="Partition / queue of the queue jobs."),
    account: str | None = typer.Option(None, help="Account to charge."),
    walltime: str = typer.Option("01:00:00", help="Wall time of each queue job, HH:MM:SS."),
    nodes: int = typer.Option(1, min=1, help="Nodes per queue job."),
    cores: int = typer.Option(1, min=1, help="Tasks (cores) per queue job."),
    gpus: int = typer.Option(0, min=0, help="GPUs per node (uMLIP workers)."),
    pre_rocket: str | None = typer.Option(
        None, help="Shell lines run before the worker (module load ...; source venv)."
    ),
) -> None:
    """Write my_launchpad.yaml, my_fworker.yaml and my_qadapter.yaml for one worker category."""
    if scheduler not in ("slurm", "pbs", "none"):
        raise typer.BadParameter("slurm, pbs or none", param_hint="--scheduler")
    if category not in CATEGORIES:
        raise typer.BadParameter(" or ".join(CATEGORIES), param_hint="--category")
    files = write_worker_files(
        directory,
        category,
        scheduler,  # type: ignore[arg-type]  # checked above
        queue=queue,
        account=account,
        walltime=walltime,
        nodes=nodes,
        cores=cores,
        gpus=gpus,
        pre_rocket=pre_rocket,
    )
    for path in files:
        console.print(f"wrote {path}")
    folder = files[0].parent
    if scheduler == "none":
        console.print(f"run a worker: pesbench worker --category {category}")
    else:
        console.print(
            f"submit workers: qlaunch -l {folder}/my_launchpad.yaml -w {folder}/my_fworker.yaml "
            f"-q {folder}/my_qadapter.yaml rapidfire"
        )
