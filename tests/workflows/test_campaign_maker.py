"""CampaignFlowMaker: sub-makers as fields, reached by update_kwargs, run on the EMT fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from campaigns import EMT, emt_campaign
from jobflow import CURRENT_JOB, run_locally
from monty.json import MontyDecoder, MontyEncoder

from pesbench.makers.generate import GenerateMaker
from pesbench.makers.predict import PredictMaker
from pesbench.makers.reference import ReferenceMaker, local_path
from pesbench.mlip import registry
from pesbench.mlip.ase import ASEPredictor
from pesbench.mlip.sanity import sanity_check
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.jobstore import get_job_store
from pesbench.testing.emt import EmtEngine
from pesbench.workflows.campaign import CampaignFlowMaker
from pesbench.workflows.execute import run_campaign
from pesbench.workflows.records import CAMPAIGNS_COLLECTION, read_run
from pesbench.workflows.spec import CampaignSpec, load_spec

EMT_MODEL = "ase:ase.calculators.emt.EMT"


def _spec(tmp_path: Path, name: str = "maker-test", **changes: Any) -> CampaignSpec:
    return load_spec(emt_campaign(tmp_path, name, **changes))


def test_update_kwargs_reaches_every_sub_maker(tmp_path: Path) -> None:
    spec = _spec(tmp_path, dft={"engine": EMT, "overrides": {"label": "spec", "sleep_s": 5}})
    default = CampaignFlowMaker()
    assert [m.model for m in default.predict_makers(spec)] == ["chgnet-0.3.0"]  # the spec's

    maker = default.update_kwargs(
        {"model": EMT_MODEL, "atom_budget": 64}, class_filter=PredictMaker
    )
    maker = maker.update_kwargs({"overrides": {"sleep_s": 0}}, class_filter=ReferenceMaker)
    maker = maker.update_kwargs(
        {"engine": "vasp"}, class_filter=ReferenceMaker, name_filter="r2SCAN"
    )
    maker = maker.update_kwargs({"min_distance": 0.4}, class_filter=GenerateMaker)
    assert default.predict_maker.model == ""  # update_kwargs returns a new maker

    (predict,) = maker.predict_makers(spec)  # the swapped model replaces the spec's
    assert (predict.model, predict.atom_budget, predict.campaign) == (EMT_MODEL, 64, spec.name)
    refs = maker.reference_flow_maker(spec)
    assert refs.gga_maker.engine == EMT  # none of its own: the spec's
    assert refs.r2scan_maker.engine == "vasp"  # its own wins
    assert refs.gga_maker.overrides == {"label": "spec", "sleep_s": 0}  # key by key
    assert refs.maker_for("PBE+U").overrides == {"label": "spec", "sleep_s": 0}

    flow = maker.make(spec)
    generate = [job for job in flow.jobs if job.name.startswith("generate")]
    assert len(generate) == 2  # Cu and Al, one category
    assert all(job.maker.min_distance == 0.4 for job in generate)
    assert flow.jobs[-1].function_args[0] == maker  # the plan gets the maker itself


def test_update_maker_kwargs_on_the_flow_reaches_the_plan(tmp_path: Path) -> None:
    flow = CampaignFlowMaker().make(_spec(tmp_path))
    flow.update_maker_kwargs({"model": EMT_MODEL}, class_filter=PredictMaker)
    assert flow.jobs[-1].function_args[0].predict_maker.model == EMT_MODEL


def test_the_plan_job_and_its_maker_survive_serialization(tmp_path: Path) -> None:
    """FireWorks stores the plan job as JSON; the worker rebuilds the maker from it."""
    maker = CampaignFlowMaker(retry_failed=True).update_kwargs(
        {"model": EMT_MODEL}, class_filter=PredictMaker
    )
    assert CampaignFlowMaker.from_dict(json.loads(json.dumps(maker.as_dict()))) == maker
    plan = maker.make(_spec(tmp_path)).jobs[-1]
    text = json.dumps(plan.as_dict(), cls=MontyEncoder)
    back = MontyDecoder().process_decoded(json.loads(text))
    assert back.function_args[0] == maker


def _count(collection: str, criteria: dict, settings: PesbenchSettings) -> int:
    with open_collection(collection, settings) as coll:
        return coll.count_documents(criteria)


def test_a_campaign_predicts_with_the_model_swapped_in_by_update_kwargs(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance: swap the predict maker's model, run the Flow, find the results stored."""
    # who checks or evaluates a model, by job name; what the fake engine was asked
    checks: list[str] = []
    forwards: list[str] = []
    computed: list[tuple[str, str, Path | None, str]] = []

    def checking(*args: Any, **kwargs: Any) -> Any:
        checks.append(CURRENT_JOB.job.name)
        return sanity_check(*args, **kwargs)

    def forward(self: ASEPredictor, structures: Any) -> Any:
        forwards.append(CURRENT_JOB.job.name)
        return original_forward(self, structures)

    def compute(self: EmtEngine, structure: Any, functional: str, run_dir: Path, **kw: Any) -> Any:
        doc = original_compute(self, structure, functional, run_dir, **kw)
        computed.append((functional, doc.structure_id, kw.get("prev_dir"), str(doc.run_dir)))
        return doc

    original_forward, original_compute = ASEPredictor._forward, EmtEngine.compute
    monkeypatch.setattr(registry, "sanity_check", checking)
    monkeypatch.setattr(ASEPredictor, "_forward", forward)
    monkeypatch.setattr(EmtEngine, "compute", compute)
    registry._cached_info.cache_clear()
    registry._loaded.clear()  # no model loaded by an earlier test in this process

    spec = _spec(tmp_path)
    maker = CampaignFlowMaker().update_kwargs({"model": EMT_MODEL}, class_filter=PredictMaker)
    run_locally(
        maker.make(spec),
        store=get_job_store(db_settings),
        root_dir=tmp_path / "runs",
        create_folders=True,
        ensure_success=True,
        log=False,
    )

    models = set()
    with open_collection("predictions", db_settings) as predictions:
        for doc in predictions.find({"campaign": spec.name}):
            models.add(doc["model"]["model_id"])
    assert models == {EMT_MODEL}  # not the spec's chgnet-0.3.0
    assert _count("predictions", {"campaign": spec.name}, db_settings) == 6
    assert _count("references", {"campaign": spec.name}, db_settings) == 12
    assert _count("comparisons", {"model_id": EMT_MODEL}, db_settings) > 0

    with open_collection(CAMPAIGNS_COLLECTION, db_settings) as campaigns:
        record = campaigns.find_one({"name": spec.name})
    summary = read_run(record["runs"][-1]["finished"])
    assert summary.models == [EMT_MODEL]
    assert (summary.predictions_new, summary.prediction_jobs, summary.references_new) == (6, 2, 12)

    # planning read the model's checksum without a sanity check or a forward pass; the
    # worker checked the model once, in the first prediction job (the second reused it)
    assert len(checks) == 1
    assert checks[0] in {f"predict {EMT_MODEL} 1/2", f"predict {EMT_MODEL} 2/2"}
    assert forwards
    assert all(name.startswith("predict") for name in forwards)
    # each r2SCAN reference started from the PBE run of its structure
    gga = {sid: run_dir for functional, sid, _, run_dir in computed if functional == "PBE"}
    chained = [(sid, prev) for functional, sid, prev, _ in computed if functional == "r2SCAN"]
    assert len(chained) == 6
    assert all(prev == local_path(gga[sid]) for sid, prev in chained)


