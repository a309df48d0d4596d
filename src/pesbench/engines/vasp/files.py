"""A VASP run folder's files: which vasprun is which run, OUTCAR, custodian.json, stdout.

A folder holds its outputs itself or in ``outputs/`` (atomate2's layout); see
:mod:`pesbench.engines.vasp.parse` for what is read from them.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

from monty.io import zopen
from pymatgen.io.vasp import Outcar, Vasprun

from pesbench.engines.vasp.physics import _int
from pesbench.errors import PesbenchError

__all__ = ["NotAVaspRunError", "find_run_dirs", "read_corrections", "vasprun_files"]

_STDOUT_FILES = ("vasp.out", "std_err.txt", "vasp.err")


class NotAVaspRunError(PesbenchError):
    """A folder with neither a vasprun.xml nor a POSCAR/CONTCAR to name the structure."""


def _read_vasprun(path: Path) -> Vasprun:
    """``vasprun.xml`` without DOS, eigenvalues or POTCAR, its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Vasprun(
            str(path),
            parse_potcar_file=False,
            parse_dos=False,
            parse_eigen=False,
            parse_projected_eigen=False,
        )


def _first(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        found = sorted(p for p in folder.glob(pattern) if p.is_file())
        if found:
            return found[0]
    return None


def _files_dir(folder: Path) -> Path:
    """The folder holding the outputs: ``folder``, or its ``outputs/`` (atomate2's layout)."""
    if _first(folder, ("vasprun*",)) is None and (folder / "outputs").is_dir():
        return folder / "outputs"
    return folder


_COMPRESSED = re.compile(r"\.(gz|bz2|xz|lzma|Z)$")


_RELAX_N = re.compile(r"\.relax(\d+)$")


def _run_suffix(vasprun: Path) -> str:
    """What a vasprun's name adds to ``vasprun.xml`` (``.relax1``, or ``""``).

    ``.relax1`` for custodian's and atomate's ``vasprun.xml.relax1.gz``, ``""`` for
    ``vasprun.xml.gz``.
    """
    name = _COMPRESSED.sub("", vasprun.name)
    return name.removeprefix("vasprun").replace(".xml", "", 1)


def vasprun_files(folder: Path) -> list[Path]:
    """Every vasprun of the run in ``folder`` (or its ``outputs/``), in run order.

    custodian (``VaspJob(suffix=".relax1")``, the double relaxation of
    ``VaspJob.double_relaxation_run`` / ``full_opt_run``) and atomate keep each run of a
    multi-run folder under a suffix, ``vasprun.xml.relax1.gz``, ``vasprun.xml.relax2.gz``:
    those come in the order of their number, then the others by name (a ``vasprun.xml``
    without suffix, written by the run after the numbered ones, last).
    """
    files = _files_dir(Path(folder))

    def order(path: Path) -> tuple[int, str]:
        numbered = _RELAX_N.search(_run_suffix(path))
        return (int(numbered.group(1)) if numbered else 1 << 30, path.name)

    return sorted((p for p in files.glob("vasprun*") if p.is_file()), key=order)


def find_run_dirs(root: Path) -> list[Path]:
    """Every run folder at or under ``root``: a folder with a vasprun, OUTCAR or POSCAR.

    A folder's own ``inputs/``/``outputs/`` subfolders (atomate2's test layout) count as
    one run, the folder itself.
    """
    root = Path(root)
    runs = []
    for folder in sorted({root, *(p for p in root.rglob("*") if p.is_dir())}):
        if folder.name in ("inputs", "outputs") and folder.parent in runs:
            continue
        if _first(_files_dir(folder), ("vasprun*", "OUTCAR", "OUTCAR.gz", "POSCAR", "POSCAR.gz")):
            runs.append(folder)
    return runs


def read_corrections(folder: Path) -> list[dict[str, Any]]:
    """The corrections of ``custodian.json``: one dict per error custodian handled.

    Each holds ``errors`` (the error keys), ``actions`` (what custodian changed) and
    ``handler`` (the handler's class name). No custodian.json: an empty list.
    """
    path = _first(folder, ("custodian.json*",))
    if path is None:
        return []
    with zopen(path, "rt") as handle:
        runs = json.load(handle)
    corrections = []
    for run in runs if isinstance(runs, list) else [runs]:
        for corr in run.get("corrections") or []:
            handler = corr.get("handler") or {}
            corrections.append(
                {
                    "errors": list(corr.get("errors") or []),
                    "actions": corr.get("actions") or [],
                    "handler": handler.get("@class") if isinstance(handler, dict) else None,
                }
            )
    return corrections


def _wall_time_and_magmoms(
    folder: Path, n_atoms: int, vasprun: Path | None = None
) -> tuple[float | None, list[float] | None]:
    """Wall time and final moments from the run's OUTCAR.

    With ``vasprun``, the OUTCAR of the same suffix (``OUTCAR.relax1.gz`` for
    ``vasprun.xml.relax1.gz``), or the only OUTCAR of a single-run folder.
    """
    if vasprun is None or len(vasprun_files(folder)) == 1:
        path = _first(folder, ("OUTCAR*",))
    else:
        name = f"OUTCAR{_run_suffix(vasprun)}"
        path = _first(folder, tuple(name + ext for ext in ("", ".gz", ".bz2", ".xz")))
    if path is None:
        return None, None
    try:
        outcar = Outcar(str(path))
    except Exception:  # a truncated OUTCAR: no timing, no moments
        return None, None
    wall = outcar.run_stats.get("Elapsed time (sec)")
    mags = [float(m.get("tot", 0.0)) for m in outcar.magnetization or ()]
    return (float(wall) if wall is not None else None), (mags if len(mags) == n_atoms else None)


def _recorded_errors(folder: Path) -> list[str]:
    """Error keys custodian's VaspErrorHandler finds in the stdout/stderr files."""
    from custodian.vasp.handlers import VaspErrorHandler

    found: list[str] = []
    for name in _STDOUT_FILES:
        path = _first(folder, (name, name + ".gz"))
        if path is None:
            continue
        with zopen(path, "rt", errors="replace") as handle:
            text = handle.read()
        for key, messages in VaspErrorHandler.error_msgs.items():
            if key not in found and any(msg in text for msg in messages):
                found.append(key)
    return found


def _is_static(incar: dict[str, Any]) -> bool:
    return _int(incar.get("NSW", 0) or 0) == 0 or _int(incar.get("IBRION", 0)) == -1
