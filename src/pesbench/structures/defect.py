"""Point defects: vacancies, interstitials and antisites, one per symmetry-distinct site.

The defect base cell is the primitive or the conventional standard cell, whichever gives the
smaller diagonal supercell with every lattice vector at least ``min_length_A``. Symmetry
classes of atomic sites come from spglib (pymatgen's ``SymmetrizedStructure``); candidate
interstitial sites are the vertices of the periodic Voronoi tessellation of the atoms,
at least ``interstitial_min_distance_A`` from every atom, merged when closer than
``merge_tolerance_A`` and grouped into symmetry classes under the space group of the bulk.
The pristine supercell is part of the set; formation energies also need the chemical
potentials of the reference phases each document lists.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field
from pymatgen.core import Element, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from pymatgen.symmetry.structure import SymmetrizedStructure
from scipy.spatial import Voronoi

from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import DefectDetails, Matrix3
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    GeneratorParams,
    clean_structure,
    elemental_reference_phase,
    find_site,
    matrix3,
    standard_supercell,
)

__all__ = ["DefectParams", "defect_base_cell", "generate_defects", "interstitial_sites"]


class DefectParams(GeneratorParams):
    """Parameters of :func:`generate_defects`."""

    min_length_A: float = Field(
        default=8.0, gt=0, description="Smallest supercell vector length (Å)."
    )
    max_atoms: int = Field(default=256, ge=1, description="Largest supercell allowed (atoms).")
    vacancies: bool = Field(default=True, description="Generate vacancies.")
    antisites: Literal["same_sign", "all", "none"] = Field(
        default="same_sign",
        description="Antisite pairs: between species of the same guessed oxidation-state sign "
        "(cation-cation, anion-anion), between all species, or none.",
    )
    interstitial_species: list[str] | None = Field(
        default=None, description="Elements to insert as interstitials (None: every bulk element)."
    )
    max_interstitial_sites: int = Field(
        default=3, ge=0, description="Most spacious symmetry-distinct interstitial sites kept."
    )
    interstitial_min_distance_A: float = Field(
        default=1.0, gt=0, description="Smallest distance from an interstitial site to an atom (Å)."
    )
    merge_tolerance_A: float = Field(
        default=0.3, gt=0, description="Candidate interstitial sites closer than this are one (Å)."
    )
    symprec: float = Field(default=0.01, gt=0, description="spglib symmetry tolerance (Å).")


def defect_base_cell(
    bulk: Structure, params: DefectParams
) -> tuple[Structure, Structure, list[list[int]]]:
    """The base cell (primitive or conventional), its supercell, and the supercell matrix."""
    return standard_supercell(
        bulk, params.min_length_A, params.max_atoms, params.symprec, what="defect supercell"
    )


def interstitial_sites(
    cell: Structure, params: DefectParams
) -> list[tuple[np.ndarray, int, float]]:
    """Symmetry-distinct interstitial sites of ``cell``, most spacious first.

    Returns
    -------
    list
        ``(frac_coords, multiplicity, distance to the nearest atom in Å)`` per site.
    """
    lattice = cell.lattice
    shifts = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)
    points = np.concatenate([cell.frac_coords + s for s in shifts])
    vertices = lattice.get_fractional_coords(Voronoi(lattice.get_cartesian_coords(points)).vertices)
    inside = np.all((vertices > -1e-6) & (vertices < 1 - 1e-6), axis=1)
    candidates = np.mod(vertices[inside], 1.0)
    if len(candidates) == 0:
        return []
    nearest = lattice.get_all_distances(candidates, cell.frac_coords).min(axis=1)
    keep = nearest >= params.interstitial_min_distance_A
    candidates, nearest = candidates[keep], nearest[keep]
    order = np.lexsort((*np.round(candidates, 4).T[::-1], -np.round(nearest, 3)))
    candidates, nearest = candidates[order], nearest[order]
    ops = SpacegroupAnalyzer(cell, symprec=params.symprec).get_symmetry_operations(cartesian=False)
    sites: list[tuple[np.ndarray, int, float]] = []
    orbits: list[np.ndarray] = []
    for frac, radius in zip(candidates, nearest, strict=True):
        if any(
            lattice.get_all_distances(orbit, [frac]).min() < params.merge_tolerance_A
            for orbit in orbits
        ):
            continue
        images = np.mod(np.array([op.operate(frac) for op in ops]), 1.0)
        orbit: list[np.ndarray] = []
        for image in images:
            if not orbit or lattice.get_all_distances(orbit, [image]).min() > 1e-3:
                orbit.append(image)
        orbits.append(np.array(orbit))
        sites.append((frac, len(orbit), float(radius)))
    return sites[: params.max_interstitial_sites]


def _sign(structure: Structure) -> dict[str, int]:
    """Sign of the guessed oxidation state of each element (0 where none is found)."""
    guesses = structure.composition.oxi_state_guesses(max_sites=-50)
    if not guesses:
        return {str(el): 0 for el in structure.composition.elements}
    return {el: int(np.sign(ox)) for el, ox in guesses[0].items()}


def generate_defects(bulk: Structure, params: DefectParams | None = None) -> Generation:
    """Vacancies, antisites and interstitials of ``bulk``, one per symmetry-distinct site.

    Parameters
    ----------
    bulk
        Ordered bulk crystal.
    params
        See :class:`DefectParams`; default: supercell vectors >= 8 Å, at most 256 atoms.

    Returns
    -------
    Generation
        The pristine supercell first, then vacancies, antisites, interstitials.
    """
    params = params or DefectParams()
    bulk = clean_structure(bulk)
    cell, supercell, matrix = defect_base_cell(bulk, params)
    supercell = clean_structure(supercell)
    pristine_id = structure_id(supercell)
    m3 = matrix3(matrix)
    result = Generation()
    result.structures.append(
        GeneratedStructure(
            supercell,
            "pristine",
            DefectDetails(defect_type="pristine", supercell_matrix=m3, pristine_id=pristine_id),
        )
    )
    symmetrized = SpacegroupAnalyzer(cell, symprec=params.symprec).get_symmetrized_structure()
    elements = sorted(str(el) for el in cell.composition.elements)
    defects = _Defects(m3, pristine_id, result.structures)
    _site_defects(defects, cell, supercell, symmetrized, params, elements)
    _interstitials(defects, cell, supercell, params, elements)
    return result


@dataclass
class _Defects:
    """The defect structures of one supercell, appended to ``structures`` as they are made."""

    m3: Matrix3
    pristine_id: str
    structures: list[GeneratedStructure]

    def add(
        self, structure: Structure, kind: str, frac: np.ndarray, index: int | None, **kw: object
    ) -> None:
        """Append one defect with its details (``kw``: the details' defect-specific fields)."""
        changed = [kw.get("removed_species"), kw.get("added_species")]
        refs = [elemental_reference_phase(str(el)) for el in changed if el]
        details = DefectDetails(
            defect_type=kind,  # type: ignore[arg-type]
            defect_frac_coords=tuple(float(x) for x in frac),  # type: ignore[arg-type]
            site_index=index,
            supercell_matrix=self.m3,
            pristine_id=self.pristine_id,
            chemical_potential_references=refs,
            **kw,  # type: ignore[arg-type]
        )
        self.structures.append(GeneratedStructure(structure, kind, details))


def _site_defects(
    defects: _Defects,
    cell: Structure,
    supercell: Structure,
    symmetrized: SymmetrizedStructure,
    params: DefectParams,
    elements: list[str],
) -> None:
    """A vacancy and the antisites of each symmetry-distinct site of ``cell``."""
    signs = _sign(cell)
    classes = [
        (group[0], len(group), wyckoff)
        for group, wyckoff in zip(
            symmetrized.equivalent_indices, symmetrized.wyckoff_symbols, strict=True
        )
    ]
    for base_index, multiplicity, wyckoff in classes:
        specie = str(cell[base_index].specie)
        sc_index = find_site(supercell, cell[base_index].coords)
        frac = supercell.frac_coords[sc_index]
        common = {"bulk_site_index": base_index, "multiplicity": multiplicity, "wyckoff": wyckoff}
        if params.vacancies:
            vacancy = supercell.copy()
            vacancy.remove_sites([sc_index])
            defects.add(vacancy, "vacancy", frac, None, removed_species=specie, **common)
        for other in elements:
            if other == specie or params.antisites == "none":
                continue
            if params.antisites == "same_sign" and signs.get(other, 0) != signs.get(specie, 0):
                continue
            antisite = supercell.copy()
            antisite.replace(sc_index, other)
            defects.add(
                antisite,
                "antisite",
                frac,
                sc_index,
                removed_species=specie,
                added_species=other,
                **common,
            )


def _interstitials(
    defects: _Defects,
    cell: Structure,
    supercell: Structure,
    params: DefectParams,
    elements: list[str],
) -> None:
    """One interstitial of each species at each interstitial site of ``cell``."""
    species = params.interstitial_species or elements
    for el in species:
        if not Element.is_valid_symbol(el):
            raise GenerationParameterError(f"interstitial_species: unknown element {el!r}")
    for site_frac, multiplicity, _radius in interstitial_sites(cell, params):
        cart = cell.lattice.get_cartesian_coords(site_frac)
        frac = np.mod(supercell.lattice.get_fractional_coords(cart), 1.0)
        for el in species:
            inter = supercell.copy()
            inter.append(el, frac)
            defects.add(
                inter,
                "interstitial",
                frac,
                len(inter) - 1,
                added_species=el,
                multiplicity=multiplicity,
            )
