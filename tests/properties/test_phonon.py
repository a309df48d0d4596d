"""Phonon frequencies from force constants at each side's own relaxed geometry."""

from __future__ import annotations

import numpy as np
import pytest
from planted import SOFTENING, TIGHT, cu_bulk

from pesbench.analysis.phonons import frequency_comparison, mesh_qpoints
from pesbench.properties import compute_properties
from pesbench.properties.sides import outcome_to_doc
from pesbench.relax import RelaxOutcome

PARAMS = {"min_length_A": 6.0}
"""27-atom supercell of primitive Cu (3x3x3), one displacement."""


def _frequencies(side):
    result = compute_properties("phonon", cu_bulk(), side, parameters=PARAMS, thresholds=TIGHT)
    assert not result.notes
    (prop,) = result.properties
    assert (prop.name, prop.label, prop.unit) == ("phonon_frequencies", "mesh 8x8x8", "THz")
    return prop, result


def test_like_against_like(emt_side, same_side):
    (dft, _), (model, _) = _frequencies(emt_side), _frequencies(same_side)
    assert len(dft.values) == 512 * 3
    assert model.values == pytest.approx(dft.values, abs=1e-6)
    assert model.value == pytest.approx(dft.value, abs=1e-6)


def test_planted_softening(emt_side, soft_side):
    (dft, _), (model, _) = _frequencies(emt_side), _frequencies(soft_side)
    ref, soft = np.array(dft.values), np.array(model.values)
    mae, slope = frequency_comparison(ref, soft)
    assert slope == pytest.approx(np.sqrt(SOFTENING), abs=1e-4)
    assert soft == pytest.approx(np.sqrt(SOFTENING) * ref, abs=1e-3)
    assert mae == pytest.approx((1 - np.sqrt(SOFTENING)) * np.mean(np.abs(ref)), rel=1e-3)
    # EMT Cu: the top of the spectrum at ~8.2 THz (experiment ~7.3 THz)
    assert 7.0 < dft.value < 9.0
    assert model.value / dft.value == pytest.approx(np.sqrt(SOFTENING), abs=1e-4)


def test_terms_are_single_points_at_the_relaxed_geometry(emt_side):
    prop, result = _frequencies(emt_side)
    by_id = {r.relaxation_id: r for r in result.relaxations}
    assert sorted(prop.terms) == ["displaced_0", "perfect_supercell"]
    for relaxation_id in prop.terms.values():
        assert by_id[relaxation_id].settings.is_static
    perfect = by_id[prop.terms["perfect_supercell"]].structure
    relaxed = result.relaxations[0].final_structure
    assert perfect.volume / len(perfect) == pytest.approx(relaxed.volume / len(relaxed))
    assert relaxed.volume < cu_bulk().volume  # relaxed to EMT's lattice, not the 3.7 Å given
    freqs = np.reshape(prop.values, (512, 3))
    assert np.all(np.diff(freqs, axis=1) >= 0)  # bands ascending at each q-point
    assert np.abs(freqs[0]).max() < 1e-5  # acoustic modes at Γ (translational invariance)
    assert freqs.min() > -1e-5  # no imaginary mode at the minimum


def test_failed_single_point_is_a_note_not_a_value(same_side, monkeypatch):
    real = same_side._relax

    def relax(structure, settings, relax_id, parent_id):
        if settings.is_static:
            outcome = RelaxOutcome(converged=False, n_steps=0, reason="planted failure")
            return outcome_to_doc(
                structure, outcome, side=same_side, settings=settings, relax_id=relax_id
            )
        return real(structure, settings, relax_id, parent_id)

    def relax_many(structures, settings, relax_ids, parent_ids):  # Side.relax_many's hook
        items = zip(structures, relax_ids, parent_ids, strict=True)
        return [relax(s, settings, relax_id, parent) for s, relax_id, parent in items]

    monkeypatch.setattr(same_side, "_relax", relax)
    monkeypatch.setattr(same_side, "_relax_many", relax_many)
    result = compute_properties("phonon", cu_bulk(), same_side, parameters=PARAMS)
    assert result.properties == []
    assert any("planted failure" in note for note in result.notes)
    assert any("phonon_frequencies: no force constants" in note for note in result.notes)


def test_mesh_qpoints_and_frequency_comparison():
    q = mesh_qpoints((2, 2, 4))
    assert q.shape == (16, 3)
    assert q[0] == pytest.approx([0, 0, 0])
    assert q[2] == pytest.approx([0, 0, -0.5])  # [-0.5, 0.5)
    assert q[4] == pytest.approx([0, 0.5 - 1, 0])
    assert frequency_comparison([1.0, 2.0, -0.5], [0.9, 1.8, -0.45]) == pytest.approx(
        (0.35 / 3, 0.9)
    )
    with pytest.raises(ValueError, match="shape"):
        frequency_comparison([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="mesh"):
        mesh_qpoints((8, 8))
