"""Ion migration: vacancy-mediated hops between nearest equivalent sites of a mobile ion.

In the defect supercell (see :func:`pesbench.structures.common.standard_supercell`), for each
symmetry-distinct hop of the ion between two nearest sites of the same symmetry class, the
end site is emptied and the ion is moved from the start site towards it: the two endpoints
(ion on the start site, vacancy on the end site, and the reverse) are symmetry-equivalent
structures, and ``n_images`` images lie between them, placed on the straight line
(``linear``, as ApproxNEB fixes the moving ion) or by ASE's image-dependent pair potential
(``idpp``). The lattice is never changed. Hops are symmetry-distinct under the space group
of the bulk: two hops are one when an operation maps one onto the other, either way round.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from ase.mep import idpp_interpolate
from pydantic import Field
from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.schemas.structure import MigrationDetails
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    GeneratorParams,
    find_site,
    matrix3,
    standard_supercell,
)

__all__ = ["MigrationParams", "distinct_hops", "generate_migration"]


class MigrationParams(GeneratorParams):
    """Parameters of :func:`generate_migration`."""

    ion: str | None = Field(
        default=None, description="Moving element (None: the least electronegative element)."
    )
    n_images: int = Field(default=5, ge=1, description="Images between the two endpoints.")
    interpolation: Literal["linear", "idpp"] = Field(
        default="linear", description="Straight line (moving ion only) or IDPP (all atoms)."
    )
    min_length_A: float = Field(
        default=8.0, gt=0, description="Smallest supercell vector length (Å)."
    )
    max_atoms: int = Field(default=256, ge=1, description="Largest supercell allowed (atoms).")
    hop_tolerance_A: float = Field(
        default=0.1, ge=0, description="Hops up to the nearest distance plus this are kept (Å)."
    )
    max_hops: int = Field(
        default=4, ge=1, description="Most symmetry-distinct hops kept (shortest)."
    )
    symprec: float = Field(default=0.01, gt=0, description="spglib symmetry tolerance (Å).")


Hop = tuple[np.ndarray, np.ndarray]  # start and end, fractional, end unwrapped


def _same_hop(cell: Structure, ops: list, a: Hop, b: Hop, tol: float = 1e-3) -> bool:
    lattice = cell.lattice
    vec_b = lattice.get_cartesian_coords(b[1] - b[0])
    for op in ops:
        start, end = op.operate(a[0]), op.operate(a[1])
        vec = lattice.get_cartesian_coords(end - start)
        for origin, target in ((b[0], vec_b), (b[1], -vec_b)):
            if np.linalg.norm(vec - target) < tol:
                delta = start - origin
                delta -= np.round(delta)
                if np.linalg.norm(lattice.get_cartesian_coords(delta)) < tol:
                    return True
    return False


def distinct_hops(cell: Structure, ion: str, params: MigrationParams) -> list[Hop]:
    """Symmetry-distinct hops of ``ion`` between nearest equivalent sites, shortest first."""
    sga = SpacegroupAnalyzer(cell, symprec=params.symprec)
    ops = sga.get_symmetry_operations(cartesian=False)
    symmetrized = sga.get_symmetrized_structure()
    hops: list[tuple[float, Hop]] = []
    for group in symmetrized.equivalent_indices:
        if str(cell[group[0]].specie) != ion:
            continue
        start = group[0]
        members = set(group)
        radius = 2.0 * max(cell.lattice.abc)
        neighbors = [n for n in cell.get_neighbors(cell[start], radius) if n.index in members]
        if not neighbors:
            continue
        nearest = min(n.nn_distance for n in neighbors)
        for n in sorted(
            neighbors, key=lambda n: (n.nn_distance, tuple(np.round(n.frac_coords, 6)))
        ):
            if n.nn_distance > nearest + params.hop_tolerance_A:
                continue
            hop = (cell.frac_coords[start].copy(), np.array(n.frac_coords, dtype=float))
            if not any(_same_hop(cell, ops, hop, kept) for _, kept in hops):
                hops.append((float(n.nn_distance), hop))
    hops.sort(key=lambda item: item[0])
    return [hop for _, hop in hops[: params.max_hops]]


def _default_ion(structure: Structure) -> str:
    return str(min(structure.composition.elements, key=lambda el: (el.X, el.Z)))


def _hop_frames(
    supercell: Structure, ion: str, start: np.ndarray, end: np.ndarray, params: MigrationParams
) -> list[Structure]:
    """The ion's path from ``start`` to ``end`` (Cartesian, Å) through the emptied supercell.

    Both sites are vacated and the ion placed at ``n_images + 2`` points, linear or
    IDPP-interpolated (``params.interpolation``).
    """
    n_total = params.n_images + 2
    host = supercell.copy()
    host.remove_sites(sorted([find_site(supercell, start), find_site(supercell, end)]))
    frames = []
    for k in range(n_total):
        frame = host.copy()
        frame.append(ion, start + (end - start) * k / (n_total - 1), coords_are_cartesian=True)
        frames.append(frame)
    if params.interpolation == "idpp":
        images = [AseAtomsAdaptor.get_atoms(frame) for frame in frames]
        with warnings.catch_warnings():  # ASE's note on its NEB tangent default
            warnings.simplefilter("ignore", UserWarning)
            idpp_interpolate(images, traj=None, log=None, mic=True)
        frames = [AseAtomsAdaptor.get_structure(atoms) for atoms in images]
    return frames


def generate_migration(bulk: Structure, params: MigrationParams | None = None) -> Generation:
    """Endpoints and images of each symmetry-distinct vacancy hop of the mobile ion.

    Parameters
    ----------
    bulk
        Ordered bulk crystal holding the ion.
    params
        See :class:`MigrationParams`.

    Returns
    -------
    Generation
        Per hop, images ``0 .. n_images + 1`` in order (roles ``endpoint`` and ``image``).
    """
    params = params or MigrationParams()
    ion = params.ion or _default_ion(bulk)
    if not Element.is_valid_symbol(ion):
        raise GenerationParameterError(f"migration: unknown element {ion!r}")
    if ion not in {str(el) for el in bulk.composition.elements}:
        raise GenerationParameterError(
            f"migration: {bulk.composition.reduced_formula} holds no {ion}"
        )
    cell, supercell, matrix = standard_supercell(
        bulk, params.min_length_A, params.max_atoms, params.symprec, what="migration supercell"
    )
    result = Generation()
    n_total = params.n_images + 2
    for hop_index, (start_frac, end_frac) in enumerate(distinct_hops(cell, ion, params)):
        start = cell.lattice.get_cartesian_coords(start_frac)
        end = cell.lattice.get_cartesian_coords(end_frac)
        frames = _hop_frames(supercell, ion, start, end, params)
        start_sc = tuple(float(x) for x in supercell.lattice.get_fractional_coords(start))
        end_sc = tuple(float(x) for x in supercell.lattice.get_fractional_coords(end))
        for k, frame in enumerate(frames):
            details = MigrationDetails(
                ion=ion,
                hop_index=hop_index,
                image_index=k,
                n_images=params.n_images,
                hop_distance_A=float(np.linalg.norm(end - start)),
                moving_site_index=len(frame) - 1,
                start_frac_coords=start_sc,  # type: ignore[arg-type]
                end_frac_coords=end_sc,  # type: ignore[arg-type]
                interpolation=params.interpolation,
                supercell_matrix=matrix3(matrix),
            )
            role = "endpoint" if k in (0, n_total - 1) else "image"
            result.structures.append(GeneratedStructure(frame, role, details))
    if not result.structures:
        result.skip(f"{ion} hops", f"no two equivalent {ion} sites found")
    return result
