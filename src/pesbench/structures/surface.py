"""Surfaces: stoichiometric, symmetric, non-polar slabs of every distinct Miller index.

Slabs are cut from the conventional standard cell by pymatgen's ``SlabGenerator``, so their
in-plane lattice is the bulk's (no strain). Thickness is measured between the outermost
atomic planes and vacuum between the slab and its periodic image (the slab centred in its
cell); both are grown, one
interplanar spacing at a time, until they reach the requested minimum. Terminations that
are non-stoichiometric, not symmetric (top and bottom differ) or polar are skipped with the
reason recorded. The bulk itself is part of the set: the reference for surface energies.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from pymatgen.core import Structure
from pymatgen.core.surface import Slab, SlabGenerator, get_symmetrically_distinct_miller_indices
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import SurfaceDetails
from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    GeneratorParams,
    clean_structure,
)

__all__ = ["SurfaceParams", "generate_surfaces", "slab_geometry"]


class SurfaceParams(GeneratorParams):
    """Parameters of :func:`generate_surfaces`."""

    max_index: int = Field(default=2, ge=1, le=4, description="Largest Miller index considered.")
    min_slab_A: float = Field(default=10.0, gt=0, description="Smallest slab thickness (Å).")
    min_vacuum_A: float = Field(default=10.0, gt=0, description="Smallest vacuum thickness (Å).")
    max_atoms: int = Field(default=200, ge=1, description="Slabs with more atoms are skipped.")
    symmetry_tolerance: float = Field(
        default=0.1, gt=0, description="Tolerance of the top/bottom symmetry test (Å)."
    )
    dipole_tolerance: float = Field(
        default=1e-3, gt=0, description="Largest dipole per area of a non-polar slab (e/Å)."
    )


def slab_geometry(slab: Structure) -> tuple[float, float, float]:
    """Thickness (Å), vacuum (Å) and one-face area (Å²) of a slab whose surface is (a, b).

    Heights are measured along the surface normal; the slab must not straddle the cell
    boundary along c (pymatgen's centred slabs do not).
    """
    a, b, c = slab.lattice.matrix
    normal = np.cross(a, b)
    area = float(np.linalg.norm(normal))
    normal /= area
    heights = slab.cart_coords @ normal
    thickness = float(heights.max() - heights.min())
    period = float(abs(c @ normal))
    return thickness, period - thickness, area


def _center(slab: Slab) -> Slab:
    """Move the slab to the middle of its cell along c (the vacuum is the largest gap)."""
    c = np.sort(np.mod(slab.frac_coords[:, 2], 1.0))
    gaps = np.diff(np.append(c, c[0] + 1.0))
    top = int(np.argmax(gaps))  # the slab starts after the largest gap, ends at c[top]
    start = c[(top + 1) % len(c)]
    length = float(np.mod(c[top] - start, 1.0))
    shift = 0.5 - (start + length / 2)
    slab.translate_sites(range(len(slab)), [0, 0, shift], frac_coords=True, to_unit_cell=True)
    return slab


def _with_oxidation_states(structure: Structure) -> Structure:
    """A copy with guessed oxidation states (for the dipole test); zero where none fit."""
    out = structure.copy()
    try:
        out.add_oxidation_state_by_guess()
    except (ValueError, TypeError):
        out.add_oxidation_state_by_element({str(el): 0 for el in out.composition.elements})
    return out


def _slabs(
    conv: Structure, miller: tuple[int, int, int], params: SurfaceParams
) -> list[tuple[Slab, float, float, float]]:
    """The slabs of one Miller index, grown until every termination is thick enough."""
    spacing = conv.lattice.d_hkl(miller)
    slab_size, vacuum_size = params.min_slab_A, params.min_vacuum_A
    for _ in range(8):
        generator = SlabGenerator(
            conv, miller, slab_size, vacuum_size, center_slab=False, primitive=True
        )
        slabs = [_center(slab) for slab in generator.get_slabs()]
        geometry = [(slab, *slab_geometry(slab)) for slab in slabs]
        thin = min((g[1] for g in geometry), default=params.min_slab_A)
        narrow = min((g[2] for g in geometry), default=params.min_vacuum_A)
        if thin >= params.min_slab_A - 1e-6 and narrow >= params.min_vacuum_A - 1e-6:
            return geometry
        if thin < params.min_slab_A - 1e-6:
            slab_size += spacing
        if narrow < params.min_vacuum_A - 1e-6:
            vacuum_size += spacing
    raise GenerationParameterError(
        f"surface {miller}: could not reach slab >= {params.min_slab_A} Å and vacuum >= "
        f"{params.min_vacuum_A} Å"
    )


def generate_surfaces(bulk: Structure, params: SurfaceParams | None = None) -> Generation:
    """Symmetric, stoichiometric, non-polar slabs of all distinct Miller indices of ``bulk``.

    Parameters
    ----------
    bulk
        Ordered bulk crystal.
    params
        See :class:`SurfaceParams`; defaults: Miller indices up to 2, slab and vacuum >= 10 Å.

    Returns
    -------
    Generation
        The bulk reference first (role ``bulk_reference``), then the slabs (role ``slab``);
        every termination left out is in ``skipped`` with its reason.
    """
    params = params or SurfaceParams()
    bulk = clean_structure(bulk)
    bulk_id = structure_id(bulk)
    reduced = bulk.composition.reduced_composition
    conv = SpacegroupAnalyzer(bulk).get_conventional_standard_structure()
    conv_oxi = _with_oxidation_states(conv)
    result = Generation()
    result.structures.append(
        GeneratedStructure(bulk, "bulk_reference", SurfaceDetails(bulk_reference_id=bulk_id))
    )
    for miller_raw in get_symmetrically_distinct_miller_indices(conv, params.max_index):
        miller = (int(miller_raw[0]), int(miller_raw[1]), int(miller_raw[2]))
        for index, (slab, thickness, vacuum, area) in enumerate(_slabs(conv_oxi, miller, params)):
            label = f"slab {miller} termination {index} (shift {slab.shift:.4f})"
            if slab.composition.element_composition.reduced_composition != reduced:
                result.skip(label, f"not stoichiometric: {slab.composition.reduced_formula}")
                continue
            if len(slab) > params.max_atoms:
                result.skip(label, f"{len(slab)} atoms > max_atoms={params.max_atoms}")
                continue
            if not slab.is_symmetric(params.symmetry_tolerance):
                result.skip(label, "not symmetric: top and bottom terminations differ")
                continue
            if slab.is_polar(params.dipole_tolerance):
                dipole = float(np.linalg.norm(slab.dipole)) / area
                result.skip(label, f"polar: dipole {dipole:.3g} e/Å per area")
                continue
            details = SurfaceDetails(
                miller_index=miller,
                termination_index=index,
                shift=float(slab.shift),
                slab_thickness_A=thickness,
                vacuum_A=vacuum,
                area_A2=area,
                bulk_reference_id=bulk_id,
                oriented_bulk=clean_structure(Structure.from_sites(slab.oriented_unit_cell)),
            )
            result.structures.append(GeneratedStructure(clean_structure(slab), "slab", details))
    return result
