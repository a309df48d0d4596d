"""``GenerateMaker``: the structures of one out-of-distribution category, as a jobflow job.

Its output's ``structure_ids`` (or ``structures``) feed the other Makers of a Flow::

    generate = GenerateMaker(category="surface").make(bulk)
    predict = PredictMaker().make(structure_ids=generate.output.structure_ids)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobflow import Maker
from pymatgen.core import Structure

from pesbench.makers.base import pesbench_job
from pesbench.memory import gc_paused
from pesbench.schemas.structure import GenerationDoc, SkippedStructure
from pesbench.stores.structures import store_structures
from pesbench.structures.io import DEFAULT_MIN_DISTANCE, check_structure
from pesbench.structures.registry import generate, resolve_params

__all__ = ["GenerateMaker"]


@dataclass
class GenerateMaker(Maker):
    """Generate one category's structures from one bulk crystal.

    The category and its parameters are checked when the Maker is built, so a typo fails
    while the flow is assembled, not hours later on a worker.

    Parameters
    ----------
    name
        Job name (``"generate <category>"`` when left empty).
    category
        One of ``surface``, ``defect``, ``solid_solution``, ``migration``, ``phonon``,
        ``high_energy``.
    parameters
        Overrides of the category's defaults (see ``pesbench.structures``); the documents
        record the complete set.
    min_distance
        Atoms of the bulk closer than this are refused as overlapping (Å).
    store
        Upsert the generated structures in the ``structures`` collection by their
        ``structure_id`` (:func:`~pesbench.stores.structures.store_structures`), where jobs
        given ``structure_ids`` read them; False: only the job's output holds them.
    keep_structures
        The output holds the documents (True) or their ids alone (False, with ``store``):
        a campaign's structures then never travel through the JobStore, and under
        FireWorks never through a workflow's specs.
    max_structures
        Keep the first this many structures (a campaign's ``max_per_category``); the rest
        are neither stored nor returned, and are listed once in ``skipped``.
    campaign
        Tag the stored structures with ``campaign:<name>``.
    """

    name: str = ""
    category: str = "surface"
    parameters: dict[str, Any] = field(default_factory=dict)
    min_distance: float = DEFAULT_MIN_DISTANCE
    store: bool = True
    keep_structures: bool = True
    max_structures: int | None = None
    campaign: str | None = None

    def __post_init__(self) -> None:
        resolve_params(self.category, self.parameters)
        self.name = self.name or f"generate {self.category}"
        if not (self.store or self.keep_structures):
            raise ValueError("keep_structures=False needs store=True: the structures would be lost")
        if self.max_structures is not None and self.max_structures < 1:
            raise ValueError(f"max_structures must be at least 1, not {self.max_structures}")

    @pesbench_job
    def make(self, structure: Structure, source: str | None = None) -> GenerationDoc:
        """Check ``structure``; store and return the category's documents.

        Parameters
        ----------
        structure
            Ordered bulk crystal.
        source
            File it was read from, recorded in the documents and in error messages.

        Returns
        -------
        GenerationDoc
            One ``StructureDoc`` per generated structure (``structures``, empty with
            ``keep_structures=False``) and their ids (``structure_ids``), and what was
            skipped, with why.
        """
        bulk = check_structure(structure, source or "<structure>", self.min_distance)
        with gc_paused():  # many acyclic objects (pesbench.memory)
            doc = self._generate_and_store(bulk, source)
        return doc

    def _generate_and_store(self, bulk: Structure, source: str | None) -> GenerationDoc:
        """The generation of ``bulk``, cut to ``max_structures``, stored when ``store``."""
        doc = generate(bulk, self.category, self.parameters, source=source)
        if self.max_structures is not None and len(doc.structures) > self.max_structures:
            first, n = self.max_structures, len(doc.structures)
            over = SkippedStructure(
                label=f"structures {first + 1} to {n} of {n}",
                reason=f"beyond max_structures={first}",
            )
            doc = doc.model_copy(
                update={
                    "structures": doc.structures[:first],
                    "structure_ids": doc.structure_ids[:first],
                    "skipped": [*doc.skipped, over],
                }
            )
        if self.store:
            store_structures(doc.structures, self.campaign)
        if not self.keep_structures:
            doc = doc.model_copy(update={"structures": []})
        return doc
