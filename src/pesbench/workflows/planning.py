"""What a campaign's plan job adds: the references, predictions and property jobs still needed.

Each helper skips what is stored already (see :mod:`pesbench.workflows.campaign`) and
returns the jobs to add with their outputs for the finish job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Flow, Job
from jobflow.core.reference import OutputReference
from pymatgen.core import Structure

from pesbench.engines.base import get_engine
from pesbench.makers.predict import PredictMaker
from pesbench.makers.properties import PropertyFlowMaker, PropertyMaker
from pesbench.makers.reference import ReferenceFlowMaker
from pesbench.mlip.registry import model_info
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import prediction_id
from pesbench.schemas.reference import hash_inputs, reference_id
from pesbench.schemas.structure import GenerationDoc, StructureDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.collections import PREDICTIONS, REFERENCES
from pesbench.stores.connection import open_collection
from pesbench.stores.structures import load_structures, store_structures
from pesbench.structures.io import load_structure
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.records import as_doc, join_campaign, stored_ids
from pesbench.workflows.spec import CampaignSpec, Resources, SpecError

__all__: list[str] = []


def _worker_config(category: str, resources: Resources) -> dict[str, Any]:
    queue: dict[str, Any] = {"ntasks": resources.cores, "walltime": resources.walltime}
    if resources.queue:
        queue["queue"] = resources.queue
    if resources.account:
        queue["account"] = resources.account
    return {"manager_config": {"_category": category, "_queueadapter": queue}}


@dataclass
class _Work:
    """What a plan adds: jobs, their outputs (for the finish job), new and reused counts."""

    jobs: list[Job | Flow] = field(default_factory=list)
    outputs: list[OutputReference] = field(default_factory=list)
    new: int = 0
    reused: int = 0


@dataclass
class _Imported:
    """A structure of an imported dataset, or one its generate job stored: its id only.

    A prediction job reads its structures itself.
    """

    structure_id: str


@dataclass
class _Read:
    """A stored structure read back by id: what planning its references needs of it."""

    structure_id: str
    structure: Structure


def _generated_structures(
    spec: CampaignSpec,
    generations: list[GenerationDoc | dict],
    settings: PesbenchSettings,
    *,
    read: bool,
) -> list[StructureDoc | _Read | _Imported]:
    """The generated structures, ``max_per_category`` of each generation, each once.

    A generation holding its documents (a generate maker with ``keep_structures``) has
    them stored here, tagged with the campaign; one holding ids alone was stored by its
    job (the campaign's default). With ``read`` (references to plan: their input settings
    depend on the structure), the structures of those ids are read from the database.
    """
    held: dict[str, StructureDoc] = {}
    ids: list[str] = []
    for generation in generations:
        doc = as_doc(GenerationDoc, generation)
        kept = doc.structure_ids[: spec.max_per_category or None]
        ids.extend(kept)
        held.update((s.structure_id, s) for s in doc.structures[: len(kept)])
    ids = list(dict.fromkeys(ids))
    store_structures(list(held.values()), spec.name, settings)
    if not read:
        return [held.get(i) or _Imported(i) for i in ids]
    missing = [i for i in ids if i not in held]
    loaded = dict(zip(missing, load_structures(missing, settings), strict=True))
    return [held.get(i) or _Read(i, loaded[i]) for i in ids]


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
    with open_collection(REFERENCES, settings) as coll:
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
    join_campaign(REFERENCES, "reference_id", ids, spec.name, settings)
    docs = [_Imported(sid) for sid in sorted(structure_ids)]
    return docs, _Work(reused=len(ids))


def _plan_references(
    maker: ReferenceFlowMaker,
    docs: Sequence[StructureDoc | _Read],
    spec: CampaignSpec,
    retry_failed: bool,
    settings: PesbenchSettings,
) -> _Work:
    """A reference Flow per structure, for its references not stored yet."""
    engines: dict[str | None, Any] = {}
    wanted: dict[str, tuple[StructureDoc | _Read, Functional]] = {}
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
    have = stored_ids(REFERENCES, "reference_id", ids, retry_failed, settings)
    join_campaign(REFERENCES, "reference_id", have, spec.name, settings)
    todo: dict[str, tuple[StructureDoc | _Read, list[Functional]]] = {}
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
    wanted: dict[str, tuple[StructureDoc | _Read, Functional]],
    have: set[str],
    todo: dict[str, tuple[StructureDoc | _Read, list[Functional]]],
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
    with open_collection(REFERENCES, settings) as coll:
        found = list(coll.find(criteria, {"reference_id": 1, "run_dir": 1}))
    return {ids[d["reference_id"]]: d["run_dir"] for d in found if d.get("run_dir")}


def _plan_predictions(
    makers: list[PredictMaker],
    docs: Sequence[StructureDoc | _Read | _Imported],
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
        done = stored_ids(PREDICTIONS, "prediction_id", ids, retry_failed, settings)
        join_campaign(PREDICTIONS, "prediction_id", done, spec.name, settings)
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
