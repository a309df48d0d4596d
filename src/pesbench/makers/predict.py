"""``PredictMaker``: one job predicts a whole chunk of structures with one uMLIP."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jobflow import Maker
from pymatgen.core import Structure

from pesbench.makers.base import pesbench_job, store_now
from pesbench.mlip import worker_model
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import PredictionChunkDoc
from pesbench.schemas.structure import StructureDoc
from pesbench.stores.predictions import PredictionStore
from pesbench.stores.structures import job_structures

__all__ = ["PredictMaker"]


@dataclass
class PredictMaker(Maker):
    """Predict energy, forces and stress of a chunk of structures with one model.

    The model is loaded (and sanity-checked) once per worker process
    (:func:`~pesbench.mlip.registry.worker_model`) and evaluated in batches by
    ``atom_budget``; a structure it cannot handle becomes a failed ``PredictionDoc``
    while the rest of the chunk is predicted. The job returns a
    :class:`~pesbench.schemas.prediction.PredictionChunkDoc` whose per-structure
    documents go to the job store's GridFS store ``data``.

    Parameters
    ----------
    name
        Job name.
    model
        Model id (grammar: :mod:`pesbench.mlip.ids`).
    calculator_kwargs
        Keyword arguments of an ASE calculator (``ase:`` model ids only).
    functional
        Training functional to record when the model id does not imply it.
    atom_budget
        Most atoms per forward pass (default: by device, ``mlip.base.DEFAULT_ATOM_BUDGET``).
    device
        ``"cpu"`` or ``"cuda"``; default: the ``device`` setting of the worker.
    campaign
        Campaign recorded in each document.
    tags
        Labels recorded in each document.
    store
        Store the documents in the ``predictions`` collection as soon as they are
        predicted (:func:`~pesbench.makers.base.store_now`); False: only the job's output.
    keep_documents
        Also keep the stored documents in the job's output (GridFS). False (the default):
        the output is the chunk's summary and ids, and the documents (forces of every
        structure) are written once, to ``predictions``, not a second time to the job
        store; when storing failed (a database that did not answer), the output keeps
        them, and the campaign's finish job or a compare job stores them.
    """

    name: str = "predict"
    model: str = "chgnet-0.3.0"
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    functional: Functional | None = None
    atom_budget: int | None = None
    device: str | None = None
    campaign: str | None = None
    tags: list[str] = field(default_factory=list)
    store: bool = True
    keep_documents: bool = False

    @pesbench_job
    def make(
        self,
        structures: Sequence[Structure | StructureDoc] | None = None,
        structure_ids: Sequence[str] | None = None,
    ) -> PredictionChunkDoc:
        """Predict ``structures``; ``structure_ids`` default to their content hashes.

        ``structures`` may be ``StructureDoc``s (a generate job's ``output.structures``).
        Without them, the structures of ``structure_ids`` (a generate job's
        ``output.structure_ids``) are read from the database
        (:func:`~pesbench.stores.structures.job_structures`): what campaigns do, so that a
        FireWorks job's spec carries ids, not structures.
        """
        cells, ids = job_structures(structures, structure_ids)
        start = time.perf_counter()
        predictor = worker_model(
            self.model,
            device=self.device,
            functional=self.functional,
            calculator_kwargs=self.calculator_kwargs or None,
        )
        loaded = time.perf_counter()
        preds = predictor.predict(cells, atom_budget=self.atom_budget)
        docs = preds.to_docs(cells, ids, campaign=self.campaign, tags=list(self.tags))
        stored = store_now(PredictionStore, docs) if self.store else False
        return PredictionChunkDoc.from_docs(
            docs,
            model=preds.model,
            device=preds.device,
            load_seconds=loaded - start,
            predict_seconds=time.perf_counter() - loaded,
            stored=stored,
            keep_documents=self.keep_documents,
        )
