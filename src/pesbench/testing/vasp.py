"""Mock VASP, the atomate2 way: per-job reference folders ``inputs/`` + ``outputs/``.

A fake run first checks the inputs pesbench wrote (INCAR keys, KPOINTS or KSPACING,
POSCAR, POTCAR symbols from POTCAR.spec, a WAVECAR to start from), then copies the
reference outputs into the run folder. It is a real executable (``python -m
pesbench.testing.fake_vasp``) that custodian launches, so custodian's handlers and
validators stay in the loop; it can also print recorded VASP errors on its first runs.

Use it in your own tests::

    from pesbench.testing import mock_vasp

    with mock_vasp({"PBE": "ref/Si_pbe", "r2SCAN": VaspReference("ref/Si_r2scan",
                                                                  require_wavecar=True)}):
        run_locally(my_flow, store=store)

or enable the pytest fixture with ``pytest_plugins = ["pesbench.testing.pytest_plugin"]``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from pymatgen.io.vasp import Incar, Poscar

from pesbench.engines.vasp import run as vasp_run
from pesbench.engines.vasp.physics import UnsupportedRunError, functional_from_incar
from pesbench.schemas.ids import structure_id
from pesbench.testing import fake_vasp
from pesbench.testing.fake_vasp import (
    CHECKS,
    FakeVaspError,
    check_inputs,
    copy_outputs,
    fake_run_vasp,
)

__all__ = [
    "CHECKS",
    "FakeVaspError",
    "MockVasp",
    "VaspReference",
    "check_inputs",
    "copy_outputs",
    "fake_run_vasp",
    "fake_vasp_command",
    "mock_vasp",
]


@dataclass
class VaspReference:
    """One reference folder, and how its fake run behaves.

    Parameters
    ----------
    path
        Folder with ``inputs/`` (INCAR, POSCAR, POTCAR.spec, KPOINTS if used) and
        ``outputs/`` (the files of the real run, gzipped or not).
    checks
        Inputs to compare (see :func:`check_inputs`).
    incar_exclude
        INCAR keys not compared (those custodian's corrections change, for instance).
    require_wavecar
        Fail unless a WAVECAR was put in the run folder (a run from a previous one).
    errors
        Recorded VASP stdout/stderr files printed by the first launches, one per launch.
    """

    path: Path
    checks: Sequence[str] = CHECKS
    incar_exclude: Sequence[str] = ()
    require_wavecar: bool = False
    errors: Sequence[Path] = ()

    def command(self) -> list[str]:
        """The fake executable's command line."""
        checks = [*self.checks, *(["wavecar"] if self.require_wavecar else [])]
        return fake_vasp_command(self.path, checks, self.incar_exclude, self.errors)


def fake_vasp_command(
    ref: Path,
    checks: Sequence[str] = CHECKS,
    incar_exclude: Sequence[str] = (),
    errors: Sequence[Path] = (),
) -> list[str]:
    """The fake executable's command: ``python <.../fake_vasp.py> '<json spec>'``."""
    spec = {
        "ref": str(Path(ref).resolve()),
        "checks": list(checks),
        "incar_exclude": list(incar_exclude),
        "errors": [str(Path(e).resolve()) for e in errors],
    }
    # run the module's file, not ``-m``: that skips importing pesbench (and atomate2)
    return [sys.executable, str(Path(fake_vasp.__file__)), json.dumps(spec)]


@dataclass
class MockVasp:
    """What :func:`mock_vasp` yields: the launches it served, as (key, run folder)."""

    references: dict[str, VaspReference]
    calls: list[tuple[str, Path]] = field(default_factory=list)


def _keys(run_dir: Path) -> list[str]:
    """Keys a run folder is looked up by: job name, structure_id:functional, functional."""
    keys = []
    with contextlib.suppress(ImportError, AttributeError):
        from jobflow import CURRENT_JOB

        if CURRENT_JOB.job is not None:
            keys.append(CURRENT_JOB.job.name)
    structure = Poscar.from_file(str(run_dir / "POSCAR")).structure
    try:
        functional: str = functional_from_incar(Incar.from_file(str(run_dir / "INCAR")))[0]
    except UnsupportedRunError:
        functional = "?"
    return [*keys, f"{structure_id(structure)}:{functional}", functional]


@contextlib.contextmanager
def mock_vasp(
    references: Mapping[str, Path | str | VaspReference],
    *,
    polling_time_step: float = 0.05,
) -> Iterator[MockVasp]:
    """Replace VASP by fake runs from reference folders while the block runs.

    Patches :func:`pesbench.engines.vasp.run.run_vasp` (the one place VASP is run) with
    one that calls the real function, custodian included, on the fake executable of the
    matching reference. A run folder is matched by the first key of ``references`` among:
    the current jobflow job's name, ``"<structure_id>:<functional>"``, ``"<functional>"``.

    Parameters
    ----------
    references
        Key -> reference folder (or :class:`VaspReference` for more control).
    polling_time_step
        Custodian's polling interval, seconds (short: the fake finishes at once).

    Raises
    ------
    KeyError
        Inside the block, when a run matches no key.
    """
    refs = {
        key: ref if isinstance(ref, VaspReference) else VaspReference(Path(ref))
        for key, ref in references.items()
    }
    state = MockVasp(refs)
    real = vasp_run.run_vasp

    def fake(run_dir: Path, **kwargs: Any) -> None:
        keys = _keys(Path(run_dir))
        key = next((k for k in keys if k in refs), None)
        if key is None:
            raise KeyError(f"no mock VASP reference for {keys}; known: {sorted(refs)}")
        state.calls.append((key, Path(run_dir)))
        cmd = refs[key].command()
        kwargs.update(vasp_cmd=cmd, vasp_gamma_cmd=cmd, check_files=False)
        kwargs["polling_time_step"] = polling_time_step
        real(Path(run_dir), **kwargs)

    with mock.patch.object(vasp_run, "run_vasp", fake):
        yield state
