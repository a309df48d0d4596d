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
from pesbench.schemas.structure import GenerationDoc
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
    """

    name: str = ""
    category: str = "surface"
    parameters: dict[str, Any] = field(default_factory=dict)
    min_distance: float = DEFAULT_MIN_DISTANCE
    store: bool = True

    def __post_init__(self) -> None:
        resolve_params(self.category, self.parameters)
        self.name = self.name or f"generate {self.category}"

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
            One ``StructureDoc`` per generated structure (``structures``) and their ids
            (``structure_ids``), and what was skipped, with why.
        """
        bulk = check_structure(structure, source or "<structure>", self.min_distance)
        doc = generate(bulk, self.category, self.parameters, source=source)
        if self.store:
            store_structures(doc.structures)
        return doc
