"""What every importer yields: one :class:`Frame` (or :class:`BadRecord`) per record.

A frame is one labelled structure of a file, already in pesbench's units: total energy in
eV, forces in eV/Å, stress in GPa with the tensile-positive (ASE) sign. Each reader
converts from its format's own convention (documented in its module) and
:func:`check_frame` rejects what cannot be right whatever the format said.

How an imported frame is keyed
------------------------------
A computed reference is keyed ``structure_id:functional:input_hash`` with the hash of its
physical input settings (:func:`pesbench.schemas.reference.reference_id`). An imported one
has no inputs pesbench chose, so its ``input_hash`` is the hash of the dataset's identity,
``{"dataset": name, "dataset_version": version}`` (also its ``input_settings``):

- a re-import of the same file (or another file of the same dataset holding the same
  structure) gives the same key: it is stored once, the first frame read wins, and later
  ones count as duplicates;
- the same structure in two datasets (or two versions of one) is two references, never
  mixed, and never confused with a computed reference of the same structure.

Where the frame came from (file, format, index, the file's frame, material and run ids)
is in the reference's ``provenance`` (:class:`~pesbench.schemas.reference.ImportProvenance`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ase import units
from pymatgen.core import Structure

from pesbench.schemas.base import FUNCTIONALS
from pesbench.schemas.ids import content_ids
from pesbench.schemas.reference import ImportProvenance, ReferenceDoc, hash_inputs

__all__ = [
    "EV_PER_A3_TO_GPA",
    "KBAR_VASP_TO_GPA",
    "MAX_FORCE_EV_A",
    "MAX_STRESS_GPA",
    "BadRecord",
    "DatasetId",
    "Frame",
    "RecordError",
    "check_frame",
    "dataset_hash",
    "functional_name",
    "to_reference",
]

EV_PER_A3_TO_GPA = 1.0 / units.GPa
"""ASE stress (eV/Å³, tensile positive) -> GPa, same sign (about 160.2)."""
KBAR_VASP_TO_GPA = -0.1
"""VASP stress (kBar, pressure positive) -> GPa tensile positive."""
MAX_FORCE_EV_A = 1000.0
"""A force component above this (eV/Å) is taken for a unit error (Hartree/Bohr ... of junk)."""
MAX_STRESS_GPA = 1000.0
"""A stress component above this (GPa; 1 TPa) is taken for a unit error (Pa, bar ...)."""


class RecordError(ValueError):
    """A record that cannot be imported; the message says why."""


@dataclass(frozen=True)
class DatasetId:
    """The dataset a file belongs to: its name and version, as the user gave them."""

    name: str
    version: str = ""


@dataclass
class Frame:
    """One labelled structure read from a file, in pesbench's units.

    Parameters
    ----------
    index
        0-based position of the record in the file (what a bad record is reported by).
    structure
        The structure.
    energy
        Total energy of the cell, eV.
    forces
        (n_atoms, 3), eV/Å; None when the file has none.
    stress
        3x3, GPa, tensile positive; None when the file has none.
    functional
        The functional the file states for this record (None: the user's).
    """

    index: int
    structure: Structure
    energy: float
    forces: Any = None
    stress: Any = None
    magmoms: list[float] | None = None
    functional: str | None = None
    frame_id: str | None = None
    material_id: str | None = None
    run_id: str | None = None
    ionic_step: int | None = None
    category: str | None = None
    code: str | None = None
    code_version: str | None = None
    source_settings: dict[str, Any] = field(default_factory=dict)
    failure_reason: str | None = None
    """Set when the source says the calculation failed (SCF not converged): stored as failed."""
    converged_electronic: bool | None = None
    converged_ionic: bool | None = None


@dataclass
class BadRecord:
    """A record a reader could not turn into a frame: reported by index, then skipped."""

    index: int
    reason: str


def functional_name(name: str | None) -> str:
    """The project's name of a functional (``schemas.base.Functional``), case-insensitively.

    Raises
    ------
    RecordError
        For an unknown name or None: a functional is never guessed.
    """
    if name is None or not str(name).strip():
        raise RecordError("no functional: give --functional or a 'functional' in the record")
    wanted = str(name).strip().lower().replace("-", "").replace("_", "")
    for known in FUNCTIONALS:
        if known.lower().replace("-", "") == wanted:
            return known
    raise RecordError(f"unknown functional {name!r}; known: {', '.join(FUNCTIONALS)}")


def dataset_hash(dataset: DatasetId) -> tuple[str, dict[str, Any]]:
    """The ``input_hash`` of a dataset's references and the settings it hashes."""
    settings = {"dataset": dataset.name, "dataset_version": dataset.version}
    return hash_inputs(settings), settings


def _array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise RecordError(f"{what} is not numeric") from None
    if array.shape != shape:
        raise RecordError(f"{what} has shape {array.shape}, expected {shape}")
    if not np.all(np.isfinite(array)):
        raise RecordError(f"{what} holds NaN or infinity")
    return array


def check_frame(frame: Frame) -> Frame:
    """Check shapes, finiteness and plausible magnitudes; return the frame normalised.

    Forces become an (n, 3) list, a 6-component (Voigt, xx yy zz yz xz xy) stress a 3x3
    one.

    Raises
    ------
    RecordError
        Naming what is wrong: a missing energy, a wrong shape, NaN, or a magnitude that
        only a unit error gives (:data:`MAX_FORCE_EV_A`, :data:`MAX_STRESS_GPA`).
    """
    n = len(frame.structure)
    if n == 0:
        raise RecordError("empty structure")
    if frame.energy is None or not math.isfinite(float(frame.energy)):
        raise RecordError("no finite energy")
    frame.energy = float(frame.energy)
    if frame.forces is not None:
        forces = _array(frame.forces, (n, 3), "forces")
        if np.abs(forces).max(initial=0.0) > MAX_FORCE_EV_A:
            raise RecordError(
                f"a force component of {np.abs(forces).max():.3g} eV/Å: not eV/Å (unit error?)"
            )
        frame.forces = forces.tolist()
    if frame.stress is not None:
        stress = np.asarray(frame.stress, dtype=float)
        if stress.shape == (6,):
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        stress = _array(stress, (3, 3), "stress")
        if np.abs(stress).max() > MAX_STRESS_GPA:
            raise RecordError(
                f"a stress component of {np.abs(stress).max():.3g} GPa: not GPa (unit error?)"
            )
        frame.stress = stress.tolist()
    if frame.magmoms is not None:
        frame.magmoms = _array(frame.magmoms, (n,), "magmoms").tolist()
    if not frame.structure.is_ordered:
        raise RecordError("disordered structure (partial occupancies)")
    return frame


def to_reference(
    frame: Frame,
    *,
    dataset: DatasetId,
    functional: str | None,
    source_file: str,
    source_format: str,
    category: str = "imported",
    campaign: str | None = None,
    tags: list[str] | None = None,
) -> ReferenceDoc:
    """The reference document of a checked frame (keyed as the module docstring says).

    ``functional`` is the user's; a functional the record states wins over it only when
    the user gave none, and the two must agree when both are given.

    Raises
    ------
    RecordError
        Unknown or conflicting functional.
    """
    if frame.functional is not None and functional is not None:
        mine, theirs = functional_name(functional), functional_name(frame.functional)
        if mine != theirs:
            raise RecordError(f"the record says {theirs}, --functional says {mine}")
    name = functional_name(frame.functional if frame.functional is not None else functional)
    input_hash, settings = dataset_hash(dataset)
    n = len(frame.structure)
    sid, order = content_ids(frame.structure)
    fields: dict[str, Any] = dict(
        structure_id=sid,
        site_order=order,
        n_atoms=n,
        status="failed" if frame.failure_reason else "success",
        failure_reason=frame.failure_reason,
        energy=frame.energy,
        energy_per_atom=frame.energy / n,
        forces=frame.forces,
        stress=frame.stress,
        magmoms=frame.magmoms,
        structure=frame.structure,
        functional=name,
        code=frame.code or "unknown",
        code_version=frame.code_version,
        input_hash=input_hash,
        input_settings=settings,
        converged_electronic=frame.converged_electronic,
        converged_ionic=frame.converged_ionic,
        campaign=campaign,
        tags=list(tags or []),
        provenance=_provenance(frame, dataset, source_file, source_format, category),
    )
    return ReferenceDoc(**fields)


def _provenance(
    frame: Frame, dataset: DatasetId, source_file: str, source_format: str, category: str
) -> ImportProvenance:
    """Where an imported frame came from: dataset, file, format and the frame's own ids."""
    return ImportProvenance(
        dataset=dataset.name,
        dataset_version=dataset.version,
        source_file=source_file,
        source_format=source_format,
        frame_index=frame.index,
        frame_id=frame.frame_id,
        material_id=frame.material_id,
        run_id=frame.run_id,
        ionic_step=frame.ionic_step,
        category=frame.category or category,
        source_settings=frame.source_settings,
    )
