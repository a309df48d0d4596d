from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from pesbench.structures import MigrationParams, generate_migration


def _frames_by_hop(result) -> dict[int, list]:
    hops: dict[int, list] = {}
    for item in result.structures:
        hops.setdefault(item.details.hop_index, []).append(item)
    return hops


@pytest.mark.parametrize(
    ("name", "ion"), [("Si", "Si"), ("LiF", "Li"), ("MgO", "Mg"), ("LiCoO2", "Li")]
)
def test_linear_hops(name: str, ion: str, bulks: dict[str, Structure]) -> None:
    bulk = bulks[name]
    result = generate_migration(bulk, MigrationParams(ion=ion, n_images=3))
    hops = _frames_by_hop(result)
    assert hops
    nearest = min(
        n.nn_distance
        for site in bulk
        if str(site.specie) == ion
        for n in bulk.get_neighbors(site, 6.0)
        if str(n.specie) == ion
    )
    for frames in hops.values():
        assert [f.details.image_index for f in frames] == list(range(5))
        assert [f.role for f in frames] == ["endpoint", "image", "image", "image", "endpoint"]
        first, last = frames[0].structure, frames[-1].structure
        # endpoints: the ion on one site and the vacancy on the other, then the reverse
        assert StructureMatcher().fit(first, last)
        d = frames[0].details
        assert d.hop_distance_A == pytest.approx(nearest, abs=0.1 + 1e-6)
        start = np.array(d.start_frac_coords)
        end = np.array(d.end_frac_coords)
        lattice = first.lattice
        for k, frame in enumerate(frames):
            s = frame.structure
            assert s.lattice == lattice
            moving = s[frame.details.moving_site_index]
            assert str(moving.specie) == ion
            expected = start + (end - start) * k / 4
            assert lattice.get_all_distances([moving.frac_coords], [expected])[0, 0] < 1e-6
            host = np.delete(s.frac_coords, frame.details.moving_site_index, axis=0)
            first_host = np.delete(first.frac_coords, d.moving_site_index, axis=0)
            np.testing.assert_allclose(host, first_host, atol=1e-8)


def test_idpp_keeps_endpoints_and_lattice(bulks: dict[str, Structure]) -> None:
    bulk = bulks["LiCoO2"]
    linear = _frames_by_hop(generate_migration(bulk, MigrationParams(ion="Li", n_images=3)))
    idpp = _frames_by_hop(
        generate_migration(bulk, MigrationParams(ion="Li", n_images=3, interpolation="idpp"))
    )
    for hop, frames in idpp.items():
        ref = linear[hop]
        for k in (0, 4):
            np.testing.assert_allclose(
                frames[k].structure.cart_coords, ref[k].structure.cart_coords, atol=1e-6
            )
        d = frames[0].details
        direction = np.array(d.end_frac_coords) - np.array(d.start_frac_coords)
        lattice = frames[0].structure.lattice
        vec = lattice.get_cartesian_coords(direction)
        progress = []
        for f in frames:
            assert f.structure.lattice == lattice
            delta = f.structure[f.details.moving_site_index].frac_coords - d.start_frac_coords
            delta -= np.round(delta - direction / 2)
            progress.append(lattice.get_cartesian_coords(delta) @ vec / (vec @ vec))
        assert np.all(np.diff(progress) > 0)
        assert progress[0] == pytest.approx(0, abs=1e-6)
        assert progress[-1] == pytest.approx(1, abs=1e-6)


def test_ion_must_be_in_the_bulk(bulks: dict[str, Structure]) -> None:
    from pesbench.structures.common import GenerationParameterError

    with pytest.raises(GenerationParameterError, match="holds no Na"):
        generate_migration(bulks["MgO"], MigrationParams(ion="Na"))
