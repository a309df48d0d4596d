"""The campaign Flow Maker: a campaign spec -> one jobflow Flow.

The Flow, run by ``run_locally`` or FireWorks alike::

    generate (one job per material and category: stores the structures it keeps,
              ``max_per_category``, and returns their ids)
      -> plan       skips every reference (structure, functional, input_hash) and
                    prediction (structure, model checksum) already stored, and replaces
                    itself with the jobs still needed:
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
from jobflow.core.reference import OnMissing

from pesbench.makers.generate import GenerateMaker
from pesbench.makers.predict import PredictMaker
from pesbench.makers.properties import PropertyFlowMaker, RelaxMaker
from pesbench.makers.reference import ReferenceFlowMaker, ReferenceMaker
from pesbench.mlip.registry import model_info
from pesbench.schemas.base import Functional
from pesbench.schemas.campaign import CampaignRunSummary
from pesbench.schemas.comparison import is_native_pair
from pesbench.schemas.structure import GenerationDoc, StructureDoc
from pesbench.settings import get_settings
from pesbench.structures.io import load_structure
from pesbench.structures.registry import get_generator
from pesbench.workflows.fireworks import DFT_CATEGORY
from pesbench.workflows.planning import (
    _dataset_references,
    _generated_structures,
    _Imported,
    _plan_predictions,
    _plan_properties,
    _plan_references,
    _Read,
    _worker_config,
)
from pesbench.workflows.records import finish_campaign, record_run
from pesbench.workflows.spec import CampaignSpec, DFTSpec

__all__ = ["CampaignFlowMaker", "build_campaign_flow", "plan_campaign"]


DftMaker = TypeVar("DftMaker", ReferenceMaker, RelaxMaker)


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
        maker with the spec's category, parameters, campaign and ``max_per_category``
        (``min_distance`` and a ``max_structures`` of its own win). It stores the
        structures it keeps and returns their ids alone (``keep_structures=False``): they
        never travel through the JobStore or a FireWorks spec, and the plan reads them back
        only where references are planned. With ``keep_structures`` the plan stores them.
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
    generate_maker: GenerateMaker = field(
        default_factory=lambda: GenerateMaker(keep_structures=False)
    )
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
                    self.generate_maker,
                    name="",
                    category=category,
                    parameters=parameters,
                    max_structures=self.generate_maker.max_structures or spec.max_per_category,
                    campaign=spec.name,
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
    docs: Sequence[StructureDoc | _Read | _Imported]
    if spec.dataset is not None:  # the imported references are the DFT side
        docs, refs = _dataset_references(spec, settings)
    else:
        # structures read back only for references: their inputs depend on the structure
        docs = _generated_structures(spec, generations, settings, read=bool(spec.functionals))
        read = [doc for doc in docs if not isinstance(doc, _Imported)]
        refs = _plan_references(maker.reference_flow_maker(spec), read, spec, retry, settings)
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
