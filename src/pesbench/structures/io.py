"""Reading bulk structures (CIF, POSCAR, pymatgen JSON, anything ASE reads) and checking them.

A file that cannot be used raises :class:`StructureInputError` naming the file and the
problem; :func:`load_structures` reads a batch and returns the good ones next to one error
per bad file, so one bad file never stops the others.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase.io import read as ase_read
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.structures.common import StructureInputError, clean_structure

__all__ = [
    "DEFAULT_MIN_DISTANCE",
    "InputProblem",
    "LoadResult",
    "LoadedStructure",
    "check_structure",
    "load_structure",
    "load_structures",
]

DEFAULT_MIN_DISTANCE = 0.5
"""Atoms closer than this (Å) are taken as overlapping: an input error."""

_PYMATGEN_SUFFIXES = {".cif", ".vasp", ".poscar", ".mcif"}
_PYMATGEN_NAMES = ("POSCAR", "CONTCAR")


@dataclass
class LoadedStructure:
    """A bulk structure and the file it came from."""

    path: str
    structure: Structure


@dataclass
class InputProblem:
    """Why one input file was refused."""

    path: str
    message: str


@dataclass
class LoadResult:
    """The good structures of a batch, and one problem per bad file."""

    structures: list[LoadedStructure] = field(default_factory=list)
    errors: list[InputProblem] = field(default_factory=list)


def check_structure(
    structure: Structure, source: str = "<structure>", min_distance: float = DEFAULT_MIN_DISTANCE
) -> Structure:
    """Refuse structures no generator can use; return a clean copy of a good one.

    Parameters
    ----------
    structure
        The bulk structure.
    source
        Where it came from, for the message (a file name).
    min_distance
        Closest allowed distance between two atoms, periodic images included (Å).

    Returns
    -------
    Structure
        A copy without oxidation states or site properties, sites wrapped into the cell.

    Raises
    ------
    StructureInputError
        Empty, non-periodic, degenerate cell, partial occupancies or overlapping atoms.
    """
    if len(structure) == 0:
        raise StructureInputError(f"{source}: empty structure (no atoms)")
    pbc = tuple(bool(x) for x in structure.lattice.pbc)
    if not all(pbc):
        raise StructureInputError(
            f"{source}: not periodic in all three directions (pbc={pbc}); a bulk crystal is needed"
        )
    volume = abs(float(np.linalg.det(structure.lattice.matrix)))
    if not np.isfinite(volume) or volume < 1e-3 * len(structure):
        raise StructureInputError(
            f"{source}: degenerate or empty cell "
            f"(volume {volume:.3g} Å³ for {len(structure)} atoms)"
        )
    if not structure.is_ordered:
        n = sum(1 for site in structure if not site.is_ordered)
        raise StructureInputError(
            f"{source}: disordered structure: {n} site(s) with partial occupancy; "
            "order it first (e.g. the solid_solution category of its ordered parent)"
        )
    close = structure.get_neighbor_list(min_distance)
    if len(close[0]) > 0:
        i, j, d = int(close[0][0]), int(close[1][0]), float(np.min(close[3]))
        raise StructureInputError(
            f"{source}: overlapping atoms: {structure[i].specie}{i} and {structure[j].specie}{j} "
            f"are {d:.3f} Å apart (< min_distance {min_distance} Å)"
        )
    return clean_structure(structure)


def _read(path: Path) -> Structure:
    name = path.name
    suffix = path.suffix.lower()
    if path.stat().st_size == 0:
        raise StructureInputError(f"{path}: empty file")
    if suffix == ".json":
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "structure" in data and "lattice" not in data:
            data = data["structure"]  # a StructureDoc, or any document holding one
        if isinstance(data, dict) and not data.get("sites"):
            raise StructureInputError(f"{path}: empty structure (no atoms)")
        return Structure.from_dict(data)
    if suffix in _PYMATGEN_SUFFIXES or name.startswith(_PYMATGEN_NAMES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Structure.from_file(path)
    atoms = ase_read(path)
    if isinstance(atoms, list):
        atoms = atoms[0]
    if len(atoms) == 0:
        raise StructureInputError(f"{path}: empty structure (no atoms)")
    if not all(atoms.pbc):
        pbc = tuple(bool(x) for x in atoms.pbc)
        raise StructureInputError(
            f"{path}: not periodic in all three directions (pbc={pbc}); a bulk crystal is needed"
        )
    return AseAtomsAdaptor.get_structure(atoms)


def load_structure(path: str | Path, min_distance: float = DEFAULT_MIN_DISTANCE) -> Structure:
    """Read and check one bulk structure; any problem raises, naming the file.

    Parameters
    ----------
    path
        A CIF, POSCAR/CONTCAR/``*.vasp``, pymatgen JSON (``Structure.as_dict()``), or any
        file ASE reads (extxyz, ...).
    min_distance
        Closest allowed distance between atoms (Å).

    Returns
    -------
    Structure
        The checked, cleaned structure.
    """
    path = Path(path)
    if not path.is_file():
        raise StructureInputError(f"{path}: no such file")
    try:
        structure = _read(path)
    except StructureInputError:
        raise
    except Exception as exc:  # every parser has its own exceptions
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StructureInputError(f"{path}: cannot be read as a structure: {message}") from exc
    return check_structure(structure, str(path), min_distance)


def load_structures(
    paths: list[str | Path] | list[str] | list[Path], min_distance: float = DEFAULT_MIN_DISTANCE
) -> LoadResult:
    """Read a batch of files: the good structures, and one :class:`InputProblem` per bad file."""
    result = LoadResult()
    for path in paths:
        try:
            result.structures.append(LoadedStructure(str(path), load_structure(path, min_distance)))
        except StructureInputError as exc:
            result.errors.append(InputProblem(str(path), str(exc)))
    return result
