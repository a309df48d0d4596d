"""Every ionic step of a VASP run (relaxation or MD frames), for importing them as references."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from pesbench.engines.vasp.files import (
    NotAVaspRunError,
    _files_dir,
    _is_static,
    _read_vasprun,
    _wall_time_and_magmoms,
    vasprun_files,
)
from pesbench.engines.vasp.physics import _int, functional_from_incar
from pesbench.engines.vasp.physics import physics_settings as _physics

__all__ = ["KBAR_TO_GPA", "IonicStep", "VaspSteps", "parse_ionic_steps"]

KBAR_TO_GPA = -0.1
"""VASP prints stress in kBar with pressure positive; ``GPa (tensile +) = -0.1 * kBar``."""


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


def _ionic_step(step: dict[str, Any], nelm: int) -> IonicStep:
    """One of pymatgen's ``Vasprun.ionic_steps`` in pesbench's units."""
    stress = step.get("stress")
    return IonicStep(
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
    steps = [_ionic_step(step, nelm) for step in run.ionic_steps]
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
