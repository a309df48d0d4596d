"""Property makers against a real mongod: stored, deduplicated, swappable sides."""

from __future__ import annotations

import pytest
from jobflow import run_locally
from planted import SCALED_EMT, SOFTENING, cu_bulk

from pesbench.makers.properties import PropertyFlowMaker, PropertyMaker, RelaxMaker
from pesbench.stores.properties import PropertySetStore, PropertyStore, RelaxationStore

EMT_ENGINE = "pesbench.testing.emt:EmtEngine"
PARAMS = {"max_index": 1, "min_slab_A": 6.0, "min_vacuum_A": 8.0}


def _flow_maker() -> PropertyFlowMaker:
    return PropertyFlowMaker(
        categories={"surface": PARAMS},
        dft_relax_maker=RelaxMaker(engine=EMT_ENGINE, fmax=0.002),
        model_relax_maker=RelaxMaker(
            model=SCALED_EMT, calculator_kwargs={"scale": 1.0}, fmax=0.002
        ),
    )


def test_flow_stores_both_sides_and_reruns_nothing(db_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    maker = _flow_maker()
    maker = maker.update_kwargs(
        {"calculator_kwargs": {"scale": SOFTENING}}, class_filter=RelaxMaker
    )
    run_locally(maker.make([cu_bulk()], campaign="c1"), ensure_success=True)
    with PropertyStore(db_settings) as store:
        docs = list(store.query({"name": "surface_energy"}))
    by_side = {}
    for doc in docs:
        by_side.setdefault(doc.side_kind, {})[doc.label] = doc.value
    assert set(by_side) == {"dft", "model"}
    assert len(by_side["dft"]) == 3
    for label, ref in by_side["dft"].items():
        assert by_side["model"][label] / ref == pytest.approx(SOFTENING, abs=2e-3)
    with RelaxationStore(db_settings) as store:
        n_relaxations = store.count()
        relaxed = next(store.query({"side_kind": "model", "n_steps": {"$gt": 0}}))
    assert n_relaxations >= 2 * (1 + 3 + 3)  # bulk, slabs, oriented bulks, per side
    assert len(relaxed.frames) == relaxed.n_steps + 1
    assert relaxed.campaigns == ["c1"]
    # a second run finds every calculation stored and computes nothing
    run_locally(maker.make([cu_bulk()], campaign="c1"), ensure_success=True)
    with RelaxationStore(db_settings) as store:
        assert store.count() == n_relaxations
    with PropertySetStore(db_settings) as store:
        assert store.count() == 2
    # another campaign reusing them joins every stored set, value and relaxation
    run_locally(maker.make([cu_bulk()], campaign="c2"), ensure_success=True)
    for store_type in (PropertySetStore, PropertyStore, RelaxationStore):
        with store_type(db_settings) as store:
            assert store.count({"campaigns": "c2"}) == store.count() > 0


def test_killed_calculation_redoes_only_the_missing_relaxations(db_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relax = RelaxMaker(engine=EMT_ENGINE, fmax=0.002)
    maker = PropertyMaker(category="surface", parameters=PARAMS, relax_maker=relax)
    run_locally(maker.make(cu_bulk()), ensure_success=True)
    # as if the job died after its relaxations were stored, before the result was
    with PropertySetStore(db_settings) as store:
        store.store.remove_docs({})
    calls = []
    from pesbench.testing.emt import EmtEngine

    original = EmtEngine.relax
    monkeypatch.setattr(
        EmtEngine, "relax", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    responses = run_locally(maker.make(cu_bulk()), ensure_success=True)
    assert calls == []  # every relaxation came from the store
    result = next(iter(responses.values()))[1].output
    assert len(result.properties) == 3


def test_relax_maker_relaxes_one_structure(db_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    job = RelaxMaker(model=SCALED_EMT, fmax=0.01).make(cu_bulk(3.8))
    doc = run_locally(job, ensure_success=True)[job.uuid][1].output
    assert doc.status == "success"
    assert doc.final_structure.volume < cu_bulk(3.8).volume
    with RelaxationStore(db_settings) as store:
        assert store.get(doc.relaxation_id) is not None
