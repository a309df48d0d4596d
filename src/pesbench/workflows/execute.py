"""Running a campaign: checks before anything starts, locally or through FireWorks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fireworks import LaunchPad
from fireworks.core.launchpad import WFLock
from jobflow import run_locally
from jobflow.managers.fireworks import flow_to_workflow

from pesbench.engines.base import get_engine
from pesbench.mlip.registry import model_status
from pesbench.schemas.campaign import CampaignRunSummary
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import PREDICTIONS, REFERENCES, STRUCTURES
from pesbench.stores.connection import open_collection
from pesbench.stores.jobstore import get_job_store
from pesbench.stores.launchpad import get_launchpad
from pesbench.stores.references import in_campaign
from pesbench.workflows.campaign import CampaignFlowMaker
from pesbench.workflows.records import CAMPAIGNS_COLLECTION, as_doc, read_run
from pesbench.workflows.spec import CampaignSpec, SpecError

__all__ = [
    "CampaignStatus",
    "JobProgress",
    "campaign_status",
    "preflight",
    "resume_campaign",
    "run_campaign",
    "submit_campaign",
]


def preflight(spec: CampaignSpec, *, engine: bool = True, models: bool = True) -> list[str]:
    """Check that the spec's DFT engine and models work here; return what was checked.

    Raises
    ------
    SpecError
        Naming the engine or model that cannot be used, and why.
    """
    checked = []
    if engine and spec.dataset is None:  # a dataset campaign runs no DFT
        dft = get_engine(spec.dft.engine)
        reason = dft.unavailable_reason()
        if reason:
            raise SpecError(f"{spec.source}: dft.engine {dft.name!r} cannot run here: {reason}")
        checked.append(f"DFT engine {dft.name}")
    if models:
        for model_id in spec.models:
            status = model_status(model_id)
            if not status.ok:
                raise SpecError(
                    f"{spec.source}: models: {model_id!r} cannot be used: {status.detail}"
                )
            checked.append(f"model {model_id}: {status.detail}")
    return checked


class JobProgress(logging.Handler):
    """Follows jobflow's log lines and calls ``callback(started, finished, current)``."""

    def __init__(self, callback: Callable[[int, int, str], None]) -> None:
        super().__init__(level=logging.INFO)
        self.callback = callback
        self.started = 0
        self.finished = 0
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Count a job starting or finishing."""
        message = record.getMessage()
        if message.startswith("Starting job - "):
            self.started += 1
            self.callback(self.started, self.finished, message.removeprefix("Starting job - "))
        elif " failed with exception:" in message:
            name, _, trace = message.partition(" failed with exception:")
            last = trace.strip().splitlines()[-1] if trace.strip() else "unknown error"
            self.errors.append(f"{name}: {last}")
            self.callback(self.started, self.finished, f"FAILED {name}")
        elif message.startswith("Finished job - "):
            self.finished += 1
            self.callback(self.started, self.finished, message.removeprefix("Finished job - "))


def run_campaign(
    spec: CampaignSpec,
    settings: PesbenchSettings | None = None,
    *,
    retry_failed: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
    maker: CampaignFlowMaker | None = None,
) -> CampaignRunSummary:
    """Run the campaign's Flow here with jobflow ``run_locally``; return its summary.

    Job folders go to ``<data_dir>/runs/<campaign>``; outputs to the configured MongoDB.
    ``maker`` (default ``CampaignFlowMaker()``) makes the Flow; ``retry_failed=True`` sets
    its ``retry_failed``.
    """
    settings = settings or get_settings()
    maker = maker or CampaignFlowMaker()
    if retry_failed:
        maker = replace(maker, retry_failed=True)
    flow = maker.make(spec)
    root = settings.data_dir / "runs" / spec.name
    root.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("jobflow")
    handler = JobProgress(progress or (lambda started, finished, current: None))
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        responses = run_locally(
            flow,
            store=get_job_store(settings),
            root_dir=root,
            create_folders=True,
            ensure_success=False,
            log=False,
        )
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
    plan_uuid = flow.jobs[-1].uuid
    if plan_uuid not in responses:
        raise SpecError(f"campaign {spec.name!r} was not planned: {'; '.join(handler.errors)}")
    run_id = as_doc(CampaignRunSummary, responses[plan_uuid][1].output).run_id
    with open_collection(CAMPAIGNS_COLLECTION, settings) as campaigns:
        record = campaigns.find_one({"name": spec.name}) or {}
    run: dict[str, Any] = next((r for r in record.get("runs", []) if r.get("run_id") == run_id), {})
    if "finished" not in run:
        raise SpecError(f"campaign {spec.name!r} did not finish: {'; '.join(handler.errors)}")
    return read_run(run["finished"]).model_copy(update={"job_errors": handler.errors})


def submit_campaign(
    spec: CampaignSpec,
    settings: PesbenchSettings | None = None,
    maker: CampaignFlowMaker | None = None,
) -> int:
    """Add the campaign to the FireWorks LaunchPad; return the workflow's first fw_id.

    ``maker`` (default ``CampaignFlowMaker()``) makes the Flow.
    """
    settings = settings or get_settings()
    flow = (maker or CampaignFlowMaker()).make(spec)
    workflow = flow_to_workflow(flow, store=get_job_store(settings))
    workflow.metadata.update({"pesbench_campaign": spec.name})
    mapping = get_launchpad(settings).add_wf(workflow)
    return min(mapping.values())


@dataclass
class CampaignStatus:
    """Counts of a campaign's documents and FireWorks jobs."""

    name: str
    structures: int = 0
    references: dict[str, int] = field(default_factory=dict)
    predictions: dict[str, int] = field(default_factory=dict)
    fireworks: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)


