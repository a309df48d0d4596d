"""FireWorks: worker categories and the files a worker (local or behind SLURM/PBS) reads."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Literal

import yaml
from fireworks import FWorker
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri
from pesbench.stores.launchpad import get_launchpad

__all__ = [
    "CATEGORIES",
    "DFT_CATEGORY",
    "MLIP_CATEGORY",
    "Scheduler",
    "write_worker_files",
]

DFT_CATEGORY = "dft"
"""FireWorks category of DFT reference jobs: CPU workers pull these."""
MLIP_CATEGORY = "mlip"
"""FireWorks category of uMLIP jobs (predictions, fine-tuning): GPU workers pull these."""
CATEGORIES = (DFT_CATEGORY, MLIP_CATEGORY)

Scheduler = Literal["slurm", "pbs", "none"]
_Q_TYPES = {"slurm": "SLURM", "pbs": "PBS"}


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (it may hold a password)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # a file written before keeps its mode otherwise
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def write_worker_files(
    directory: Path,
    category: str,
    scheduler: Scheduler = "slurm",
    *,
    settings: PesbenchSettings | None = None,
    queue: str | None = None,
    account: str | None = None,
    walltime: str = "01:00:00",
    nodes: int = 1,
    cores: int = 1,
    gpus: int = 0,
    pre_rocket: str | None = None,
    rapidfire_timeout_s: int | None = None,
) -> list[Path]:
    """Write ``my_launchpad.yaml``, ``my_fworker.yaml`` and (with a scheduler) ``my_qadapter.yaml``.

    Parameters
    ----------
    directory
        Where the files go (created).
    category
        The FireWorks category this worker pulls: ``"dft"`` or ``"mlip"``.
    scheduler
        ``"slurm"`` or ``"pbs"`` for ``qlaunch``; ``"none"`` for ``rlaunch`` only.
    settings
        Which MongoDB the LaunchPad is in (default: :func:`get_settings`).
    queue, account, walltime, nodes, cores, gpus
        What each queue job asks for (partition, account, ``HH:MM:SS``, nodes, tasks,
        GPUs per node).
    pre_rocket
        Shell lines run in the job before the worker (module loads, ``source venv``).
        Default: put this Python environment's ``bin`` first on ``PATH``.
    rapidfire_timeout_s
        None: each queue job runs one job (``rlaunch singleshot``). A number: each queue
        job keeps pulling jobs of its category (``rlaunch rapidfire``) for that many
        seconds, which suits many short jobs and flows that add jobs as they run.

    Returns
    -------
    list of Path
        The files written. ``my_launchpad.yaml`` and ``pesbench-worker.yaml`` (the worker's
        pesbench settings: the same database; queue jobs get ``PESBENCH_CONFIG`` pointing
        to it) hold the database URI, password included (the worker logs in with it): only
        their owner may read them (mode 0600).

    Long because it documents each option of the worker's files, which it passes on.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown worker category {category!r}; known: {', '.join(CATEGORIES)}")
    settings = settings or get_settings()
    directory = Path(directory).expanduser().resolve()
    directory.mkdir(parents=True, exist_ok=True)
    launchpad_file = directory / "my_launchpad.yaml"
    fworker_file = directory / "my_fworker.yaml"
    _write_private(launchpad_file, get_launchpad(settings).to_format("yaml"))
    # the worker's pesbench settings: the same database as the LaunchPad (job outputs and
    # results); 0600 like the LaunchPad file, since the URI may hold a password
    config_file = directory / "pesbench-worker.yaml"
    _write_private(
        config_file,
        yaml.safe_dump({"db_uri": database_uri(settings), "db_name": settings.db_name}),
    )
    FWorker(name=f"pesbench-{category}", category=category).to_file(str(fworker_file))
    written = [launchpad_file, fworker_file, config_file]
    if scheduler == "none":
        return written

    qadapter_file = _write_qadapter(
        directory,
        category,
        scheduler,
        (launchpad_file, fworker_file, config_file),
        queue=queue,
        account=account,
        walltime=walltime,
        nodes=nodes,
        cores=cores,
        gpus=gpus,
        pre_rocket=pre_rocket,
        rapidfire_timeout_s=rapidfire_timeout_s,
    )
    return [*written, qadapter_file]


def _write_qadapter(
    directory: Path,
    category: str,
    scheduler: Literal["slurm", "pbs"],
    files: tuple[Path, Path, Path],
    *,
    queue: str | None,
    account: str | None,
    walltime: str,
    nodes: int,
    cores: int,
    gpus: int,
    pre_rocket: str | None,
    rapidfire_timeout_s: int | None,
) -> Path:
    """Write ``my_qadapter.yaml``: the queue job that runs ``rlaunch`` on the other files.

    ``files``: the LaunchPad, FWorker and pesbench settings files; the other arguments as
    :func:`write_worker_files`'.
    """
    launchpad_file, fworker_file, config_file = files
    bin_dir = Path(sys.executable).parent
    mode = ["singleshot"]
    if rapidfire_timeout_s is not None:
        mode = ["rapidfire", "--nlaunches", "infinite", "--timeout", str(rapidfire_timeout_s)]
        mode += ["--sleep", "2"]
    rlaunch = shlex.join(
        [str(bin_dir / "rlaunch"), "-l", str(launchpad_file), "-w", str(fworker_file), *mode]
    )
    options: dict[str, object] = {
        "rocket_launch": rlaunch,
        "nodes": nodes,
        "ntasks": cores,
        "walltime": walltime,
        "job_name": f"pesbench-{category}",
        "pre_rocket": "\n".join(
            [
                pre_rocket or f"export PATH={shlex.quote(str(bin_dir))}:$PATH",
                f"export PESBENCH_CONFIG={shlex.quote(str(config_file))}",
            ]
        ),
    }
    if queue:
        options["queue"] = queue
    if account:
        options["account"] = account
    if gpus:
        options["gpus_per_node" if scheduler == "slurm" else "ngpus"] = gpus
    qadapter_file = directory / "my_qadapter.yaml"
    CommonAdapter(q_type=_Q_TYPES[scheduler], **options).to_file(str(qadapter_file))
    return qadapter_file
