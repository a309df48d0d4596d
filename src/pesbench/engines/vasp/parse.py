"""A VASP run directory -> :class:`~pesbench.schemas.reference.ReferenceDoc`.

Reads vasprun.xml (any ``vasprun*`` name, gzipped or not; of a folder holding several
runs, the last, :func:`vasprun_files`), that run's OUTCAR for wall time and magnetic
moments, and custodian.json for the corrections custodian applied. A run that crashed (no
or truncated vasprun.xml) or did not converge is returned with ``status="failed"`` and
the reason; only a folder with no structure at all raises.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from atomate2.utils.path import get_uri
from monty.io import zopen
from pymatgen.core import Structure
from pymatgen.io.vasp import Outcar, Poscar, Vasprun

from pesbench.engines.vasp.physics import UnsupportedRunError, _int, functional_from_incar
from pesbench.engines.vasp.physics import physics_settings as _physics
from pesbench.errors import PesbenchError
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs

__all__ = [
    "KBAR_TO_GPA",
    "IonicStep",
    "NotAVaspRunError",
    "VaspSteps",
    "find_run_dirs",
    "parse_ionic_steps",
    "parse_run_dir",
    "read_corrections",
    "vasprun_files",
]

KBAR_TO_GPA = -0.1
"""VASP prints stress in kBar with pressure positive; ``GPa (tensile +) = -0.1 * kBar``."""

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


def _failed_from_files(folder: Path, files: Path, reason: str, **common: Any) -> ReferenceDoc:
    """A document for a run without a readable vasprun: structure from the POSCAR."""
    poscar = _first(files, ("CONTCAR*", "POSCAR*")) or _first(folder, ("POSCAR*",))
    structure: Structure | None = None
    for candidate in [poscar, _first(files, ("POSCAR*",))]:
        if candidate is None:
            continue
        try:
            structure = Poscar.from_file(str(candidate)).structure
            break
        except Exception:  # an empty CONTCAR of a crashed run: try the POSCAR
            continue
    if structure is None:
        raise NotAVaspRunError(f"{folder}: no readable vasprun.xml, CONTCAR or POSCAR")
    errors = _recorded_errors(files)
    if errors:
        reason += f"; VASP errors: {', '.join(errors)}"
    incar = {}
    incar_path = _first(files, ("INCAR", "INCAR.gz"))
    if incar_path is not None:
        from pymatgen.io.vasp import Incar

        incar = dict(Incar.from_file(str(incar_path)))
    try:
        functional, _ = functional_from_incar(incar)
    except UnsupportedRunError:
        functional = "PBE"
    settings = {"code": "vasp", "functional": functional, "incomplete": True}
    return ReferenceDoc(
        structure_id=structure_id(structure),
        n_atoms=len(structure),
        status="failed",
        failure_reason=reason,
        structure=structure,
        functional=functional,
        code="vasp",
        input_hash=hash_inputs(settings),
        input_settings=settings,
        **common,
    )


def parse_run_dir(
    folder: Path,
    *,
    campaign: str | None = None,
    tags: list[str] | None = None,
) -> ReferenceDoc:
    """Parse a VASP run folder into a reference document.

    Not emmet's ``TaskDoc.from_directory``: it raises on a crashed run (no vasprun or CONTCAR).
    pesbench stores that as a failed reference with the reason and the POSCAR's structure.

    Parameters
    ----------
    folder
        The run folder (or an atomate2-style folder whose ``outputs/`` holds the run).
    campaign, tags
        Copied into the document.

    Returns
    -------
    ReferenceDoc
        Energy (eV), forces (eV/Å), stress (GPa, tensile positive) of the last ionic step
        of the folder's last run (:func:`vasprun_files`: ``vasprun.xml.relax2.gz`` of a
        double relaxation), wall time and moments from that run's OUTCAR; the functional
        from the echoed INCAR; ``status="failed"`` with the reason when the SCF (or a
        relaxation) did not converge, the run crashed, or the INCAR mixes GGA and METAGGA.

    Raises
    ------
    NotAVaspRunError
        When nothing in the folder names a structure.
    UnsupportedRunError
        For a functional with no name in ``Functional`` (hybrids, rSCAN, meta-GGA+U).
    """
    folder = Path(folder)
    files = _files_dir(folder)
    common: dict[str, Any] = {
        "campaign": campaign,
        "tags": list(tags or []),
        "run_dir": get_uri(folder.resolve()),  # host:/path, as atomate2's TaskDoc.dir_name
        "corrections": read_corrections(files),
    }
    runs = vasprun_files(folder)
    vasprun_path = runs[-1] if runs else None  # a double relaxation's relax2, not relax1
    if vasprun_path is None:
        return _failed_from_files(folder, files, "crashed: no vasprun.xml", **common)
    try:
        run = _read_vasprun(vasprun_path)  # an unconverged run warns; the doc says it
    except Exception as exc:  # truncated or corrupt XML: the run crashed
        reason = f"crashed: {vasprun_path.name} unreadable ({type(exc).__name__})"
        return _failed_from_files(folder, files, reason, **common)
    incar = dict(run.incar)
    functional, warning = functional_from_incar(incar)
    structure = run.final_structure
    elements = [str(el) for el in run.atomic_symbols]
    elements = list(dict.fromkeys(elements))  # species blocks, in POSCAR order
    kpoints = None if "KSPACING" in incar else run.kpoints
    settings = _physics(incar, kpoints, run.potcar_symbols, elements)
    last = run.ionic_steps[-1]
    static = _is_static(incar)
    converged_el = bool(run.converged_electronic)
    converged_ion = None if static else bool(run.converged_ionic)
    reasons = []
    if not converged_el:
        reasons.append(f"SCF not converged within NELM={incar.get('NELM', 60)} steps")
    if converged_ion is False:
        reasons.append("relaxation not converged within NSW steps")
    if warning:
        reasons.append(warning)
    wall, magmoms = _wall_time_and_magmoms(files, len(structure), vasprun_path)
    energy = float(run.final_energy)
    stress = last.get("stress")
    return ReferenceDoc(
        structure_id=structure_id(structure),
        n_atoms=len(structure),
        status="failed" if reasons else "success",
        failure_reason="; ".join(reasons) or None,
        energy=energy,
        energy_per_atom=energy / len(structure),
        forces=np.asarray(last["forces"], dtype=float).tolist() if "forces" in last else None,
        stress=(KBAR_TO_GPA * np.asarray(stress, dtype=float)).tolist()
        if stress is not None
        else None,
        magmoms=magmoms,
        structure=structure,
        functional=functional,
        code_version=run.vasp_version,
        input_hash=hash_inputs(settings),
        input_settings=settings,
        converged_electronic=converged_el,
        converged_ionic=converged_ion,
        wall_time_s=wall,
        code="vasp",
        **common,
    )


@dataclass
class IonicStep:
    """One ionic step of a VASP run, in pesbench's units.

    ``energy`` is pymatgen's ``e_0_energy`` of the step (eV), corrected for the vasprun.xml
    bug as :attr:`pymatgen.io.vasp.Vasprun.final_energy` corrects the last step, so the
    last step's energy is ``final_energy``; ``forces`` in eV/Å; ``stress`` in GPa, tensile
    positive (``KBAR_TO_GPA`` times VASP's kBar).
    """

    structure: Structure
    energy: float
    forces: list[list[float]] | None
    stress: list[list[float]] | None
    converged_electronic: bool


@dataclass
class VaspSteps:
    """Every ionic step of one VASP run, with what the run says about all of them."""

    folder: Path
    vasprun: Path
    functional: str
    settings: dict[str, Any]
    code_version: str | None
    static: bool
    converged_ionic: bool | None
    warning: str | None
    magmoms: list[float] | None
    """OUTCAR's moments of the last step (None when absent)."""
    steps: list[IonicStep] = field(default_factory=list)


def _step_energy(step: dict[str, Any]) -> float:
    """``e_0_energy`` of a step, with ``Vasprun.final_energy``'s vasprun.xml bug fix."""
    energy = float(step["e_0_energy"])
    electronic = step.get("electronic_steps") or []
    if electronic:
        last = electronic[-1]
        fixed = float(np.round(last["e_0_energy"] - last["e_fr_energy"] + step["e_fr_energy"], 8))
        if abs(energy - fixed) > 1e-7:
            return fixed
    return energy


def parse_ionic_steps(folder: Path, vasprun: Path | None = None) -> VaspSteps:
    """Every ionic step of one VASP run in ``folder`` (relaxation or MD frames).

    :func:`parse_run_dir` keeps the last step only; this keeps all, in order.
    Not emmet's ``TaskDoc``: it reads every run of a folder, DOS and eigenvalues included.

    Parameters
    ----------
    folder
        The run folder (or an atomate2-style folder whose ``outputs/`` holds the run).
    vasprun
        Which run of a folder holding several (:func:`vasprun_files`); None: the first.

    Returns
    -------
    VaspSteps
        The run's functional (from the echoed INCAR), its physics settings and its steps.

    Raises
    ------
    NotAVaspRunError
        When the folder has no readable vasprun.xml (a crashed run has no steps to import).
    UnsupportedRunError
        For a functional with no name in ``Functional``.
    """
    folder = Path(folder)
    files = _files_dir(folder)
    vasprun_path = vasprun or next(iter(vasprun_files(folder)), None)
    if vasprun_path is None:
        raise NotAVaspRunError(f"{folder}: no vasprun.xml")
    try:
        run = _read_vasprun(vasprun_path)
    except Exception as exc:
        raise NotAVaspRunError(
            f"{vasprun_path}: unreadable ({type(exc).__name__}); a crashed run has no steps"
        ) from None
    incar = dict(run.incar)
    functional, warning = functional_from_incar(incar)
    elements = list(dict.fromkeys(str(el) for el in run.atomic_symbols))
    kpoints = None if "KSPACING" in incar else run.kpoints
    nelm = _int(run.parameters.get("NELM", incar.get("NELM", 60)))
    static = _is_static(incar)
    steps = []
    for step in run.ionic_steps:
        stress = step.get("stress")
        steps.append(
            IonicStep(
                structure=step["structure"],
                energy=_step_energy(step),
                forces=np.asarray(step["forces"], dtype=float).tolist()
                if step.get("forces") is not None
                else None,
                stress=(KBAR_TO_GPA * np.asarray(stress, dtype=float)).tolist()
                if stress is not None
                else None,
                converged_electronic=len(step.get("electronic_steps") or []) < nelm,
            )
        )
    _, magmoms = _wall_time_and_magmoms(files, len(run.final_structure), vasprun_path)
    return VaspSteps(
        folder=folder,
        vasprun=vasprun_path,
        functional=functional,
        settings=_physics(incar, kpoints, run.potcar_symbols, elements),
        code_version=run.vasp_version,
        static=static,
        converged_ionic=None if static else bool(run.converged_ionic),
        warning=warning,
        magmoms=magmoms,
        steps=steps,
    )
