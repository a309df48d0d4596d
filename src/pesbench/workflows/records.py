"""What a campaign writes to MongoDB: its run record and, at the end, its results.

The plan job (:mod:`pesbench.workflows.campaign`) calls the helpers that look up what is
stored and record the run (its generate jobs store the structures); :func:`finish_campaign`
is the campaign's last job: it stores the new references and predictions that their jobs
could not store as they landed (idempotent), brings the comparisons up to date and writes
the report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from jobflow import job
from pydantic import BaseModel

from pesbench.makers.compare import store_landed
from pesbench.report import write_report
from pesbench.schemas.campaign import CampaignRunSummary
from pesbench.schemas.prediction import PredictionChunkDoc
from pesbench.schemas.property import PropertySetDoc
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.collections import CAMPAIGNS
from pesbench.stores.connection import open_collection

__all__ = [
    "CAMPAIGNS_COLLECTION",
    "as_doc",
    "finish_campaign",
    "join_campaign",
    "read_run",
    "record_run",
    "stored_ids",
]

CAMPAIGNS_COLLECTION = CAMPAIGNS
"""One document per campaign name: its spec and what each run computed and reused."""

_Doc = TypeVar("_Doc", bound=BaseModel)


def as_doc(cls: type[_Doc], item: Any) -> _Doc:
    """``item`` as a ``cls`` document (a job output arrives as the object or as its dict)."""
    return item if isinstance(item, cls) else cls.model_validate(item)


def stored_ids(
    collection: str, key: str, ids: list[str], retry_failed: bool, settings: PesbenchSettings
) -> set[str]:
    """Which of ``ids`` are stored (successful ones only with ``retry_failed``)."""
    criteria: dict[str, Any] = {key: {"$in": ids}}
    if retry_failed:
        criteria["status"] = "success"
    with open_collection(collection, settings) as coll:
        return {doc[key] for doc in coll.find(criteria, {key: 1})}


def join_campaign(
    collection: str, key: str, ids: set[str], campaign: str, settings: PesbenchSettings
) -> None:
    """Record that ``campaign`` reuses the stored results ``ids`` (their ``campaigns``)."""
    if ids:
        with open_collection(collection, settings) as coll:
            coll.update_many({key: {"$in": list(ids)}}, {"$addToSet": {"campaigns": campaign}})


def record_run(spec_data: dict[str, Any], summary: CampaignRunSummary) -> None:
    """Add a planned run to the campaign's record (created with its spec when new).

    Idempotent on ``summary.run_id``: a plan job rerun after its worker died (same job,
    same run id) replaces its run's entry instead of adding a second one.
    """
    run = {**_stored(summary), "planned_at": datetime.now(UTC)}
    with open_collection(CAMPAIGNS_COLLECTION) as collection:
        replaced = collection.update_one(
            {"name": summary.campaign, "runs.run_id": summary.run_id},
            {"$set": {"spec": spec_data, "runs.$": run}},
        )
        if replaced.matched_count == 0:
            collection.update_one(
                {"name": summary.campaign},
                {"$set": {"spec": spec_data}, "$push": {"runs": run}},
                upsert=True,
            )


def _record_finish(summary: CampaignRunSummary) -> None:
    with open_collection(CAMPAIGNS_COLLECTION) as collection:
        collection.update_one(
            {"name": summary.campaign, "runs.run_id": summary.run_id},
            {"$set": {"runs.$.finished": {**_stored(summary), "finished_at": datetime.now(UTC)}}},
        )


def _stored(summary: CampaignRunSummary) -> dict[str, Any]:
    return summary.model_dump()


def read_run(record: dict[str, Any]) -> CampaignRunSummary:
    """A run as recorded (``runs[i]`` or ``runs[i].finished``) back as a summary."""
    fields = CampaignRunSummary.model_fields
    return CampaignRunSummary.model_validate({k: v for k, v in record.items() if k in fields})


@job(output_schema=CampaignRunSummary)
def finish_campaign(
    summary: CampaignRunSummary | dict[str, Any],
    references: list[ReferenceDoc | dict[str, Any] | None],
    predictions: list[PredictionChunkDoc | dict[str, Any] | None],
    properties: list[PropertySetDoc | dict[str, Any] | None] | None = None,
) -> CampaignRunSummary:
    """Store new results, update the comparisons, write the report; return the summary.

    A reference, prediction or property job that crashed arrives as None (counted as
    lost). Property jobs store their own results as they go.
    """
    settings = get_settings()
    planned = as_doc(CampaignRunSummary, summary)
    refs = [None if item is None else as_doc(ReferenceDoc, item) for item in references]
    chunks = [None if item is None else as_doc(PredictionChunkDoc, item) for item in predictions]
    new_refs = [ref for ref in refs if ref is not None]
    new_preds = [doc for chunk in chunks if chunk is not None for doc in chunk.large_arrays]
    store_landed(new_refs, new_preds, settings)
    finished: dict[str, Any] = {
        "references_lost": sum(ref is None for ref in refs),
        "references_failed": sum(ref.status == "failed" for ref in new_refs),
        "prediction_jobs_lost": sum(chunk is None for chunk in chunks),
        "predictions_failed": sum(chunk.n_failed for chunk in chunks if chunk is not None),
        "comparisons_written": build_comparisons(settings),
        "property_sets_lost": sum(item is None for item in properties or []),
        "properties_stored": sum(
            len(as_doc(PropertySetDoc, item).properties) for item in properties or [] if item
        ),
    }
    try:
        files = write_report(planned.campaign, settings=settings, build=False)
        finished.update(report=str(files.html), cross_functional=files.cross_functional)
    except Exception as exc:  # a report problem must not lose the stored results
        finished["report_error"] = str(exc)
    done = CampaignRunSummary.model_validate({**planned.model_dump(), **finished})
    _record_finish(done)
    return done
