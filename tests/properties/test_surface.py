"""Surface energies from relaxed slabs, each side on its own relaxed lattice."""

from __future__ import annotations

import pytest
from planted import SOFTENING, TIGHT, cu_bulk

from pesbench.properties import compute_properties

PARAMS = {"max_index": 1, "min_slab_A": 6.0, "min_vacuum_A": 8.0}


def _values(side):
    result = compute_properties("surface", cu_bulk(), side, parameters=PARAMS, thresholds=TIGHT)
    assert not result.notes
    return {p.label: p for p in result.properties}


def test_like_against_like(emt_side, same_side):
    dft, model = _values(emt_side), _values(same_side)
    assert sorted(dft) == ["(1, 0, 0) t0", "(1, 1, 0) t0", "(1, 1, 1) t0"]
    for label, ref in dft.items():
        assert model[label].value == pytest.approx(ref.value, rel=1e-6)


def test_planted_softening(emt_side, soft_side):
    dft, model = _values(emt_side), _values(soft_side)
    for label, ref in dft.items():
        assert ref.unit == "J/m^2"
        assert 0.5 < ref.value < 2.0  # EMT Cu: about 1.0-1.3 J/m^2
        assert model[label].value / ref.value == pytest.approx(SOFTENING, abs=2e-3)


def test_slab_relaxes_and_uses_matched_bulk(emt_side):
    result = compute_properties("surface", cu_bulk(), emt_side, parameters=PARAMS, thresholds=TIGHT)
    prop = next(p for p in result.properties if p.label == "(1, 1, 0) t0")
    by_id = {r.relaxation_id: r for r in result.relaxations}
    slab, bulk = by_id[prop.terms["slab"]], by_id[prop.terms["oriented_bulk"]]
    assert slab.n_steps > 0
    assert slab.converged
    assert not slab.settings.relax_cell
    assert bulk.settings.is_static
    # relaxing lowers the slab's energy, hence the surface energy
    assert prop.details["unrelaxed_slab_energy_eV"] > prop.details["slab_energy_eV"]
    # the oriented bulk has the slab's in-plane lattice (matched k-mesh for DFT)
    assert slab.structure.lattice.abc[:2] == pytest.approx(bulk.structure.lattice.abc[:2])
    # the bulk was relaxed in cell: EMT's Cu lattice, not the 3.7 Å given
    assert result.relaxations[0].final_structure.volume < cu_bulk().volume
