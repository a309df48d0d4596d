"""A campaign with relaxed properties: the property maker is a field of the campaign maker."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaigns import emt_campaign
from jobflow import run_locally
from planted import SCALED_EMT, SOFTENING

from pesbench.makers.predict import PredictMaker
from pesbench.makers.properties import RelaxMaker
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.properties import PropertySetStore, PropertyStore, RelaxationStore
from pesbench.workflows.campaign import CampaignFlowMaker
from pesbench.workflows.spec import load_spec

PROPERTIES = {
    "categories": {"surface": {"max_index": 1, "min_slab_A": 6.0, "min_vacuum_A": 8.0}},
    "functionals": ["PBE"],
    "fmax": 0.002,
}


def _run(maker: CampaignFlowMaker, spec_path: Path):
    spec = load_spec(spec_path)
    responses = run_locally(maker.make(spec), ensure_success=True)
    return [r for by_index in responses.values() for r in by_index.values()]


def test_campaign_computes_properties_on_both_sides_once(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = emt_campaign(
        tmp_path, "props", models=[SCALED_EMT], functionals=["PBE"], properties=PROPERTIES
    )
    scaled = {"calculator_kwargs": {"scale": SOFTENING}}
    maker = CampaignFlowMaker().update_kwargs(scaled, class_filter=RelaxMaker)
    maker = maker.update_kwargs(scaled, class_filter=PredictMaker)
    _run(maker, path)
    # the planted model's forces are 0.8 times EMT's: the softening scale says so
    with open_collection("comparisons", db_settings) as coll:
        scales = [d["softening_scale"] for d in coll.find({"level": "material"})]
    assert scales
    assert scales == pytest.approx([SOFTENING] * len(scales), abs=1e-6)
    with PropertyStore(db_settings) as store:
        docs = list(store.query({"campaigns": "props"}))
    values = {(d.material, d.label, d.side_kind): d.value for d in docs}
    dft = {k: v for k, v in values.items() if k[2] == "dft"}
    assert len(dft) == 6  # Cu and Al, three facets each
    for (material, label, _), ref in dft.items():
        assert values[(material, label, "model")] / ref == pytest.approx(SOFTENING, abs=3e-3)
    with RelaxationStore(db_settings) as store:
        relaxations = store.count()
    # the rerun plans the same jobs, and each finds its calculation stored
    _run(maker, path)
    with RelaxationStore(db_settings) as store:
        assert store.count() == relaxations
    with PropertySetStore(db_settings) as store:
        assert store.count() == 4  # 2 materials x (DFT, model)


def test_no_properties_section_no_property_jobs(tmp_path: Path) -> None:
    spec = load_spec(emt_campaign(tmp_path, "plain"))
    assert CampaignFlowMaker().property_flow_maker(spec) is None
    with_props = load_spec(emt_campaign(tmp_path, "with", properties=PROPERTIES))
    pmaker = CampaignFlowMaker().property_flow_maker(with_props)
    assert pmaker is not None
    sides = pmaker.relax_makers()
    assert [s.is_dft for s in sides] == [True, False]
    assert sides[0].engine == with_props.dft.engine  # the spec's engine under the maker's
    assert sides[0].fmax == 0.002
    assert sides[1].model == "chgnet-0.3.0"  # the spec's models
    # a model trained on r2SCAN has no DFT side to pair with at PBE: not relaxed
    both = load_spec(
        emt_campaign(
            tmp_path, "both", properties=PROPERTIES, models=["chgnet-0.3.0", "chgnet-r2scan"]
        )
    )
    pmaker = CampaignFlowMaker().property_flow_maker(both)
    assert [s.model for s in pmaker.relax_makers()] == [None, "chgnet-0.3.0"]
