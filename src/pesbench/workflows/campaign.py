"""A campaign spec -> one jobflow Flow: generate -> plan -> references + predictions -> finish.

The Flow, run by ``run_locally`` or FireWorks alike::

    generate (one job per material and category)
      -> plan       stores the structures, skips every reference (structure, functional,
                    input_hash) and prediction (structure, model checksum) already stored,
                    and replaces itself with the jobs still needed:
                    references (one per structure and functional; r2SCAN starts from the
                    GGA run of the same structure) and predictions (one per model and
                    chunk of ``chunk_size`` structures)
         -> finish  stores the new references and predictions in their collections,
                    brings the comparisons up to date (incremental builders) and writes
                    the campaign report.

DFT jobs (and the cheap generate, plan and finish jobs) carry the FireWorks category
``dft`` and uMLIP jobs ``mlip`` (see
:mod:`pesbench.workflows.fireworks`), each with the spec's resources as
``_queueadapter`` overrides for ``qlaunch``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from jobflow import Flow, Job, Response, job
from jobflow.core.reference import OnMissing
from pymongo import ReplaceOne, UpdateOne

from pesbench.engines.base import get_engine
from pesbench.makers.generate import GenerateMaker
from pesbench.makers.predict import PredictMaker
from pesbench.makers.reference import ReferenceMaker
from pesbench.mlip.registry import load_model
from pesbench.schemas.prediction import PredictionChunkDoc, PredictionDoc, prediction_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs, reference_id
from pesbench.schemas.structure import GenerationDoc, StructureDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.connection import open_collection
from pesbench.stores.references import ReferenceStore
from pesbench.stores.report import write_report
from pesbench.structures.io import load_structure
from pesbench.structures.registry import get_generator
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.spec import CampaignSpec, Resources

__all__ = [
    "CAMPAIGNS_COLLECTION",
    "build_campaign_flow",
    "finish_campaign",
    "plan_campaign",
]

CAMPAIGNS_COLLECTION = "campaigns"
"""One document per campaign name: its spec and what each run computed and reused."""

_GGA = ("PBE", "PBE+U")


def _worker_config(category: str, resources: Resources) -> dict[str, Any]:
    queue: dict[str, Any] = {"ntasks": resources.cores, "walltime": resources.walltime}
    if resources.queue:
        queue["queue"] = resources.queue
    if resources.account:
        queue["account"] = resources.account
    return {"manager_config": {"_category": category, "_queueadapter": queue}}


def build_campaign_flow(spec: CampaignSpec, *, retry_failed: bool = False) -> Flow:
    """The campaign's Flow (nothing runs, nothing is stored yet).

    Parameters
    ----------
    spec
        A validated spec (:func:`~pesbench.workflows.spec.load_spec`).
    retry_failed
        Recompute references and predictions stored as failed (default: keep them).
    """
    generate_jobs: list[Job] = []
    for path in spec.structures:
        bulk = load_structure(path)
        for category, params in spec.categories.items():
            overrides = dict(params)
            if "seed" in _param_names(category) and "seed" not in overrides:
                overrides["seed"] = spec.seed
            step = GenerateMaker(category=category, parameters=overrides).make(
                bulk, source=str(path)
            )
            step.name = f"generate {category} {bulk.composition.reduced_formula}"
            generate_jobs.append(step)
    cpu = _worker_config(DFT_CATEGORY, spec.resources.dft)
    for step in generate_jobs:
        step.update_config(cpu, dynamic=False)
    plan = plan_campaign(
        spec.model_dump(mode="json"), [step.output for step in generate_jobs], retry_failed
    )
    plan.name = f"plan {spec.name}"
    # not dynamic, and not passed on: the jobs the plan creates keep their own categories
    plan.update_config(cpu, dynamic=False)
    plan.config.pass_manager_config = False
    return Flow([*generate_jobs, plan], name=f"campaign {spec.name}")


def _param_names(category: str) -> list[str]:
    return list(get_generator(category).params.model_fields)


def _store_structures(docs: list[StructureDoc], campaign: str, settings: PesbenchSettings) -> None:
    """Upsert ``docs`` by structure_id (one round trip), adding the tag ``campaign:<name>``."""
    if not docs:
        return
    updates = []
    for doc in docs:
        data = doc.model_dump(mode="json")
        tags = [*data.pop("tags"), f"campaign:{campaign}"]
        updates.append(
            UpdateOne(
                {"structure_id": doc.structure_id},
                {"$setOnInsert": data, "$addToSet": {"tags": {"$each": tags}}},
                upsert=True,
            )
        )
    with open_collection("structures", settings) as collection:
        collection.create_index("structure_id", unique=True)
        collection.bulk_write(updates, ordered=False)


def _existing(
    collection: str, key: str, ids: list[str], retry_failed: bool, settings: PesbenchSettings
) -> set[str]:
    """Which of ``ids`` are stored (successful ones only with ``retry_failed``)."""
    criteria: dict[str, Any] = {key: {"$in": ids}}
    if retry_failed:
        criteria["status"] = "success"
    with open_collection(collection, settings) as coll:
        return {doc[key] for doc in coll.find(criteria, {key: 1})}


def _join(
    collection: str, key: str, ids: set[str], campaign: str, settings: PesbenchSettings
) -> None:
    """Record that ``campaign`` reuses the stored results ``ids`` (their ``campaigns``)."""
    if ids:
        with open_collection(collection, settings) as coll:
            coll.update_many({key: {"$in": list(ids)}}, {"$addToSet": {"campaigns": campaign}})


@job
def plan_campaign(
    spec_data: dict[str, Any], generations: list[GenerationDoc | dict], retry_failed: bool = False
) -> Response:
    """Store the generated structures and replace this job with the work still needed."""
    spec = CampaignSpec.model_validate(spec_data)
    settings = get_settings()
    docs: list[StructureDoc] = []
    for generation in generations:
        gen = (
            generation
            if isinstance(generation, GenerationDoc)
            else GenerationDoc.model_validate(generation)
        )
        kept = gen.structures[: spec.max_per_category] if spec.max_per_category else gen.structures
        docs.extend(kept)
    unique = list({doc.structure_id: doc for doc in docs}.values())
    _store_structures(unique, spec.name, settings)

    engine = get_engine(spec.dft.engine, settings)
    overrides = spec.dft.overrides or None
    wanted: dict[str, tuple[StructureDoc, str]] = {}
    for doc in unique:
        for functional in spec.functionals:
            settings_ = engine.input_settings(doc.structure, functional, overrides)
            ref_id = reference_id(doc.structure_id, functional, hash_inputs(settings_))
            wanted[ref_id] = (doc, functional)
    have = _existing("references", "reference_id", list(wanted), retry_failed, settings)
    _join("references", "reference_id", have, spec.name, settings)
    todo = {ref_id: item for ref_id, item in wanted.items() if ref_id not in have}

    jobs: list[Job | Flow] = []
    reference_outputs = []
    gga_runs: dict[str, Any] = {}
    dft_config = _worker_config(DFT_CATEGORY, spec.resources.dft)
    for functional in sorted(spec.functionals, key=lambda f: f not in _GGA):  # GGA first
        for doc, func in todo.values():
            if func != functional:
                continue
            maker = ReferenceMaker(
                functional=functional, engine=spec.dft.engine, overrides=spec.dft.overrides
            )
            prev = gga_runs.get(doc.structure_id) if functional == "r2SCAN" else None
            step = maker.make(doc.structure, prev_dir=prev, campaign=spec.name)
            step.name = f"reference {functional} {doc.structure_id}"
            step.update_config(dft_config, dynamic=False)
            if functional in _GGA:
                gga_runs.setdefault(doc.structure_id, step.output.run_dir)
            jobs.append(step)
            reference_outputs.append(step.output)

    prediction_outputs = []
    reused_predictions = 0
    mlip_config = _worker_config(MLIP_CATEGORY, spec.resources.mlip)
    for model_id in spec.models:
        checksum = load_model(model_id, device="cpu").info.checksum
        by_id = {prediction_id(doc.structure_id, checksum): doc for doc in unique}
        done = _existing("predictions", "prediction_id", list(by_id), retry_failed, settings)
        _join("predictions", "prediction_id", done, spec.name, settings)
        reused_predictions += len(done)
        pending = [doc for pid, doc in by_id.items() if pid not in done]
        chunks = [pending[i : i + spec.chunk_size] for i in range(0, len(pending), spec.chunk_size)]
        for k, chunk in enumerate(chunks):
            step = PredictMaker(model=model_id, campaign=spec.name).make(
                [doc.structure for doc in chunk], [doc.structure_id for doc in chunk]
            )
            step.name = f"predict {model_id} {k + 1}/{len(chunks)}"
            step.update_config(mlip_config, dynamic=False)
            jobs.append(step)
            prediction_outputs.append(step.output)

    run_id = uuid4().hex
    summary = {
        "run_id": run_id,
        "campaign": spec.name,
        "structures": len(unique),
        "references_new": len(todo),
        "references_reused": len(wanted) - len(todo),
        "predictions_new": len(spec.models) * len(unique) - reused_predictions,
        "prediction_jobs": len(prediction_outputs),
        "predictions_reused": reused_predictions,
    }
    _record_run(spec, summary)
    finish = finish_campaign(
        spec.name,
        {"summary": summary, "references": reference_outputs, "predictions": prediction_outputs},
    )
    finish.name = f"finish {spec.name}"
    finish.config.on_missing_references = OnMissing.NONE  # a crashed job loses only itself
    finish.update_config(_worker_config(DFT_CATEGORY, spec.resources.dft), dynamic=False)
    return Response(output=summary, replace=Flow([*jobs, finish], name=f"compute {spec.name}"))


def _record_run(spec: CampaignSpec, summary: dict[str, Any]) -> None:
    with open_collection(CAMPAIGNS_COLLECTION) as collection:
        collection.update_one(
            {"name": spec.name},
            {
                "$set": {"spec": spec.model_dump(mode="json")},
                "$push": {"runs": {**summary, "planned_at": datetime.now(UTC)}},
            },
            upsert=True,
        )


def _as_reference(item: Any) -> ReferenceDoc | None:
    if item is None:
        return None
    return item if isinstance(item, ReferenceDoc) else ReferenceDoc.model_validate(item)


def _as_chunk(item: Any) -> PredictionChunkDoc | None:
    if item is None:
        return None
    return item if isinstance(item, PredictionChunkDoc) else PredictionChunkDoc.model_validate(item)


def _store_predictions(docs: list[PredictionDoc], settings: PesbenchSettings) -> None:
    if not docs:
        return
    with open_collection("predictions", settings) as collection:
        collection.create_index("prediction_id", unique=True)
        collection.bulk_write(
            [
                ReplaceOne(
                    {"prediction_id": d.prediction_id}, d.model_dump(mode="json"), upsert=True
                )
                for d in docs
            ],
            ordered=False,
        )


@job
def finish_campaign(campaign: str, planned: dict[str, Any] | None) -> dict[str, Any]:
    """Store new results, update the comparisons, write the report; return the summary."""
    settings = get_settings()
    planned = planned or {"summary": {"campaign": campaign}, "references": [], "predictions": []}
    references = [_as_reference(item) for item in planned.get("references") or []]
    chunks = [_as_chunk(item) for item in planned.get("predictions") or []]
    new_refs = [ref for ref in references if ref is not None]
    new_preds = [doc for chunk in chunks if chunk is not None for doc in chunk.large_arrays]
    with ReferenceStore(settings) as store:
        store.upsert(new_refs)
    _store_predictions(new_preds, settings)
    built = build_comparisons(settings)
    summary = dict(planned.get("summary") or {})
    summary.update(
        {
            "references_lost": sum(ref is None for ref in references),
            "references_failed": sum(
                ref is not None and ref.status == "failed" for ref in references
            ),
            "prediction_jobs_lost": sum(chunk is None for chunk in chunks),
            "predictions_failed": sum(doc.status == "failed" for doc in new_preds),
            "comparisons_written": built,
        }
    )
    try:
        files = write_report(campaign, settings=settings, build=False)
        summary["report"] = str(files.html)
        summary["cross_functional"] = files.cross_functional
    except Exception as exc:  # a report problem must not lose the stored results
        summary["report_error"] = str(exc)
    _record_finish(campaign, summary)
    return summary


def _record_finish(campaign: str, summary: dict[str, Any]) -> None:
    with open_collection(CAMPAIGNS_COLLECTION) as collection:
        collection.update_one(
            {"name": campaign, "runs.run_id": summary.get("run_id")},
            {"$set": {"runs.$.finished": {**summary, "finished_at": datetime.now(UTC)}}},
        )
