"""Files ASE reads, with energies, forces and stress: extended XYZ, and any other format.

Extended XYZ is read frame by frame, so one broken frame is skipped; other formats
through :func:`ase.io.iread`.

Units: ASE's, converted here. Energy eV; forces eV/Å; stress eV/Å³ with ASE's sign
(positive = tensile), times :data:`~pesbench.importers.record.EV_PER_A3_TO_GPA` to GPa.
An extxyz file states its stress in eV/Å³ by ASE's convention (ase.io.extxyz), the sign
VASP prints the other way round (so a VASP stress copied into an extxyz raw is an error
this cannot detect; the magnitude checks catch kBar read as eV/Å³).

Where the labels are (:class:`ResultKeys`, ``--energy-key``, ``--forces-key``,
``--stress-key``): by default, the calculator's results ASE reads (``energy=`` and
``stress=`` in an extxyz comment line, a ``forces`` column), or else ASE's ``REF_``
names, ``REF_energy``/``REF_stress`` in ``info`` and a ``REF_forces`` column (MACE's
training files, ``energy_key="REF_energy"``). A frame with both, different, is bad: which
one is the DFT label is not guessed, the key says it. A key given is the only place that
label is read (``info``/``arrays`` by that name, or the calculator's results for
``energy``/``forces``/``stress``): a frame without it has no energy (bad), or is stored
without forces or stress.

What a frame's ``info`` may say, used when present: ``functional`` (else the user's),
``material_id`` or ``mp_id``, ``frame_id``, ``category``, ``run_id``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io import iread, read
from monty.io import zopen
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.importers.record import EV_PER_A3_TO_GPA, BadRecord, Frame

__all__ = [
    "REF_PREFIX",
    "ResultKeys",
    "extxyz_frame",
    "extxyz_texts",
    "frame_from_atoms",
    "read_ase",
    "read_extxyz",
]

REF_PREFIX = "REF_"
"""Prefix of the labels a file keeps beside a calculator's (MACE's ``REF_energy`` ...)."""


@dataclass(frozen=True)
class ResultKeys:
    """Where a frame's energy, forces and stress are: None, found as the module says."""

    energy: str | None = None
    forces: str | None = None
    stress: str | None = None


class _Ambiguous(ValueError):
    pass


def _label(atoms: Atoms, quantity: str, key: str | None) -> Any:
    """``quantity`` (energy, forces or stress) of ``atoms`` read from ``key`` (see module)."""
    results = getattr(atoms.calc, "results", None) or {}
    store = atoms.arrays if quantity == "forces" else atoms.info

    def at(name: str) -> Any:
        value = results.get(name) if name == quantity else None
        return store.get(name) if value is None else value

    if key is not None:
        return at(key)
    mine, ref = at(quantity), store.get(REF_PREFIX + quantity)
    if mine is None or ref is None:
        return ref if mine is None else mine
    same = np.shape(mine) == np.shape(ref) and np.allclose(
        np.asarray(mine, dtype=float), np.asarray(ref, dtype=float), rtol=0, atol=1e-10
    )
    if not same:
        raise _Ambiguous(
            f"both {quantity!r} and {REF_PREFIX + quantity!r}, different: say which is the "
            f"DFT label with --{quantity}-key"
        )
    return mine


def _info(info: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = info.get(key)
        if value is not None and str(value).strip():
            return str(value)
    return None


def frame_from_atoms(atoms: Atoms, index: int, keys: ResultKeys | None = None) -> Frame | BadRecord:
    """The frame of an ``Atoms`` with its labels (``keys``); no energy: a bad record."""
    keys = keys or ResultKeys()
    try:
        energy = _label(atoms, "energy", keys.energy)
        forces = _label(atoms, "forces", keys.forces)
        stress = _label(atoms, "stress", keys.stress)
    except _Ambiguous as exc:
        return BadRecord(index, str(exc))
    if energy is None:
        where = f" ({keys.energy!r})" if keys.energy else ""
        return BadRecord(index, f"no energy{where} in the record")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (9,):
            stress = stress.reshape(3, 3)
        if stress.shape == (6,):
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
        stress = stress * EV_PER_A3_TO_GPA
    results = getattr(atoms.calc, "results", None) or {}
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
        energy=energy,
        forces=forces,
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


def extxyz_texts(path: Path) -> Iterator[tuple[int, str | None, str]]:
    """``(index, text of the frame or None, why not)`` for each frame of an XYZ file.

    What :func:`read_extxyz` parses with :func:`extxyz_frame`, one frame at a time (so
    that other processes can parse them: :mod:`pesbench.importers.parallel`).
    """
    return _extxyz_chunks(path)


def extxyz_frame(
    index: int, text: str | None, why: str, keys: ResultKeys | None = None
) -> Frame | BadRecord:
    """The frame of one frame's text (:func:`extxyz_texts`); unreadable: a bad record."""
    if text is None:
        return BadRecord(index, why)
    try:
        atoms = read(io.StringIO(text), format="extxyz")
    except Exception as exc:
        return BadRecord(index, f"unreadable frame: {type(exc).__name__}: {exc}")
    return frame_from_atoms(atoms, index, keys)  # type: ignore[arg-type]


def read_extxyz(path: Path, keys: ResultKeys | None = None) -> Iterator[Frame | BadRecord]:
    """The frames of an (extended) XYZ file, in order; a frame ASE cannot read is bad."""
    for index, text, why in _extxyz_chunks(path):
        yield extxyz_frame(index, text, why, keys)


def read_ase(
    path: Path, format: str | None = None, keys: ResultKeys | None = None
) -> Iterator[Frame | BadRecord]:
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
        yield frame_from_atoms(atoms, index, keys)
        index += 1