def _campaign_fw_ids(launchpad: LaunchPad, name: str) -> list[int]:
    """The fw_ids of every workflow submitted for campaign ``name``."""
    wf_ids = launchpad.get_wf_ids({"metadata.pesbench_campaign": name})
    if not wf_ids:
        return []
    return [i for wf in launchpad.workflows.find({"nodes": {"$in": wf_ids}}) for i in wf["nodes"]]


def campaign_status(name: str, settings: PesbenchSettings | None = None) -> CampaignStatus:
    """What is stored for campaign ``name``, and the state of its FireWorks jobs.

    Its structures: those tagged with it in ``structures``, or for a campaign on an
    imported dataset (spec ``dataset``), the distinct structures of the references it took.
    """
    settings = settings or get_settings()
    status = CampaignStatus(name)
    with open_collection(CAMPAIGNS_COLLECTION, settings) as campaigns:
        record = campaigns.find_one({"name": name})
    if record is None:
        raise SpecError(f"no campaign named {name!r} in database {settings.db_name}")
    status.runs = record.get("runs", [])
    if (record.get("spec") or {}).get("dataset") is not None:
        # an imported dataset's structures are its references', never in ``structures``
        with open_collection(REFERENCES, settings) as refs:
            rows = refs.aggregate(
                [
                    {"$match": in_campaign(name)},
                    {"$group": {"_id": "$structure_id"}},
                    {"$count": "n"},
                ]
            )
            status.structures = next((int(row["n"]) for row in rows), 0)
    else:
        with open_collection(STRUCTURES, settings) as structures:
            status.structures = structures.count_documents({"tags": f"campaign:{name}"})
    for collection, counts in (
        (REFERENCES, status.references),
        (PREDICTIONS, status.predictions),
    ):
        with open_collection(collection, settings) as coll:
            for state in ("success", "failed"):
                counts[state] = coll.count_documents({**in_campaign(name), "status": state})
    with open_collection(REFERENCES, settings) as refs:
        for doc in refs.find({**in_campaign(name), "status": "failed"}):
            status.failures.append(f"{doc['reference_id']}: {doc.get('failure_reason')}")
    launchpad = get_launchpad(settings)
    fw_ids = _campaign_fw_ids(launchpad, name)
    if fw_ids:
        for fw in launchpad.fireworks.find(
            {"fw_id": {"$in": fw_ids}}, {"state": 1, "spec._category": 1, "name": 1}
        ):
            category = fw.get("spec", {}).get("_category") or "campaign"
            bucket = status.fireworks.setdefault(category, {})
            bucket[fw["state"]] = bucket.get(fw["state"], 0) + 1
            if fw["state"] == "FIZZLED":
                status.failures.append(f"job {fw['name']} (fw_id {fw['fw_id']}): FIZZLED")
    return status


