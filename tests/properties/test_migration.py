"""ApproxNEB barriers: relaxed endpoints, images relaxed with the moving ion fixed."""

from __future__ import annotations

import numpy as np
import pytest
from planted import SOFTENING, TIGHT, cu_bulk
from pymatgen.core import Lattice, Structure

from pesbench.properties import EngineSide, compute_properties
from pesbench.properties.migration import anchor_site, approx_neb_images, path_barrier
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.testing.emt import EmtEngine

SMALL = {"min_length_A": 5.0, "n_images": 3}
"""8-site cell: the hop is half a lattice vector (minimum image is ambiguous)."""
PHYSICAL = {"min_length_A": 7.0, "n_images": 3}
"""27-site cell (26 with the vacancy): a barrier to check against EMT's."""


def _run(side, params, thresholds=TIGHT):
    return compute_properties(
        "migration", cu_bulk(), side, parameters=params, thresholds=thresholds
    )


def _barrier(result):
    assert not result.notes
    (prop,) = result.properties
    assert (prop.name, prop.label, prop.unit) == ("migration_barrier", "hop 0", "eV")
    return prop


@pytest.fixture(scope="module")
def emt_physical(tmp_path_factory):
    side = EngineSide(EmtEngine(), "PBE", workdir=tmp_path_factory.mktemp("emt"))
    return _run(side, PHYSICAL)


def test_like_against_like(emt_side, same_side):
    dft, model = _barrier(_run(emt_side, SMALL)), _barrier(_run(same_side, SMALL))
    assert model.value == pytest.approx(dft.value, rel=1e-6)
    assert model.details["image_energies_eV"] == pytest.approx(
        dft.details["image_energies_eV"], rel=1e-6
    )


def test_planted_softening(emt_side, soft_side):
    dft, model = _barrier(_run(emt_side, SMALL)), _barrier(_run(soft_side, SMALL))
    assert model.value / dft.value == pytest.approx(SOFTENING, abs=2e-3)
    assert model.details["frozen_barrier_eV"] / dft.details["frozen_barrier_eV"] == pytest.approx(
        SOFTENING, abs=2e-3
    )


def test_half_lattice_hop_is_not_folded(emt_side):
    # in the 8-site cell the endpoints do not relax (symmetry), so the images interpolated
    # between the relaxed endpoints are the generated straight line: same energies
    prop = _barrier(_run(emt_side, SMALL))
    assert prop.details["interpolated_energies_eV"] == pytest.approx(
        prop.details["frozen_energies_eV"], abs=1e-6
    )


def test_emt_cu_vacancy_barrier(emt_physical):
    prop = _barrier(emt_physical)
    energies = prop.details["image_energies_eV"]
    # EMT Cu: 0.706 eV relaxed (experiment ~0.7-0.8 eV), 1.43 eV frozen
    assert 0.6 < prop.value < 0.9
    assert prop.value < prop.details["frozen_barrier_eV"] - 0.3
    assert prop.details["supercell_atoms"] == 26
    # symmetric hop: saddle in the middle, images above the endpoints (they did not slide back)
    assert prop.details["saddle_image_index"] == 2
    assert energies[0] < energies[1] < energies[2]
    assert energies[1] == pytest.approx(energies[3], abs=1e-5)
    assert energies[1] - energies[0] > 0.1


def test_images_relax_with_ion_and_anchor_fixed(emt_physical):
    prop = _barrier(emt_physical)
    by_id = {r.relaxation_id: r for r in emt_physical.relaxations}
    ion = prop.details["moving_site_index"]
    fixed = tuple(sorted(prop.details["fixed_sites"]))
    assert ion in fixed
    assert len(fixed) == 2
    for role, relaxation_id in prop.terms.items():
        doc = by_id[relaxation_id]
        assert doc.converged
        assert not doc.settings.relax_cell
        assert doc.settings.fix_indices == (fixed if role.startswith("image") else ())
        if role.startswith("image"):
            start = np.asarray(doc.frames.positions[0])[ion]
            assert np.asarray(doc.frames.positions[-1])[ion] == pytest.approx(start)
    assert sorted(prop.terms) == ["endpoint_0", "endpoint_4", "image_1", "image_2", "image_3"]


def test_images_between_relaxed_endpoints():
    lattice = Lattice.cubic(6.0)
    # host atom 0 crosses the cell boundary between the endpoints; the ion (site 2) hops by
    # half a lattice vector, which the minimum image alone would fold to -0.5 or +0.5
    start = Structure(lattice, ["Cu", "Cu", "Cu"], [[0.999, 0.5, 0.5], [0.5, 0.5, 0.0], [0, 0, 0]])
    end = Structure(lattice, ["Cu", "Cu", "Cu"], [[0.003, 0.5, 0.5], [0.5, 0.5, 0.0], [0.5, 0, 0]])
    hop = [0.5, 0.0, 0.0]
    images = approx_neb_images(start, end, 2, hop, 3)
    assert len(images) == 3
    for k, image in enumerate(images, start=1):
        t = k / 4
        assert image.frac_coords[2] == pytest.approx([0.5 * t, 0, 0])
        assert (image.frac_coords[0][0] - 0.999) % 1.0 == pytest.approx(0.004 * t)
    # the ion relaxed 0.01 off its end site: the path ends there, not a lattice vector away
    end.translate_sites([2], [0.01, 0, 0])
    assert approx_neb_images(start, end, 2, hop, 1)[0].frac_coords[2] == pytest.approx(
        [0.255, 0, 0]
    )
    assert anchor_site(start, 2, hop) == 0  # 4.5 Å from the hop's middle; site 1: 3.4 Å
    assert path_barrier([1.0, 1.5, 0.8]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="do not correspond"):
        approx_neb_images(start, end.copy().replace(0, "Ni"), 2, hop, 3)


def test_failed_image_is_a_note_not_a_value(same_side):
    # 10 steps: the bulk and the (symmetric) endpoints converge, the images do not
    result = _run(same_side, SMALL, RelaxSettings(fmax=0.002, max_steps=10))
    assert result.properties == []
    assert any("migration_barrier hop 0: image" in note for note in result.notes)
    assert any("not converged in 10" in note for note in result.notes)
