"""A hung DFT run (issue 15, item 3): killed at its wall-time limit with every process it
started, stored as a failure that says so, and rerun successfully by a resume.

The MPI launcher is a script of the test's (setting ``mpi_command``): while the file
``hang`` exists next to the run folders it starts a child and waits forever, like an MPI job
whose ranks deadlocked; otherwise it runs the GPAW worker itself (one rank).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest
from gpaw_engine import usable_gpaw
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from pesbench.engines.gpaw.run import TIMED_OUT, run_gpaw
from pesbench.makers.reference import ReferenceMaker
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores.references import ReferenceStore

LAUNCHER = """#!/bin/bash
# $1: the number of cores; then the worker's command
shift
if [ -e "$(dirname "$PWD")/hang" ]; then
    sleep 600 &
    echo $! > child.pid
    echo $$ > launcher.pid
    wait
fi
exec "$@"
"""


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def launcher(tmp_path: Path) -> Path:
    path = tmp_path / "fake-mpiexec"
    path.write_text(LAUNCHER)
    path.chmod(0o755)
    return path


def test_run_gpaw_kills_the_whole_process_group(tmp_path: Path, launcher: Path) -> None:
    (tmp_path / "hang").touch()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    start = time.perf_counter()
    code = run_gpaw([str(launcher), "1", "true"], run_dir, dict(os.environ), timeout_s=1.0)
    assert code == TIMED_OUT
    assert time.perf_counter() - start < 30
    assert "wall-time limit of 1 s" in (run_dir / "gpaw-stdout.txt").read_text()
    pids = [int((run_dir / name).read_text()) for name in ("launcher.pid", "child.pid")]
    deadline = time.time() + 10
    while any(_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)  # the launcher and the rank it started


@pytest.mark.slow
def test_a_hung_reference_fails_with_its_reason_and_a_resume_computes_it(
    db_settings: PesbenchSettings,
    tmp_path: Path,
    launcher: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    si2 = Structure(
        Lattice([[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]]),
        ["Si", "Si"],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    )
    jobs = tmp_path / "jobs"  # the run folders go here; the launcher looks for jobs/hang
    jobs.mkdir()
    monkeypatch.chdir(jobs)
    maker = ReferenceMaker(
        functional="PBE", engine="gpaw", overrides={"kspacing": 0.5, "ecut": 250}, timeout_s=3
    )
    (jobs / "hang").touch()
    with override_settings(
        db_uri=db_settings.db_uri,
        db_name=db_settings.db_name,
        data_dir=db_settings.data_dir,
        mpi_command=f"{launcher} {{cores}}",
    ) as settings:
        usable_gpaw(settings)
        run_locally(maker.make(si2, campaign="hung"), log=False)
        with ReferenceStore() as refs:
            [failed] = list(refs.query())
        assert failed.status == "failed"
        assert "wall-time limit of 3 s" in (failed.failure_reason or "")
        assert "all its MPI processes" in (failed.failure_reason or "")
        # resume: the same reference again, the hang gone (a limit real GPAW stays within)
        (jobs / "hang").unlink()
        run_locally(replace(maker, timeout_s=900).make(si2, campaign="hung"), log=False)
        with ReferenceStore() as refs:
            [done] = list(refs.query())
    assert done.reference_id == failed.reference_id
    assert done.status == "success", done.failure_reason
    assert done.energy_per_atom is not None