def _repair_workflow(
    launchpad: LaunchPad, nodes: list[int], lock_wait_s: float
) -> tuple[list[int], bool]:
    """Finish a workflow update that a killed worker left half done.

    Returns the fw_ids repaired, and whether the lock was stale (taken by force).

    A worker killed inside FireWorks' ``complete_launch`` (after the launch was marked
    COMPLETED, while the workflow was being updated: applying the plan job's replace, say)
    leaves three things behind: the workflow locked, the job RUNNING with a COMPLETED
    launch (or, killed a little later, the job's own document ended while the workflow's
    still says RUNNING), and some of the new jobs in ``fireworks`` but in no workflow. Under the
    workflow's lock (taken by force after ``lock_wait_s``: a lock held that long was left by
    a dead worker, FireWorks' own ``WFLOCK_EXPIRATION_KILL`` rule), the orphans of this
    workflow's Flow are deleted and the job's state is refreshed from its launch, which
    applies its action once more, exactly as ``complete_launch`` would have.
    """
    start = time.monotonic()
    with WFLock(launchpad, nodes[0], expire_secs=lock_wait_s, kill=True):
        stale = time.monotonic() - start >= lock_wait_s
        current = launchpad.workflows.find_one({"nodes": nodes[0]}, {"nodes": 1, "fw_states": 1})
        if current is None:  # deleted meanwhile
            return [], stale
        nodes = current["nodes"]  # as it is now, under the lock
        running = _interrupted(launchpad, nodes, current.get("fw_states", {}))
        if not running:
            return [], stale
        _delete_orphans(launchpad, nodes, running)
        workflow = launchpad.get_wf_by_fw_id_lzyfw(nodes[0])
        for fw_id in running:
            # FireWorks' _refresh_wf without its own lock (this one is held); private API
            launchpad._update_wf(workflow, workflow.refresh(fw_id))
            workflow = launchpad.get_wf_by_fw_id_lzyfw(nodes[0])
    return running, stale


def _interrupted(launchpad: LaunchPad, nodes: list[int], fw_states: dict[str, str]) -> list[int]:
    """The workflow's jobs whose update a killed worker left half done, set RUNNING.

    A RUNNING job whose last launch ended, and (killed later) a job whose own document
    ended while the workflow's ``fw_states`` still says RUNNING.
    """
    running = [
        fw["fw_id"]
        for fw in launchpad.fireworks.find(
            {"fw_id": {"$in": nodes}, "state": "RUNNING"}, {"fw_id": 1, "launches": 1}
        )
        if fw.get("launches")
        and launchpad.launches.count_documents(
            {"launch_id": fw["launches"][-1], "state": {"$in": ["COMPLETED", "FIZZLED"]}}
        )
    ]
    # killed later: the job's own document already ended, the workflow's not rewritten
    ended = [
        fw["fw_id"]
        for fw in launchpad.fireworks.find(
            {"fw_id": {"$in": nodes}, "state": {"$in": ["COMPLETED", "FIZZLED"]}},
            {"fw_id": 1},
        )
        if fw_states.get(str(fw["fw_id"])) == "RUNNING"
    ]
    if ended:  # back to RUNNING, so that the refresh applies its action
        launchpad.fireworks.update_many({"fw_id": {"$in": ended}}, {"$set": {"state": "RUNNING"}})
    return sorted({*running, *ended})


