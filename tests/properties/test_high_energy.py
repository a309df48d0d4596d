"""Excess energies of rattled and strained samples over each side's relaxed bulk."""

from __future__ import annotations

import pytest
from planted import SOFTENING, TIGHT, cu_bulk

from pesbench.properties import compute_properties

PARAMS = {
    "min_length_A": 5.0,
    "sigmas_A": [0.05, 0.1],
    "n_rattled": 1,
    "strains": [-0.03, 0.03],
    "md_snapshots": 0,
}
LABELS = [
    "rattled σ=0.05 #0",
    "rattled σ=0.1 #1",
    "strained (-0.03, -0.03, -0.03)",
    "strained (-0.03, 0, 0)",
    "strained (0.03, 0, 0)",
    "strained (0.03, 0.03, 0.03)",
]


def _run(side, **params):
    return compute_properties(
        "high_energy", cu_bulk(), side, parameters={**PARAMS, **params}, thresholds=TIGHT
    )


def _failures(result):
    """Notes other than the generator's skips of symmetry-equivalent strains."""
    return [n for n in result.notes if "skipped, symmetry-equivalent" not in n]


def _values(side):
    result = _run(side)
    assert not _failures(result)
    assert {(p.name, p.unit) for p in result.properties} == {("excess_energy", "eV/atom")}
    return {p.label: p for p in result.properties}


def test_like_against_like(emt_side, same_side):
    dft, model = _values(emt_side), _values(same_side)
    assert sorted(dft) == LABELS
    for label, ref in dft.items():
        assert model[label].value == pytest.approx(ref.value, rel=1e-6)


def test_planted_softening(emt_side, soft_side):
    dft, model = _values(emt_side), _values(soft_side)
    for label, ref in dft.items():
        assert model[label].value / ref.value == pytest.approx(SOFTENING, abs=2e-3)
    # physically: above the relaxed bulk, more so the harder the kick
    assert all(ref.value > 0 for ref in dft.values())
    assert dft["rattled σ=0.1 #1"].value > 2 * dft["rattled σ=0.05 #0"].value
    assert dft["strained (0.03, 0.03, 0.03)"].value > dft["strained (0.03, 0, 0)"].value


def test_terms_from_the_side_relaxed_bulk(emt_side):
    result = _run(emt_side)
    bulk = result.relaxations[0]
    by_id = {r.relaxation_id: r for r in result.relaxations}
    for prop in result.properties:
        term = by_id[prop.terms["structure"]]
        assert prop.terms["bulk"] == bulk.relaxation_id
        assert term.settings.is_static
        assert prop.value == pytest.approx(term.energy_per_atom - bulk.energy_per_atom)
    rattled = by_id[result.properties[0].terms["structure"]].structure
    assert len(rattled) == 8
    # the samples sit on the side's relaxed lattice, not on the 3.7 Å one given
    final = bulk.final_structure
    assert rattled.volume / len(rattled) == pytest.approx(final.volume / len(final))


def test_md_snapshots_are_not_sampled_with_the_side(same_side):
    result = _run(same_side, md_snapshots=3)
    assert sorted(p.label for p in result.properties) == LABELS
    (note,) = _failures(result)
    assert "3 MD snapshots asked, none computed" in note
    assert "side under test" in note
