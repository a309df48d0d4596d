"""Files ASE reads, with energies, forces and stress: extended XYZ, and any other format.

Extended XYZ is read frame by frame, so one broken frame is skipped; other formats
through :func:`ase.io.iread`.

Units: ASE's, converted here. Energy eV; forces eV/Å; stress eV/Å³ with ASE's sign
(positive = tensile), times :data:`~pesbench.importers.record.EV_PER_A3_TO_GPA` to GPa.
An extxyz file states its stress in eV/Å³ by ASE's convention (ase.io.extxyz), the sign
VASP prints the other way round (so a VASP stress copied into an extxyz raw is an error
this cannot detect; the magnitude checks catch kBar read as eV/Å³).

What a frame's ``info`` may say, used when present: ``functional`` (else the user's),
``material_id`` or ``mp_id``, ``frame_id``, ``category``, ``run_id``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import iread, read
from monty.io import zopen
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.importers.record import EV_PER_A3_TO_GPA, BadRecord, Frame

__all__ = ["frame_from_atoms", "read_ase", "read_extxyz"]


def _info(info: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = info.get(key)
        if value is not None and str(value).strip():
            return str(value)
    return None


def frame_from_atoms(atoms: Atoms, index: int) -> Frame | BadRecord:
    """The frame of an ``Atoms`` with a (single point) calculator; no energy: a bad record."""
    calc = atoms.calc
    if calc is None or "energy" not in getattr(calc, "results", {}):
        return BadRecord(index, "no energy in the record")
    results = calc.results
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (6,):
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        stress = stress * EV_PER_A3_TO_GPA
    magmoms = results.get("magmoms")
    if magmoms is None and "magmoms" in atoms.arrays:
        magmoms = atoms.arrays["magmoms"]
    info = atoms.info
    if not all(atoms.pbc):
        return BadRecord(index, "not periodic in all three directions")
    try:
        structure = AseAtomsAdaptor.get_structure(
            Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        )
    except Exception as exc:
        return BadRecord(index, f"no structure: {exc}")
    return Frame(
        index=index,
        structure=structure,
        energy=results["energy"],
        forces=results.get("forces"),
        stress=stress,
        magmoms=None if magmoms is None else np.asarray(magmoms, dtype=float).ravel().tolist(),
        functional=_info(info, "functional"),
        frame_id=_info(info, "frame_id"),
        material_id=_info(info, "material_id", "mp_id"),
        run_id=_info(info, "run_id"),
        category=_info(info, "category"),
    )


def _extxyz_chunks(path: Path) -> Iterator[tuple[int, str | None, str]]:
    """``(index, text of the frame or None, why not)`` for each frame of an XYZ file."""
    with zopen(path, "rt") as handle:
        lines = handle.read().splitlines(keepends=True)
    at, index = 0, 0
    while at < len(lines):
        head = lines[at].strip()
        if not head:
            at += 1
            continue
        try:
            n_atoms = int(head)
        except ValueError:
            yield index, None, f"line {at + 1}: expected the atom count, got {head[:40]!r}"
            return  # no way to find the next frame
        end = at + 2 + n_atoms
        if end > len(lines):
            yield index, None, f"line {at + 1}: {n_atoms} atoms announced, file ends first"
            return
        yield index, "".join(lines[at:end]), ""
        at, index = end, index + 1


def read_extxyz(path: Path) -> Iterator[Frame | BadRecord]:
    """The frames of an (extended) XYZ file, in order; a frame ASE cannot read is bad."""
    for index, text, why in _extxyz_chunks(path):
        if text is None:
            yield BadRecord(index, why)
            continue
        try:
            atoms = read(io.StringIO(text), format="extxyz")
        except Exception as exc:
            yield BadRecord(index, f"unreadable frame: {type(exc).__name__}: {exc}")
            continue
        yield frame_from_atoms(atoms, index)  # type: ignore[arg-type]


def read_ase(path: Path, format: str | None = None) -> Iterator[Frame | BadRecord]:
    """The frames of any file :func:`ase.io.iread` reads (OUTCAR, .traj, CIF ...).

    A frame that breaks the reader ends the file there: it is reported as bad.
    """
    frames = iread(str(path), index=":", format=format)
    index = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            return
        except Exception as exc:
            yield BadRecord(index, f"ASE stopped reading: {type(exc).__name__}: {exc}")
            return
        yield frame_from_atoms(atoms, index)
        index += 1
