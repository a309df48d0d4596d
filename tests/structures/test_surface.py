from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from pesbench.schemas.ids import structure_id
from pesbench.structures import SurfaceParams, generate_surfaces


def _thickness_vacuum_area(slab: Structure) -> tuple[float, float, float]:
    a, b, _ = slab.lattice.matrix
    normal = np.cross(a, b)
    area = np.linalg.norm(normal)
    heights = slab.cart_coords @ (normal / area)
    thickness = heights.max() - heights.min()
    return thickness, slab.volume / area - thickness, area


def _has_flip_symmetry(slab: Structure) -> bool:
    """Some operation of the slab maps its surface normal onto minus itself (top <-> bottom)."""
    a, b, _ = slab.lattice.matrix
    normal = np.cross(a, b) / np.linalg.norm(np.cross(a, b))
    ops = SpacegroupAnalyzer(slab, symprec=0.1).get_symmetry_operations(cartesian=True)
    return any(np.allclose(op.rotation_matrix @ normal, -normal, atol=1e-3) for op in ops)


@pytest.fixture(scope="module")
def surfaces(bulks: dict[str, Structure]) -> dict:
    return {
        name: generate_surfaces(bulk, SurfaceParams(max_index=1)) for name, bulk in bulks.items()
    }


@pytest.mark.parametrize("name", ["Si", "LiF", "MgO", "LiCoO2"])
def test_slab_invariants(name: str, surfaces: dict, bulks: dict[str, Structure]) -> None:
    bulk = bulks[name]
    result = surfaces[name]
    slabs = [s for s in result.structures if s.role == "slab"]
    assert slabs, f"{name}: no slab at all; skipped: {result.skipped}"
    prim_volume = SpacegroupAnalyzer(bulk).get_primitive_standard_structure().volume
    conv = SpacegroupAnalyzer(bulk).get_conventional_standard_structure()
    for item in slabs:
        slab, details = item.structure, item.details
        thickness, vacuum, area = _thickness_vacuum_area(slab)
        assert thickness >= 10.0 - 1e-6
        assert vacuum >= 10.0 - 1e-6
        assert details.slab_thickness_A == pytest.approx(thickness, abs=1e-6)
        assert details.vacuum_A == pytest.approx(vacuum, abs=1e-6)
        assert details.area_A2 == pytest.approx(area, rel=1e-9)
        assert slab.composition.reduced_composition == bulk.composition.reduced_composition
        assert _has_flip_symmetry(slab), f"{name} {details.miller_index} is not symmetric"
        # in-plane lattice of the bulk: the face is a whole number of 2D bulk plane cells
        cells = area * conv.lattice.d_hkl(details.miller_index) / prim_volume
        assert cells == pytest.approx(round(cells), abs=1e-4)
        assert round(cells) >= 1


def test_bulk_reference_is_kept_and_referenced(surfaces: dict, bulks: dict) -> None:
    for name, result in surfaces.items():
        reference = result.structures[0]
        assert reference.role == "bulk_reference"
        assert structure_id(reference.structure) == structure_id(bulks[name])
        ids = {item.details.bulk_reference_id for item in result.structures}
        assert ids == {structure_id(reference.structure)}


def test_skips_are_recorded_with_reasons(surfaces: dict) -> None:
    mgo = surfaces["MgO"]
    kept = {item.details.miller_index for item in mgo.structures if item.role == "slab"}
    assert (1, 1, 1) not in kept  # rocksalt (111): alternating Mg and O planes
    assert any("(1, 1, 1)" in skip.label for skip in mgo.skipped)
    for result in surfaces.values():
        for skip in result.skipped:
            assert skip.reason.split(":")[0] in {"polar", "not symmetric", "not stoichiometric"}


@pytest.mark.slow
def test_every_miller_index_up_to_two_is_accounted_for(bulks: dict) -> None:
    from pymatgen.core.surface import get_symmetrically_distinct_miller_indices

    bulk = bulks["MgO"]
    result = generate_surfaces(bulk)
    conv = SpacegroupAnalyzer(bulk).get_conventional_standard_structure()
    expected = {tuple(m) for m in get_symmetrically_distinct_miller_indices(conv, 2)}
    seen = {item.details.miller_index for item in result.structures if item.role == "slab"}
    seen |= {m for m in expected for skip in result.skipped if str(m) in skip.label}
    assert seen == expected
