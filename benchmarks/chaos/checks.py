"""The final checks of the chaos test: what is stored against what the campaign planned."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from pymatgen.core import Structure
from pymongo.database import Database

from pesbench.engines.base import get_engine
from pesbench.mlip.registry import model_info
from pesbench.schemas.prediction import prediction_id
from pesbench.schemas.reference import hash_inputs, reference_id
from pesbench.workflows.campaign import CampaignFlowMaker
from pesbench.workflows.spec import load_spec


def check(db: Database, spec_path: Path, model: str, kills: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare what is stored with what the campaign planned; complete ``kills`` in place.

    Each kill of a job gets that job's final state, its number of launches and how long
    its last launch ran.
    """
    spec = load_spec(spec_path)
    name = spec.name
    for kill in kills:
        if "fw_id" in kill:
            fw = db.fireworks.find_one({"fw_id": kill["fw_id"]}) or {}
            kill["fw_state_at_end"] = fw.get("state")
            kill["launches_at_end"] = len(fw.get("launches", [])) + len(
                fw.get("archived_launches", [])
            )
            kill["last_launch_s"] = launch_seconds(db, (fw.get("launches") or [None])[-1])
    structures = list(db.structures.find({"tags": f"campaign:{name}"}))
    ref_maker = CampaignFlowMaker().reference_flow_maker(spec)
    expected_refs = set()
    for doc in structures:
        structure = Structure.from_dict(doc["structure"])
        for functional in spec.functionals:
            maker = ref_maker.maker_for(functional)
            engine = get_engine(maker.engine)
            inputs = engine.input_settings(structure, functional, maker.overrides or None)
            expected_refs.add(reference_id(doc["structure_id"], functional, hash_inputs(inputs)))
    checksum = model_info(model).checksum
    expected_preds = {prediction_id(doc["structure_id"], checksum) for doc in structures}

    def per_key(collection: str, key: str, expected: set[str]) -> dict[str, Any]:
        groups = list(
            db[collection].aggregate(
                [{"$group": {"_id": f"${key}", "n": {"$sum": 1}, "status": {"$push": "$status"}}}]
            )
        )
        stored = {g["_id"]: g for g in groups}
        return {
            "planned": len(expected),
            "documents": sum(g["n"] for g in groups),
            "distinct_keys": len(stored),
            "success": sum(1 for k in expected if stored.get(k, {}).get("status") == ["success"]),
            "missing": sorted(expected - set(stored)),
            "duplicated": sorted(k for k, g in stored.items() if g["n"] > 1),
            "not_success": sorted(
                k for k, g in stored.items() if any(s != "success" for s in g["status"])
            ),
            "extra": sorted(set(stored) - expected),
        }

    refs = per_key("references", "reference_id", expected_refs)
    preds = per_key("predictions", "prediction_id", expected_preds)
    fw_states = Counter(fw["state"] for fw in db.fireworks.find({}, {"state": 1}))
    launches_per_fw = Counter(
        len(fw.get("launches", [])) + len(fw.get("archived_launches", []))
        for fw in db.fireworks.find({}, {"launches": 1, "archived_launches": 1})
    )
    finish_fws = list(db.fireworks.find({"name": f"finish {name}"}, {"state": 1}))
    record = db.campaigns.find_one({"name": name}) or {}
    runs = record.get("runs", [])
    finished_runs = [run for run in runs if "finished" in run]
    last = finished_runs[-1]["finished"] if finished_runs else {}
    job_outputs = list(
        db.jobs.aggregate(
            [
                {"$group": {"_id": {"uuid": "$uuid", "index": "$index"}, "n": {"$sum": 1}}},
                {"$match": {"n": {"$gt": 1}}},
            ]
        )
    )
    return {
        "structures": len(structures),
        "structures_planned": runs[0].get("structures") if runs else None,
        "references": refs,
        "predictions": preds,
        "fireworks": dict(fw_states),
        "fireworks_total": sum(fw_states.values()),
        "launches_per_job": {str(k): v for k, v in sorted(launches_per_fw.items())},
        "finish_jobs": [fw["state"] for fw in finish_fws],
        "campaign_runs_planned": len(runs),
        "campaign_runs_finished": len(finished_runs),
        "finish_summary": {
            k: last.get(k)
            for k in (
                "references_new",
                "predictions_new",
                "references_lost",
                "references_failed",
                "prediction_jobs_lost",
                "predictions_failed",
                "comparisons_written",
                "report",
                "report_error",
            )
            if k in last
        },
        "job_outputs_duplicated": len(job_outputs),
        "claims_left": db.claims.count_documents({}),
        "launch_seconds": launch_stats(db),
    }