def _delete_orphans(launchpad: LaunchPad, nodes: list[int], running: list[int]) -> None:
    """Delete the jobs of ``running``'s Flows that were stored but joined no workflow."""
    hosts = {  # the Flow uuids that jobs of this workflow belong to
        host
        for fw in launchpad.fireworks.find(
            {"fw_id": {"$in": running}}, {"spec._tasks.job.hosts": 1}
        )
        for task in fw.get("spec", {}).get("_tasks", [])
        for host in task.get("job", {}).get("hosts", [])
    }
    if hosts:
        launchpad.fireworks.delete_many(
            {"fw_id": {"$nin": nodes}, "spec._tasks.job.hosts": {"$in": sorted(hosts)}}
        )


def _rerun_reserved(launchpad: LaunchPad, fw_ids: set[int], lost_after_s: int) -> list[int]:
    """Rerun the jobs left RESERVED without a launch for ``lost_after_s``; their fw_ids.

    FireWorks checks a job out in two steps: READY -> RESERVED, then a launch is made and
    the job set RUNNING. A worker killed in between leaves it RESERVED with no launch,
    which neither detect_lostruns nor detect_unreserved (queue reservations) sees.
    """
    rerun = []
    cutoff = datetime.now(UTC) - timedelta(seconds=lost_after_s)
    for fw in launchpad.fireworks.find(
        {
            "fw_id": {"$in": list(fw_ids)},
            "state": "RESERVED",
            "launches": [],
            "updated_on": {"$lt": cutoff},
        },
        {"fw_id": 1},
    ):
        launchpad.rerun_fw(fw["fw_id"])
        rerun.append(fw["fw_id"])
    return rerun


def resume_campaign(
    name: str,
    settings: PesbenchSettings | None = None,
    *,
    lost_after_s: int = 4 * 3600,
    lock_wait_s: float = 300.0,
) -> dict[str, list[int]]:
    """Repair, then rerun the campaign's lost runs (no ping for ``lost_after_s``) and fizzled jobs.

    First the workflow updates that a killed worker left half done are finished
    (:func:`_repair_workflow`; a workflow lock held for ``lock_wait_s`` is taken as stale).
    When a stale lock was released, lost runs are not looked for in the same call: the
    workers that waited on that lock could not ping, and would be taken for lost; the next
    resume looks for them.

    Returns
    -------
    dict
        ``{"repaired": fw_ids whose update was finished, "stale_locks": a fw_id of each
        workflow whose stale lock was released, "lost": fw_ids rerun, "fizzled": fw_ids
        rerun}``.
    """
    settings = settings or get_settings()
    launchpad = get_launchpad(settings)
    fw_ids = set(_campaign_fw_ids(launchpad, name))
    if not fw_ids:
        raise SpecError(f"no submitted campaign named {name!r} on the LaunchPad")
    repaired: list[int] = []
    stale_locks: list[int] = []
    for wf in launchpad.workflows.find({"metadata.pesbench_campaign": name}, {"nodes": 1}):
        fixed, stale = _repair_workflow(launchpad, wf["nodes"], lock_wait_s)
        repaired += fixed
        stale_locks += [wf["nodes"][0]] if stale else []
    if stale_locks:
        # workers that waited on the stale lock could not ping: their runs would look lost
        return {"repaired": repaired, "stale_locks": stale_locks, "lost": [], "fizzled": []}
    fw_ids = set(_campaign_fw_ids(launchpad, name))
    _, lost_fw_ids, _ = launchpad.detect_lostruns(expiration_secs=lost_after_s, fizzle=True)
    lost = sorted(i for i in lost_fw_ids if i in fw_ids)
    lost += _rerun_reserved(launchpad, fw_ids, lost_after_s)  # checked out, never launched
    fizzled = sorted(
        fw["fw_id"]
        for fw in launchpad.fireworks.find({"fw_id": {"$in": list(fw_ids)}, "state": "FIZZLED"})
    )
    for fw_id in fizzled:
        launchpad.rerun_fw(fw_id)
    return {"repaired": repaired, "stale_locks": [], "lost": lost, "fizzled": fizzled}
