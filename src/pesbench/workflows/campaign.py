"""The campaign Flow Maker: a campaign spec -> one jobflow Flow.

The Flow, run by ``run_locally`` or FireWorks alike::

    generate (one job per material and category)
      -> plan       stores the structures, skips every reference (structure, functional,
                    input_hash) and prediction (structure, model checksum) already stored,
                    and replaces itself with the jobs still needed:
                    references (a GGA -> r2SCAN Flow per structure, r2SCAN started from
                    the GGA run) and predictions (one job per model and chunk of
                    ``chunk_size`` structures)
         -> finish  stores the new references and predictions in their collections,
                    brings the comparisons up to date (incremental builders) and writes
                    the campaign report (:mod:`pesbench.workflows.records`).

A spec with ``dataset`` (an imported dataset, ``pesbench import``) has no generate jobs
and no reference jobs: its plan takes the dataset's references at the spec's functionals
as the DFT side and plans the predictions of their structures.

Every job comes from a sub-maker of :class:`CampaignFlowMaker`, so jobflow's
``update_kwargs`` changes a whole campaign; the plan job gets the maker itself (it is
MSONable, so under FireWorks too)::

    maker = CampaignFlowMaker().update_kwargs({"atom_budget": 64}, class_filter=PredictMaker)
    flow = maker.make(load_spec("my.yaml"))

DFT jobs (and the cheap generate, plan and finish jobs) carry the FireWorks category
``dft`` and uMLIP jobs ``mlip`` (see :mod:`pesbench.workflows.fireworks`), each with the
spec's resources as ``_queueadapter`` overrides for ``qlaunch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar
from uuid import uuid4

from jobflow import CURRENT_JOB, Flow, Job, Maker, Response, job
from jobflow.core.reference import OnMissing, OutputReference

from pesbench.engines.base import get_engine
from pesbench.makers.generate import GenerateMaker
from pesbench.makers.predict import PredictMaker
from pesbench.makers.properties import PropertyFlowMaker, PropertyMaker, RelaxMaker
from pesbench.makers.reference import ReferenceFlowMaker, ReferenceMaker
from pesbench.mlip.registry import model_info
from pesbench.schemas.base import Functional
from pesbench.schemas.campaign import CampaignRunSummary
from pesbench.schemas.comparison import is_native_pair
from pesbench.schemas.prediction import prediction_id
from pesbench.schemas.reference import hash_inputs, reference_id
from pesbench.schemas.structure import GenerationDoc, StructureDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import open_collection
from pesbench.structures.io import load_structure
from pesbench.structures.registry import get_generator
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.records import (
    as_doc,
    finish_campaign,
    join_campaign,
    record_run,
    store_structures,
    stored_ids,
)
from pesbench.workflows.spec import CampaignSpec, DFTSpec, Resources, SpecError

__all__ = ["CampaignFlowMaker", "build_campaign_flow", "plan_campaign"]

DftMaker = TypeVar("DftMaker", ReferenceMaker, RelaxMaker)


def _worker_config(category: str, resources: Resources) -> dict[str, Any]:
    queue: dict[str, Any] = {"ntasks": resources.cores, "walltime": resources.walltime}
    if resources.queue:
        queue["queue"] = resources.queue
    if resources.account:
        queue["account"] = resources.account
    return {"manager_config": {"_category": category, "_queueadapter": queue}}


@dataclass
class CampaignFlowMaker(Maker):
    """Make a campaign's Flow from its spec; the sub-makers are fields, the spec fills them.

    The spec says what to compute (materials, categories, functionals, models, DFT
    settings); the sub-makers how. A setting of a sub-maker wins over the spec's: a
    reference maker's ``engine`` when not None and its ``overrides`` key by key, and the
    predict maker's ``model`` when not empty.

    Parameters
    ----------
    name
        Flow name prefix (``"<name> <campaign>"``).
    generate_maker
        Template of the generate jobs: for each material and category of the spec, this
        maker with the spec's category and parameters (``min_distance`` is its own).
    reference_maker
        The references of one structure: GGA, then r2SCAN started from the GGA run.
    predict_maker
        Template of the prediction jobs (``atom_budget``, ``device``, ``tags`` ...). Its
        ``model`` empty (the default): one set of jobs per model of the spec; set (e.g.
        ``update_kwargs({"model": ...}, class_filter=PredictMaker)``): that model alone,
        in place of the spec's.
    property_maker
        Relaxed properties (:class:`~pesbench.makers.properties.PropertyFlowMaker`): its
        categories, DFT functionals and models empty (the default) take the spec's
        ``properties`` section and models; its DFT relax maker gets the spec's engine and
        overrides under its own, like the reference makers. No categories anywhere: no
        property jobs.
    retry_failed
        Recompute references and predictions stored as failed (default: keep them).
    """

    name: str = "campaign"
    generate_maker: GenerateMaker = field(default_factory=GenerateMaker)
    reference_maker: ReferenceFlowMaker = field(default_factory=ReferenceFlowMaker)
    predict_maker: PredictMaker = field(default_factory=lambda: PredictMaker(model=""))
    property_maker: PropertyFlowMaker = field(
        default_factory=lambda: PropertyFlowMaker(
            categories={}, model_relax_maker=RelaxMaker(model=None)
        )
    )
    retry_failed: bool = False

    def make(self, spec: CampaignSpec) -> Flow:
        """The campaign's Flow: generate jobs, then the plan (nothing runs or is stored yet).

        Parameters
        ----------
        spec
            A validated spec (:func:`~pesbench.workflows.spec.load_spec`).
        """
        cpu = _worker_config(DFT_CATEGORY, spec.resources.dft)
        generate_jobs = self._generate_jobs(spec)
        for step in generate_jobs:
            step.update_config(cpu, dynamic=False)
        plan = plan_campaign(
            self, spec.model_dump(mode="json"), [step.output for step in generate_jobs]
        )
        plan.name = f"plan {spec.name}"
        # not dynamic, and not passed on: the jobs the plan creates keep their own categories
        plan.update_config(cpu, dynamic=False)
        plan.config.pass_manager_config = False
        return Flow([*generate_jobs, plan], name=f"{self.name} {spec.name}")

    def _generate_jobs(self, spec: CampaignSpec) -> list[Job]:
        jobs = []
        for path in spec.structures:
            bulk = load_structure(path)
            for category, params in spec.categories.items():
                parameters = dict(params)
                if "seed" in get_generator(category).params.model_fields:
                    parameters.setdefault("seed", spec.seed)
                maker = replace(
                    self.generate_maker, name="", category=category, parameters=parameters
                )
                step = maker.make(bulk, source=str(path))
                step.name = f"generate {category} {bulk.composition.reduced_formula}"
                jobs.append(step)
        return jobs

    def reference_flow_maker(self, spec: CampaignSpec) -> ReferenceFlowMaker:
        """The reference maker, the spec's DFT engine and overrides under its own."""
        return replace(
            self.reference_maker,
            gga_maker=_with_dft(self.reference_maker.gga_maker, spec.dft),
            r2scan_maker=_with_dft(self.reference_maker.r2scan_maker, spec.dft),
        )

    def predict_makers(self, spec: CampaignSpec) -> list[PredictMaker]:
        """One predict maker per model: the spec's models, or the predict maker's own."""
        models = [self.predict_maker.model] if self.predict_maker.model else spec.models
        return [replace(self.predict_maker, model=model, campaign=spec.name) for model in models]

    def property_flow_maker(self, spec: CampaignSpec) -> PropertyFlowMaker | None:
        """The property maker filled from the spec; None when no category asks for any."""
        own = self.property_maker
        wanted = spec.properties  # models default to those with a native DFT side
        categories = own.categories or (wanted.categories if wanted else {})
        if not categories:
            return None
        dft = own.dft_relax_maker
        if dft is not None:
            dft = _with_dft(dft, spec.dft)
            if wanted is not None:
                dft = replace(
                    dft, fmax=dft.fmax or wanted.fmax, max_steps=dft.max_steps or wanted.max_steps
                )
        model = own.model_relax_maker
        if wanted is not None:
            model = replace(
                model, fmax=model.fmax or wanted.fmax, max_steps=model.max_steps or wanted.max_steps
            )
        functionals = own.functionals or (wanted.functionals if wanted else None)
        models = own.models or ([model.model] if model.model else spec.models)
        if not own.models and not model.model and dft is not None:
            models = _native_models(models, functionals or [dft.functional])
        return replace(
            own,
            categories=categories,
            dft_relax_maker=dft,
            model_relax_maker=model,
            models=models,
            functionals=functionals,
        )


