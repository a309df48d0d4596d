"""A worker killed while FireWorks applies the plan job's replace: resume repairs it (issue 15).

The worker dies inside ``complete_launch``, halfway through inserting the jobs that the plan
adds (``tests/support/dying_worker.py``). Left behind: the workflow locked, the plan RUNNING
with a COMPLETED launch, orphan jobs outside the workflow. ``resume_campaign`` finishes the
update; the campaign then completes with each key computed once and one run recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from campaigns import EMT, emt_campaign
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire

from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.launchpad import get_launchpad
from pesbench.workflows.execute import resume_campaign, submit_campaign
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.records import CAMPAIGNS_COLLECTION
from pesbench.workflows.spec import load_spec

SUPPORT = Path(__file__).resolve().parents[1] / "support"
NAME = "plan-kill"


def _env(settings: PesbenchSettings) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("PESBENCH_")}
    return {
        **clean,
        "PESBENCH_DB_URI": str(settings.db_uri),
        "PESBENCH_DB_NAME": settings.db_name,
        "PESBENCH_DATA_DIR": str(settings.data_dir),
    }


def _keys(collection: str, key: str, settings: PesbenchSettings) -> list[str]:
    with open_collection(collection, settings) as coll:
        return [doc[key] for doc in coll.find({}, {key: 1})]


@pytest.mark.parametrize(
    ("die_at", "plan_state"),
    [("half", "RUNNING"), pytest.param("after-upsert", "COMPLETED", marks=pytest.mark.slow)],
)
def test_resume_repairs_a_worker_killed_while_the_plan_replaces_itself(
    db_settings: PesbenchSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    die_at: str,
    plan_state: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # rapidfire's launch folders
    spec = emt_campaign(
        tmp_path, NAME, dft={"engine": EMT}, models=["ase:ase.calculators.emt.EMT"], chunk_size=2
    )
    submit_campaign(load_spec(spec), db_settings)
    launchpad = get_launchpad(db_settings)
    worker = subprocess.run(
        [sys.executable, str(SUPPORT / "dying_worker.py"), "worker", "--category", DFT_CATEGORY],
        env={**_env(db_settings), "DYING_WORKER_AT": die_at},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == -9, worker.stderr[-2000:]  # SIGKILLed in complete_launch

    (plan,) = launchpad.fireworks.find({"name": {"$regex": "^plan"}})
    assert plan["state"] == plan_state  # the job's own document; the workflow's: RUNNING
    assert launchpad.launches.find_one({"launch_id": plan["launches"][-1]})["state"] == "COMPLETED"
    (workflow,) = launchpad.workflows.find({"metadata.pesbench_campaign": NAME})
    assert workflow.get("locked") is True
    orphans = launchpad.fireworks.count_documents({"fw_id": {"$nin": workflow["nodes"]}})
    assert orphans > 0

    rerun = resume_campaign(NAME, db_settings, lost_after_s=3600, lock_wait_s=1)
    assert rerun["repaired"] == [plan["fw_id"]]
    assert rerun["stale_locks"] == [workflow["nodes"][0]]  # lost runs: at the next resume
    (workflow,) = launchpad.workflows.find({"metadata.pesbench_campaign": NAME})
    assert "locked" not in workflow
    assert launchpad.fireworks.count_documents({"fw_id": {"$nin": workflow["nodes"]}}) == 0
    assert launchpad.fireworks.find_one({"fw_id": plan["fw_id"]})["state"] == "COMPLETED"
    again = resume_campaign(NAME, db_settings, lost_after_s=3600, lock_wait_s=1)
    assert again["repaired"] == again["stale_locks"] == []

    for category in (DFT_CATEGORY, MLIP_CATEGORY, DFT_CATEGORY):
        rapidfire(launchpad, FWorker(category=category), max_loops=1, strm_lvl="ERROR")
    states = {fw["state"] for fw in launchpad.fireworks.find({}, {"state": 1})}
    assert states == {"COMPLETED"}
    refs = _keys("references", "reference_id", db_settings)
    preds = _keys("predictions", "prediction_id", db_settings)
    assert len(refs) == len(set(refs)) == 12  # 6 structures x (PBE, r2SCAN), each once
    assert len(preds) == len(set(preds)) == 6
    with open_collection(CAMPAIGNS_COLLECTION, db_settings) as campaigns:
        (record,) = campaigns.find({"name": NAME})
    assert len(record["runs"]) == 1
    assert record["runs"][0]["finished"]["references_lost"] == 0


def test_a_rerun_plan_job_records_one_run(db_settings: PesbenchSettings) -> None:
    """A plan job killed before it completed reruns as the same job: still one run."""
    from pesbench.schemas.campaign import CampaignRunSummary
    from pesbench.workflows.records import record_run

    first = CampaignRunSummary(run_id="job-uuid", campaign="rerun-plan", structures=3)
    record_run({"name": "rerun-plan"}, first)
    record_run({"name": "rerun-plan"}, first.model_copy(update={"structures": 4}))
    record_run({"name": "rerun-plan"}, first.model_copy(update={"run_id": "next-run"}))
    with open_collection(CAMPAIGNS_COLLECTION, db_settings) as campaigns:
        (record,) = campaigns.find({"name": "rerun-plan"})
    assert [(run["run_id"], run["structures"]) for run in record["runs"]] == [
        ("job-uuid", 4),
        ("next-run", 3),
    ]


def test_resume_releases_a_job_whose_worker_died_checking_it_out(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FireWorks' checkout sets READY -> RESERVED, then makes the launch: killed in between."""
    from jobflow.managers.fireworks import flow_to_workflow

    from pesbench.stores import get_job_store
    from pesbench.stores.selfcheck import random_array

    monkeypatch.chdir(tmp_path)
    workflow = flow_to_workflow(random_array(10, seed=1), store=get_job_store(db_settings))
    workflow.metadata["pesbench_campaign"] = "reserved"
    launchpad = get_launchpad(db_settings)
    launchpad.add_wf(workflow)
    reserved = launchpad._get_a_fw_to_run(checkout=True)  # the first step of a checkout
    assert launchpad.fireworks.find_one({"fw_id": reserved.fw_id})["state"] == "RESERVED"

    assert resume_campaign("reserved", db_settings, lost_after_s=3600)["lost"] == []  # recent
    rerun = resume_campaign("reserved", db_settings, lost_after_s=0)
    assert rerun["lost"] == [reserved.fw_id]
    assert launchpad.fireworks.find_one({"fw_id": reserved.fw_id})["state"] == "READY"
    rapidfire(launchpad, FWorker(), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.find_one({"fw_id": reserved.fw_id})["state"] == "COMPLETED"
