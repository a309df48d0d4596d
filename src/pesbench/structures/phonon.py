"""Phonons: phonopy finite-displacement supercells, and what rebuilds phonopy later.

Every document stores phonopy's unit cell, supercell and primitive matrices, symmetry
tolerance and displacement dataset, so :func:`rebuild_phonopy` regenerates the same
displaced supercells and takes their DFT or uMLIP forces to produce force constants.
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np
from phonopy import Phonopy
from pydantic import Field
from pymatgen.core import Structure
from pymatgen.io.phonopy import get_phonopy_structure, get_pmg_structure

from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import PhononDetails
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GeneratorParams,
    clean_structure,
    matrix3,
    standard_supercell,
)

__all__ = ["PhononParams", "generate_phonon_displacements", "rebuild_phonopy"]


class PhononParams(GeneratorParams):
    """Parameters of :func:`generate_phonon_displacements`."""

    distance_A: float = Field(default=0.01, gt=0, description="Displacement amplitude (Å).")
    supercell_matrix: list[list[int]] | None = Field(
        default=None,
        description="phonopy supercell matrix of the bulk as given (None: the smaller diagonal "
        "supercell of the standard primitive or conventional cell, from min_length_A).",
    )
    min_length_A: float = Field(
        default=8.0, gt=0, description="Smallest supercell vector length (Å)."
    )
    max_atoms: int = Field(default=256, ge=1, description="Largest supercell allowed (atoms).")
    is_plusminus: bool | Literal["auto"] = Field(
        default="auto",
        description="Displace both ways: True, False or 'auto' (where symmetry needs).",
    )
    symprec: float = Field(default=1e-5, gt=0, description="phonopy symmetry tolerance (Å).")
    cell_symprec: float = Field(
        default=0.01, gt=0, description="spglib tolerance when standardising the unit cell (Å)."
    )


def _dataset_to_json(dataset: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"natom": int(dataset["natom"]), "first_atoms": []}
    for disp in dataset["first_atoms"]:
        out["first_atoms"].append(
            {
                "number": int(disp["number"]),
                "displacement": [float(x) for x in np.asarray(disp["displacement"])],
            }
        )
    return out


def rebuild_phonopy(details: PhononDetails) -> Phonopy:
    """A phonopy object with the stored unit cell, matrices and displacement dataset.

    Give it forces with ``phonon.forces = forces`` (one ``(natom, 3)`` array per entry of
    ``dataset['first_atoms']``, in ``displacement_index`` order) and call
    ``phonon.produce_force_constants()``.
    """
    phonon = Phonopy(
        get_phonopy_structure(details.unitcell),
        supercell_matrix=np.array(details.supercell_matrix),
        primitive_matrix=np.array(details.primitive_matrix),
        symprec=details.symprec,
    )
    phonon.dataset = {
        "natom": details.dataset["natom"],
        "first_atoms": [
            {"number": d["number"], "displacement": np.array(d["displacement"], dtype=float)}
            for d in details.dataset["first_atoms"]
        ],
    }
    return phonon


def _displaced_phonopy(
    bulk: Structure, params: PhononParams
) -> tuple[Structure, list[list[int]], Phonopy]:
    """The unit cell given to phonopy, the supercell matrix, and phonopy with its displacements."""
    unitcell = clean_structure(bulk)
    if params.supercell_matrix is None:
        unitcell, _, matrix = standard_supercell(
            unitcell,
            params.min_length_A,
            params.max_atoms,
            params.cell_symprec,
            what="phonon supercell",
        )
    else:
        matrix = params.supercell_matrix
    phonon = Phonopy(
        get_phonopy_structure(unitcell),
        supercell_matrix=np.array(matrix),
        primitive_matrix="auto",
        symprec=params.symprec,
    )
    phonon.generate_displacements(distance=params.distance_A, is_plusminus=params.is_plusminus)
    return unitcell, matrix, phonon


def generate_phonon_displacements(
    bulk: Structure, params: PhononParams | None = None
) -> Generation:
    """The perfect supercell and phonopy's displaced supercells of ``bulk``.

    Parameters
    ----------
    bulk
        Ordered bulk crystal. phonopy's unit cell is its standard primitive or conventional
        cell (whichever makes the smaller supercell), or the bulk as given when
        ``supercell_matrix`` is set.
    params
        See :class:`PhononParams`; default displacement 0.01 Å.

    Returns
    -------
    Generation
        Role ``perfect_supercell`` first, then ``displaced`` in dataset order.
    """
    params = params or PhononParams()
    unitcell, matrix, phonon = _displaced_phonopy(bulk, params)
    perfect = clean_structure(get_pmg_structure(phonon.supercell))
    dataset = _dataset_to_json(cast(dict[str, Any], phonon.dataset))
    primitive_matrix = np.asarray(phonon.primitive_matrix, dtype=float)
    common: dict[str, Any] = {
        "distance_A": params.distance_A,
        "unitcell": unitcell,
        "supercell_matrix": matrix3(matrix),
        "primitive_matrix": tuple(tuple(float(x) for x in row) for row in primitive_matrix),
        "symprec": params.symprec,
        "dataset": dataset,
        "perfect_supercell_id": structure_id(perfect),
    }
    result = Generation()
    result.structures.append(
        GeneratedStructure(perfect, "perfect_supercell", PhononDetails(**common))
    )
    for index, (cell, disp) in enumerate(
        zip(phonon.supercells_with_displacements or [], dataset["first_atoms"], strict=True)
    ):
        details = PhononDetails(
            displacement_index=index,
            displaced_atom_index=disp["number"],
            displacement_A=tuple(disp["displacement"]),
            **common,
        )
        structure = get_pmg_structure(cell)
        structure = Structure(structure.lattice, structure.species, structure.frac_coords)
        result.structures.append(GeneratedStructure(structure, "displaced", details))
    return result