def _native_models(models: list[str], functionals: list[Functional]) -> list[str]:
    """The spec's models whose properties pair with a DFT side of ``functionals``.

    A PBE-trained model is compared with PBE (or PBE+U) DFT and an r2SCAN-trained one with
    r2SCAN: relaxing structures with a model that has no DFT side to pair with is waste.
    """
    return [
        m for m in models if any(is_native_pair(model_info(m).functional, f) for f in functionals)
    ]


def _with_dft(maker: DftMaker, dft: DFTSpec) -> DftMaker:
    return replace(
        maker,
        engine=maker.engine or dft.engine,
        overrides={**dft.overrides, **maker.overrides},
        timeout_s=maker.timeout_s or dft.timeout_s,
    )


def build_campaign_flow(spec: CampaignSpec, *, retry_failed: bool = False) -> Flow:
    """The campaign's Flow with the default sub-makers (``CampaignFlowMaker().make``)."""
    return CampaignFlowMaker(retry_failed=retry_failed).make(spec)


@dataclass
class _Work:
    """What a plan adds: jobs, their outputs (for the finish job), new and reused counts."""

    jobs: list[Job | Flow] = field(default_factory=list)
    outputs: list[OutputReference] = field(default_factory=list)
    new: int = 0
    reused: int = 0


