"""Launching GPAW: the MPI command line, its environment, and the ONE function that runs it.

Tests replace :func:`run_gpaw` (``monkeypatch.setattr(pesbench.engines.gpaw.run, "run_gpaw",
fake)``); the engine calls it through this module, so that is the only place to patch.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
from functools import cache
from pathlib import Path

from pesbench.settings import PesbenchSettings

__all__ = [
    "STDOUT",
    "WORKER",
    "default_cores",
    "gpaw_command",
    "gpaw_env",
    "is_openmpi",
    "launcher",
    "run_gpaw",
]

WORKER = Path(__file__).with_name("worker.py")
"""The script each MPI rank runs."""
STDOUT = "gpaw-stdout.txt"
"""Standard output and error of the MPI launcher and the ranks, in the run folder."""


def default_cores() -> int:
    """All cores this process may use (its CPU affinity, which containers restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def launcher(settings: PesbenchSettings) -> str:
    """The MPI launcher's executable named by ``settings.mpi_command``."""
    return shlex.split(settings.mpi_command.format(cores=1))[0]


@cache
def is_openmpi(executable: str) -> bool:
    """Whether ``executable`` is Open MPI's launcher (asks it ``--version``)."""
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    text = out.stdout + out.stderr
    return "Open MPI" in text or "OpenRTE" in text


def gpaw_command(
    settings: PesbenchSettings, *worker_args: str, cores: int | None = None
) -> list[str]:
    """``mpiexec -n N python worker.py ARGS...``, from ``settings.mpi_command``.

    ``N`` is ``cores``, else ``settings.dft_cores``, else :func:`default_cores`. As root,
    Open MPI's launcher refuses to start without ``--allow-run-as-root``, which is then added.
    """
    cores = cores or settings.dft_cores or default_cores()
    command = shlex.split(settings.mpi_command.format(cores=cores))
    exe = shutil.which(command[0])
    if os.geteuid() == 0 and exe is not None and is_openmpi(exe):
        command.insert(1, "--allow-run-as-root")
    return [*command, sys.executable, str(WORKER), *worker_args]


def gpaw_env() -> dict[str, str]:
    """The environment of a run: MPI through GPAW's own C backend, one thread per rank.

    Open MPI counts physical cores as its slots and refuses more ranks than that, while
    :func:`default_cores` counts hardware threads: oversubscription is allowed unless the
    user's environment says otherwise (other MPI libraries ignore the variable).
    """
    env = dict(os.environ)
    env.update(GPAW_MPI_BACKEND="cgpaw", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    return env


TIMED_OUT = 124
"""Exit status of a run killed at its wall-time limit (as coreutils' ``timeout`` says)."""


def run_gpaw(
    command: list[str], run_dir: Path, env: dict[str, str], timeout_s: float | None = None
) -> int:
    """Run ``command`` in ``run_dir`` and return its exit status.

    Standard output and error go to ``run_dir/gpaw-stdout.txt``. A missing executable is
    exit status 127, as in a shell. The launcher starts a process group of its own: past
    ``timeout_s`` the whole group (the launcher and every MPI rank it started) is killed
    and the status is :data:`TIMED_OUT`.
    """
    with (run_dir / STDOUT).open("w") as out:
        try:
            proc = subprocess.Popen(
                command,
                cwd=run_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killed as a whole
            )
        except FileNotFoundError as exc:
            out.write(f"{exc}\n")
            return 127
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            out.write(f"\npesbench: wall-time limit of {timeout_s:g} s reached; run killed\n")
            return TIMED_OUT
        except BaseException:  # the job itself is interrupted: leave no rank behind
            _kill_group(proc)
            raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group of ``proc`` and reap it."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