def launch_stats(db: Database) -> dict[str, float]:
    """Median and longest completed launch of the reference jobs (s)."""
    ids = [
        fw["launches"][-1]
        for fw in db.fireworks.find({"name": {"$regex": "^reference"}}, {"launches": 1})
        if fw.get("launches")
    ]
    seconds = sorted(s for s in (launch_seconds(db, i) for i in ids) if s is not None)
    if not seconds:
        return {}
    return {"reference_median": seconds[len(seconds) // 2], "reference_max": seconds[-1]}


def launch_seconds(db: Database, launch_id: int | None) -> float | None:
    """How long a launch ran (RUNNING to its end), None if it did not end."""
    launch = db.launches.find_one({"launch_id": launch_id}) if launch_id else None
    if launch is None:
        return None
    times = {h["state"]: h["created_on"] for h in launch.get("state_history", [])}
    if "RUNNING" not in times or launch["state"] not in ("COMPLETED", "FIZZLED"):
        return None
    end = datetime.fromisoformat(times[launch["state"]])
    return round((end - datetime.fromisoformat(times["RUNNING"])).total_seconds(), 1)


def verdict(
    checks: dict[str, Any],
    kills: list[dict[str, Any]],
    restarts: list[dict[str, Any]],
    asked: dict[str, Any],
    outcome: str,
) -> list[str]:
    """The anomalies the checks show (besides those met during the run).

    ``asked``: the structures, kills and restarts asked for.
    """
    if not checks:
        return ["no final check (see the anomalies above)"]
    found = []
    median = checks["launch_seconds"].get("reference_median") or 0.0
    for kill in kills:
        rerun_s = kill.get("last_launch_s")
        if rerun_s is not None and rerun_s > max(60.0, 10 * median):
            found.append(
                f"the rerun of killed job '{kill['job_name']}' (fw_id {kill['fw_id']}) ran "
                f"{rerun_s} s (median reference launch {median} s)"
            )
    for kind in ("references", "predictions"):
        c = checks[kind]
        for what in ("missing", "duplicated", "not_success", "extra"):
            if c[what]:
                found.append(f"{kind} {what}: {len(c[what])} ({', '.join(c[what][:5])})")
        if c["success"] != c["planned"] or c["documents"] != c["planned"]:
            found.append(f"{kind}: {c['documents']} documents for {c['planned']} planned keys")
    if checks["structures"] < asked["structures"]:
        found.append(f"only {checks['structures']} structures (asked {asked['structures']})")
    if set(checks["fireworks"]) != {"COMPLETED"}:
        found.append(f"FireWorks jobs not all COMPLETED: {checks['fireworks']}")
    if checks["finish_jobs"] != ["COMPLETED"]:
        found.append(f"finish jobs: {checks['finish_jobs']} (expected one, COMPLETED)")
    if checks["campaign_runs_finished"] != 1 or checks["campaign_runs_planned"] != 1:
        found.append(
            f"campaign runs: {checks['campaign_runs_planned']} planned, "
            f"{checks['campaign_runs_finished']} finished (expected 1 and 1)"
        )
    if checks["job_outputs_duplicated"]:
        found.append(f"{checks['job_outputs_duplicated']} job outputs stored twice (jobs)")
    random_kills = [kill for kill in kills if "target" not in kill]
    if len(random_kills) < asked["kills"]:
        found.append(f"only {len(random_kills)} kills (asked {asked['kills']}): {outcome}")
    targeted = [kill["target"] for kill in kills if "target" in kill]
    wanted = [f"plan ({mode})" for mode in asked.get("plan_kills", [])]
    if targeted != wanted:
        found.append(f"targeted plan kills: {targeted} (asked {wanted})")
    if len(restarts) < asked["restarts"]:
        found.append(f"only {len(restarts)} mongod restarts (asked {asked['restarts']})")
    return found