@job
def plan_campaign(
    maker: CampaignFlowMaker, spec_data: dict[str, Any], generations: list[GenerationDoc | dict]
) -> Response:
    """Store the generated structures and replace this job with the work still needed.

    Returns the :class:`~pesbench.schemas.campaign.CampaignRunSummary` of the plan; the
    jobs it adds come from ``maker``'s sub-makers, and end with the finish job.
    """
    spec = CampaignSpec.model_validate(spec_data)
    settings = get_settings()
    predict_makers = maker.predict_makers(spec)
    retry = maker.retry_failed
    docs: list[StructureDoc] | list[_Imported]
    if spec.dataset is not None:  # the imported references are the DFT side
        docs, refs = _dataset_references(spec, settings)
    else:
        docs = _kept_structures(spec, generations)
        store_structures(docs, spec.name, settings)
        refs = _plan_references(maker.reference_flow_maker(spec), docs, spec, retry, settings)
    preds = _plan_predictions(predict_makers, docs, spec, retry, settings)
    props = _plan_properties(maker.property_flow_maker(spec), spec)
    summary = CampaignRunSummary(
        run_id=_run_id(),
        campaign=spec.name,
        models=[m.model for m in predict_makers],
        structures=len(docs),
        references_new=refs.new,
        references_reused=refs.reused,
        predictions_new=preds.new,
        prediction_jobs=len(preds.jobs),
        predictions_reused=preds.reused,
        property_jobs=len(props.outputs),
    )
    record_run(spec_data, summary)
    finish = finish_campaign(summary, refs.outputs, preds.outputs, props.outputs)
    finish.name = f"finish {spec.name}"
    finish.config.on_missing_references = OnMissing.NONE  # a crashed job loses only itself
    finish.update_config(_worker_config(DFT_CATEGORY, spec.resources.dft), dynamic=False)
    computed = Flow([*refs.jobs, *preds.jobs, *props.jobs, finish], name=f"compute {spec.name}")
    return Response(output=summary, replace=computed)


def _run_id() -> str:
    """The running plan job's uuid (a rerun of the same job is the same run), else new."""
    running = CURRENT_JOB.job
    return str(running.uuid) if running is not None else uuid4().hex