def test_generate_jobs_store_their_structures_and_pass_ids_alone(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """The structures never travel through the JobStore; the old way gives the same campaign.

    The references of the first campaign are planned on structures read back by id; the
    second campaign (generate jobs returning their documents, the plan storing them) must
    find the same structures, tagged alike, and every reference already computed.
    """
    spec = _spec(tmp_path, "ids-alone", models=[EMT_MODEL])
    flow = CampaignFlowMaker().make(spec)
    store = get_job_store(db_settings)
    run_locally(
        flow,
        store=store,
        root_dir=tmp_path / "runs",
        create_folders=True,
        ensure_success=True,
        log=False,
    )
    store.connect()
    try:
        outputs = [store.query_one({"uuid": j.uuid}, ["output"])["output"] for j in flow.jobs[:-1]]
    finally:
        store.close()
    assert [o["structures"] for o in outputs] == [[], []]  # ids alone, one job per material
    assert [len(o["structure_ids"]) for o in outputs] == [3, 3]  # max_per_category
    assert all("beyond max_structures=3" in o["skipped"][-1]["reason"] for o in outputs)
    ids = {i for o in outputs for i in o["structure_ids"]}
    with open_collection("structures", db_settings) as coll:
        tagged = {d["structure_id"] for d in coll.find({"tags": "campaign:ids-alone"})}
        assert coll.count_documents({}) == 6  # the generations' extra structures not stored
    with open_collection("references", db_settings) as coll:
        computed = {d["structure_id"] for d in coll.find({"campaign": "ids-alone"})}
    assert tagged == ids == computed

    held = CampaignFlowMaker(generate_maker=GenerateMaker(store=False))
    summary = run_campaign(_spec(tmp_path, "held", models=[EMT_MODEL]), db_settings, maker=held)
    with open_collection("structures", db_settings) as coll:
        assert {d["structure_id"] for d in coll.find({"tags": "campaign:held"})} == ids
    assert (summary.structures, summary.references_new, summary.references_reused) == (6, 0, 12)
