"""The one function that runs VASP: custodian with its standard handlers (atomate2's).

Tests and :mod:`pesbench.testing.vasp` patch :func:`run_vasp` here, and only here; the
engine calls it as ``run.run_vasp(...)`` so that the patch is seen.
"""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from atomate2.vasp.run import DEFAULT_HANDLERS, JobType
from atomate2.vasp.run import run_vasp as _atomate2_run_vasp
from custodian.vasp.handlers import UnconvergedErrorHandler
from custodian.vasp.io import load_vasprun
from monty.os.path import zpath

from pesbench.errors import PesbenchError

__all__ = [
    "DEFAULT_HANDLERS",
    "POLLING_TIME_STEP_S",
    "RELAX_HANDLERS",
    "ScfUnconvergedErrorHandler",
    "VaspRunError",
    "run_vasp",
]

POLLING_TIME_STEP_S = 10.0
"""Seconds between custodian's looks at a running VASP (custodian's default)."""


class ScfUnconvergedErrorHandler(UnconvergedErrorHandler):
    """Custodian's ``UnconvergedErrorHandler`` for an unconverged SCF only.

    Its corrections of the SCF (the ALGO ladder, then mixing) are kept. An ionically
    unconverged relaxation is left alone: custodian would otherwise continue it from
    CONTCAR with IBRION = 1, past the step budget every side of a relaxation shares, and
    with the frames before the restart only in its ``error.N.tar.gz``.
    """

    def check(self, directory: str = "./") -> bool:
        """Whether the last ionic step's SCF did not converge."""
        try:
            run = load_vasprun(os.path.join(directory, self.output_filename))
        except Exception:  # no or unreadable vasprun.xml: other handlers look at that
            return False
        return not run.converged_electronic


RELAX_HANDLERS = tuple(
    ScfUnconvergedErrorHandler() if isinstance(h, UnconvergedErrorHandler) else h
    for h in DEFAULT_HANDLERS
)
"""atomate2's handlers of a relaxation, with :class:`ScfUnconvergedErrorHandler` in place of
``UnconvergedErrorHandler`` (the rest, PotimErrorHandler included, as atomate2 runs them)."""


class VaspRunError(PesbenchError):
    """VASP could not be started (no executable, no POTCAR) or custodian gave up."""


def _require(run_dir: Path, vasp_cmd: Sequence[str]) -> None:
    exe = next((tok for tok in vasp_cmd if "vasp" in Path(tok).name), vasp_cmd[-1])
    if shutil.which(exe) is None and not Path(exe).is_file():
        raise VaspRunError(
            f"VASP executable {exe!r} not found: set PESBENCH_VASP_CMD (e.g. 'srun vasp_std')"
        )
    if not Path(zpath(str(run_dir / "POTCAR"))).is_file():
        raise VaspRunError(
            f"no POTCAR in {run_dir} (only POTCAR.spec): set PESBENCH_VASP_POTCAR_DIR"
        )


def run_vasp(
    run_dir: Path,
    *,
    vasp_cmd: str | Sequence[str],
    vasp_gamma_cmd: str | Sequence[str],
    max_errors: int = 5,
    handlers: Sequence[Any] = DEFAULT_HANDLERS,
    polling_time_step: float = POLLING_TIME_STEP_S,
    check_files: bool = True,
) -> None:
    """Run VASP in ``run_dir`` through custodian (atomate2's ``run_vasp``, job type NORMAL).

    Custodian writes ``custodian.json`` (the errors it saw and the corrections it applied)
    in ``run_dir``; :func:`pesbench.engines.vasp.parse.parse_run_dir` reads it.

    Parameters
    ----------
    run_dir
        Folder holding INCAR, POSCAR, POTCAR (and KPOINTS unless KSPACING is used).
    vasp_cmd, vasp_gamma_cmd
        Commands, launcher included (``"srun vasp_std"``), or their argument lists.
    max_errors
        Corrections custodian may apply before it gives up.
    handlers
        Custodian error handlers; atomate2's standard set by default.
    polling_time_step
        Seconds between custodian's checks of the running process.
    check_files
        Refuse to start when the executable or the POTCAR is missing (the fakes of
        :mod:`pesbench.testing.vasp` turn it off: they read POTCAR.spec).

    Raises
    ------
    VaspRunError
        When VASP cannot be started, or custodian stops (the message says why).
    """
    cmd = shlex.split(vasp_cmd) if isinstance(vasp_cmd, str) else list(vasp_cmd)
    gamma = shlex.split(vasp_gamma_cmd) if isinstance(vasp_gamma_cmd, str) else vasp_gamma_cmd
    if check_files:
        _require(run_dir, cmd)
    try:
        _atomate2_run_vasp(
            job_type=JobType.NORMAL,
            vasp_cmd=shlex.join(cmd),
            vasp_gamma_cmd=shlex.join(gamma),
            max_errors=max_errors,
            handlers=handlers,
            custodian_kwargs={"directory": str(run_dir), "polling_time_step": polling_time_step},
        )
    except Exception as exc:  # custodian raises many types; the doc records the message
        msg = " ".join(str(exc).split()) or type(exc).__name__
        raise VaspRunError(f"custodian stopped: {type(exc).__name__}: {msg}"[:500]) from exc
