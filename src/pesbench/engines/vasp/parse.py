"""A VASP run directory -> :class:`~pesbench.schemas.reference.ReferenceDoc`.

Reads vasprun.xml (any ``vasprun*`` name, gzipped or not; of a folder holding several
runs, the last, :func:`vasprun_files`), that run's OUTCAR for wall time and magnetic
moments, and custodian.json for the corrections custodian applied. A run that crashed (no
or truncated vasprun.xml) or did not converge is returned with ``status="failed"`` and
the reason; only a folder with no structure at all raises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from atomate2.utils.path import get_uri
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar, Vasprun

from pesbench.engines.vasp.files import (
    NotAVaspRunError,
    _files_dir,
    _first,
    _is_static,
    _read_vasprun,
    _recorded_errors,
    _wall_time_and_magmoms,
    find_run_dirs,
    read_corrections,
    vasprun_files,
)
from pesbench.engines.vasp.physics import UnsupportedRunError, functional_from_incar
from pesbench.engines.vasp.physics import physics_settings as _physics
from pesbench.engines.vasp.steps import KBAR_TO_GPA, IonicStep, VaspSteps, parse_ionic_steps
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
    return _doc_from_vasprun(run, vasprun_path, files, common)


def _doc_from_vasprun(
    run: Vasprun, vasprun_path: Path, files: Path, common: dict[str, Any]
) -> ReferenceDoc:
    """The document of a readable vasprun: its last ionic step, failed if not converged."""
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