def _kept_structures(
    spec: CampaignSpec, generations: list[GenerationDoc | dict]
) -> list[StructureDoc]:
    """The generated structures, ``max_per_category`` of each generation, each once."""
    docs: list[StructureDoc] = []
    for generation in generations:
        structures = as_doc(GenerationDoc, generation).structures
        docs.extend(structures[: spec.max_per_category] if spec.max_per_category else structures)
    return list({doc.structure_id: doc for doc in docs}.values())


@dataclass
class _Imported:
    """A structure of an imported dataset: what planning its predictions needs of it.

    Its id only: a prediction job reads its structures itself.
    """

    structure_id: str


def _dataset_references(
    spec: CampaignSpec, settings: PesbenchSettings
) -> tuple[list[_Imported], _Work]:
    """The structures of the spec's dataset with a successful reference at its functionals.

    Those references join the campaign (reused, nothing computed); no structure is stored
    in ``structures`` (the comparisons take material and category from the references'
    ``provenance``). Ids only are read (a projection): a dataset of 10^5 structures is
    planned without reading or parsing one.

    Raises
    ------
    SpecError
        When the dataset has no such reference (not imported, or other functionals).
    """
    criteria: dict[str, Any] = {
        "provenance.dataset": spec.dataset,
        "functional": {"$in": list(spec.functionals)},
        "status": "success",
    }
    if spec.dataset_version is not None:
        criteria["provenance.dataset_version"] = spec.dataset_version
    structure_ids: set[str] = set()
    ids = set()
    with open_collection("references", settings) as coll:
        for row in coll.find(criteria, {"_id": 0, "reference_id": 1, "structure_id": 1}):
            ids.add(row["reference_id"])
            structure_ids.add(row["structure_id"])
    if not ids:
        version = f" version {spec.dataset_version!r}" if spec.dataset_version else ""
        raise SpecError(
            f"dataset {spec.dataset!r}{version} has no successful reference at "
            f"{', '.join(spec.functionals) or 'no functional'}: `pesbench import --dataset "
            f"{spec.dataset} ...` first, or list its functionals under 'functionals'"
        )
    join_campaign("references", "reference_id", ids, spec.name, settings)
    docs = [_Imported(sid) for sid in sorted(structure_ids)]
    return docs, _Work(reused=len(ids))


def _plan_references(
    maker: ReferenceFlowMaker,
    docs: list[StructureDoc],
    spec: CampaignSpec,
    retry_failed: bool,
    settings: PesbenchSettings,
) -> _Work:
    """A reference Flow per structure, for its references not stored yet."""
    engines: dict[str | None, Any] = {}
    wanted: dict[str, tuple[StructureDoc, Functional]] = {}
    for doc in docs:
        for functional in spec.functionals:
            ref_maker = maker.maker_for(functional)
            if ref_maker.engine not in engines:
                engines[ref_maker.engine] = get_engine(ref_maker.engine, settings)
            inputs = engines[ref_maker.engine].input_settings(
                doc.structure, functional, ref_maker.overrides or None
            )
            wanted[reference_id(doc.structure_id, functional, hash_inputs(inputs))] = (
                doc,
                functional,
            )
    ids = list(wanted)
    have = stored_ids("references", "reference_id", ids, retry_failed, settings)
    join_campaign("references", "reference_id", have, spec.name, settings)
    todo: dict[str, tuple[StructureDoc, list[Functional]]] = {}
    for ref_id, (doc, functional) in wanted.items():
        if ref_id not in have:
            todo.setdefault(doc.structure_id, (doc, []))[1].append(functional)
    work = _Work(new=len(wanted) - len(have), reused=len(have))
    config = _worker_config(DFT_CATEGORY, spec.resources.dft)
    starts = _stored_gga_runs(maker, spec, wanted, have, todo, settings)
    for doc, functionals in todo.values():
        start = starts.get(doc.structure_id)
        flow = maker.make(doc.structure, functionals, campaign=spec.name, prev_dir=start)
        for step in flow.jobs:
            step.name = f"{step.name} {doc.structure_id}"
        flow.update_config(config, dynamic=False)
        work.jobs.append(flow)
        work.outputs.extend(step.output for step in flow.jobs)
    return work


