"""What every generator shares: its result types, errors, parameters base, supercells."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from pydantic import BaseModel, ConfigDict
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.errors import PesbenchError
from pesbench.schemas.structure import Matrix3, SkippedStructure, StructureDetails

__all__ = [
    "GeneratedStructure",
    "Generation",
    "GenerationParameterError",
    "GeneratorParams",
    "StructureInputError",
    "clean_structure",
    "diagonal_supercell",
    "elemental_reference_phase",
    "find_site",
    "matrix3",
    "standard_supercell",
]


class StructureInputError(PesbenchError, ValueError):
    """A bulk structure cannot be used: the message names the file and the problem."""


class GenerationParameterError(PesbenchError, ValueError):
    """An unknown category or parameter, or a parameter value that cannot work."""


class GeneratorParams(BaseModel):
    """Base of each category's parameters: unknown keys fail, every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class GeneratedStructure:
    """One generated structure: what it is in its set (``role``), and its analysis data."""

    structure: Structure
    role: str
    details: StructureDetails


@dataclass
class Generation:
    """The structures one generator made from one bulk, and what it left out, with why."""

    structures: list[GeneratedStructure] = field(default_factory=list)
    skipped: list[SkippedStructure] = field(default_factory=list)

    def skip(self, label: str, reason: str) -> None:
        """Record a candidate left out, with the reason."""
        self.skipped.append(SkippedStructure(label=label, reason=reason))


_GASES = {"H", "N", "O", "F", "Cl"}


def elemental_reference_phase(element: str) -> str:
    """Formula of the usual reference phase of an element: ``"O2"`` for oxygen, ``"Li"``."""
    return f"{element}2" if element in _GASES else str(Element(element))


def clean_structure(structure: Structure) -> Structure:
    """A copy without oxidation states or site properties, sites wrapped into the cell."""
    out = structure.copy()
    out.remove_oxidation_states()
    for key in list(out.site_properties):
        out.remove_site_property(key)
    return Structure(
        out.lattice, out.species, np.mod(out.frac_coords, 1.0), coords_are_cartesian=False
    )


def diagonal_supercell(
    structure: Structure, min_length: float, max_atoms: int, *, what: str = "supercell"
) -> tuple[Structure, list[list[int]]]:
    """The smallest diagonal supercell whose lattice vectors are all at least ``min_length``.

    Parameters
    ----------
    structure
        The cell to repeat.
    min_length
        Smallest allowed length of each lattice vector (Å).
    max_atoms
        Upper bound on the number of atoms; exceeding it raises.
    what
        Name of the supercell in the error message.

    Returns
    -------
    tuple
        The supercell and its (diagonal) scaling matrix.
    """
    reps = [max(1, math.ceil(min_length / length - 1e-9)) for length in structure.lattice.abc]
    matrix = [[reps[i] if i == j else 0 for j in range(3)] for i in range(3)]
    natoms = len(structure) * reps[0] * reps[1] * reps[2]
    if natoms > max_atoms:
        raise GenerationParameterError(
            f"the {what} of {structure.composition.reduced_formula} with every lattice vector "
            f">= {min_length} Å has {natoms} atoms, more than max_atoms={max_atoms}: "
            "raise max_atoms or lower min_length"
        )
    return structure.make_supercell(matrix, in_place=False), matrix


def standard_supercell(
    bulk: Structure, min_length: float, max_atoms: int, symprec: float, *, what: str = "supercell"
) -> tuple[Structure, Structure, list[list[int]]]:
    """The smaller diagonal supercell of the primitive or the conventional standard cell.

    Returns
    -------
    tuple
        The base cell (primitive or conventional standard), its supercell with every lattice
        vector at least ``min_length`` Å, and the diagonal supercell matrix.
    """
    sga = SpacegroupAnalyzer(bulk, symprec=symprec)
    best: tuple[Structure, Structure, list[list[int]]] | None = None
    error: GenerationParameterError | None = None
    for cell in (sga.get_primitive_standard_structure(), sga.get_conventional_standard_structure()):
        try:
            supercell, matrix = diagonal_supercell(cell, min_length, max_atoms, what=what)
        except GenerationParameterError as exc:
            error = error or exc
            continue
        if best is None or len(supercell) < len(best[1]):
            best = (clean_structure(cell), clean_structure(supercell), matrix)
    if best is None:
        assert error is not None
        raise error
    return best


def matrix3(matrix: list[list[int]] | np.ndarray) -> Matrix3:
    """An integer 3x3 matrix as a tuple of tuples (for documents)."""
    m = np.asarray(matrix, dtype=int).reshape(3, 3).tolist()
    return cast(Matrix3, tuple(tuple(int(x) for x in row) for row in m))


def find_site(structure: Structure, cart: np.ndarray, tol: float = 1e-3) -> int:
    """Index of the site of ``structure`` at Cartesian position ``cart`` (periodic images too)."""
    frac = structure.lattice.get_fractional_coords(cart)
    dist = structure.lattice.get_all_distances(structure.frac_coords, [frac])[:, 0]
    index = int(np.argmin(dist))
    if dist[index] > tol:
        raise RuntimeError(f"no site within {tol} Å of {cart} (closest {dist[index]:.4f} Å)")
    return index