def _stored_gga_runs(
    maker: ReferenceFlowMaker,
    spec: CampaignSpec,
    wanted: dict[str, tuple[StructureDoc, Functional]],
    have: set[str],
    todo: dict[str, tuple[StructureDoc, list[Functional]]],
    settings: PesbenchSettings,
) -> dict[str, str]:
    """structure_id -> run folder of its stored GGA reference, where r2SCAN is still to do.

    The GGA reference is the spec's first functional other than r2SCAN (the one a flow
    would chain from), stored successfully by an earlier run or campaign. r2SCAN starts
    from its folder; the engine starts from scratch when that folder is gone (another
    machine, cleaned up) or does not match.
    """
    last = maker.r2scan_maker.functional
    gga = [f for f in spec.functionals if f != last]
    if not gga:
        return {}
    ids = {
        ref_id: doc.structure_id
        for ref_id, (doc, functional) in wanted.items()
        if functional == gga[0]
        and ref_id in have
        and last in todo.get(doc.structure_id, (doc, []))[1]
    }
    if not ids:
        return {}
    criteria = {"reference_id": {"$in": list(ids)}, "status": "success"}
    with open_collection("references", settings) as coll:
        found = list(coll.find(criteria, {"reference_id": 1, "run_dir": 1}))
    return {ids[d["reference_id"]]: d["run_dir"] for d in found if d.get("run_dir")}


def _plan_predictions(
    makers: list[PredictMaker],
    docs: Sequence[StructureDoc | _Imported],
    spec: CampaignSpec,
    retry_failed: bool,
    settings: PesbenchSettings,
) -> _Work:
    """Prediction jobs of ``chunk_size`` structures, for the predictions not stored yet.

    A prediction is stored by (structure, model checksum); the checksum comes from
    :func:`~pesbench.mlip.registry.model_info` (no forward pass, cached per process).
    """
    work = _Work()
    config = _worker_config(MLIP_CATEGORY, spec.resources.mlip)
    for maker in makers:
        info = model_info(
            maker.model,
            functional=maker.functional,
            calculator_kwargs=maker.calculator_kwargs or None,
            settings=settings,
        )
        by_id = {prediction_id(doc.structure_id, info.checksum): doc for doc in docs}
        ids = list(by_id)
        done = stored_ids("predictions", "prediction_id", ids, retry_failed, settings)
        join_campaign("predictions", "prediction_id", done, spec.name, settings)
        pending = [doc for pid, doc in by_id.items() if pid not in done]
        work.new += len(pending)
        work.reused += len(done)
        size = spec.chunk_size
        chunks = [pending[i : i + size] for i in range(0, len(pending), size)]
        for k, chunk in enumerate(chunks):
            # ids only: the job reads its structures (a FireWorks spec re-serializes its inputs)
            step = maker.make(structure_ids=[doc.structure_id for doc in chunk])
            step.name = f"predict {maker.model} {k + 1}/{len(chunks)}"
            step.update_config(config, dynamic=False)
            work.jobs.append(step)
            work.outputs.append(step.output)
    return work


def _plan_properties(maker: PropertyFlowMaker | None, spec: CampaignSpec) -> _Work:
    """A property job per (bulk, category, side); each returns its stored result if any.

    DFT sides go to the ``dft`` workers, models to the ``mlip`` ones.
    """
    work = _Work()
    if maker is None:
        return work
    flow = maker.make([load_structure(path) for path in spec.structures], campaign=spec.name)
    dft = _worker_config(DFT_CATEGORY, spec.resources.dft)
    mlip = _worker_config(MLIP_CATEGORY, spec.resources.mlip)
    for step in flow.jobs:
        owner = step.maker if isinstance(step, Job) else None
        is_dft = isinstance(owner, PropertyMaker) and owner.relax_maker.is_dft
        step.update_config(dft if is_dft else mlip, dynamic=False)
        work.outputs.append(step.output)
    work.jobs.append(flow)
    return work
