"""``CompareMaker``: bring the ``comparisons`` collection up to date at the end of a Flow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from jobflow import Job, Maker, OnMissing

from pesbench.makers.base import pesbench_job
from pesbench.schemas.prediction import PredictionChunkDoc, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import build_comparisons
from pesbench.stores.predictions import PredictionStore
from pesbench.stores.references import ReferenceStore, reference_from_output

__all__ = ["CompareMaker", "store_landed"]


@dataclass
class CompareMaker(Maker):
    """Run the comparison builders once the references and predictions have landed.

    jobflow orders jobs by their inputs only: give this job the outputs of the reference
    and prediction jobs (a :class:`~pesbench.makers.reference.ReferenceSetMaker` job's,
    one or a list of :class:`~pesbench.makers.predict.PredictMaker` jobs') and it runs
    after them. It first stores the documents among them that their jobs could not store
    (a database that did not answer then; idempotent), then runs the incremental builders
    (:func:`~pesbench.stores.builders.build_comparisons`) over the whole database: every
    successful prediction is paired with the references of its structure at its model's
    training functional.

    Parameters
    ----------
    name
        Job name.
    cross_functional
        Pair every prediction with the references at every functional, not only its
        model's own (the GGA -> r2SCAN transfer).
    """

    name: str = "compare"
    cross_functional: bool = False

    def make(self, references: Any = None, predictions: Any = None) -> Job:
        """The compare job; it runs even when some of the jobs it is given failed.

        A reference or prediction job that raised reaches it as None
        (``on_missing_references="none"``, as the campaign's finish job): one crashed
        structure must not keep the others out of ``comparisons``. Arguments: those of
        :meth:`compare`.
        """
        compare = self.compare(references, predictions)
        compare.config.on_missing_references = OnMissing.NONE
        return compare

    @pesbench_job
    def compare(self, references: Any = None, predictions: Any = None) -> dict[str, int]:
        """Store what landed, update the comparisons; return the builders' counts.

        Parameters
        ----------
        references
            ``ReferenceDoc``s, in lists nested any depth (a reference set's output).
        predictions
            ``PredictionChunkDoc``s, one or a list.

        Returns
        -------
        dict[str, int]
            What :func:`~pesbench.stores.builders.build_comparisons` returns: the
            documents written per level (``structure``, ``material``).
        """
        refs = [reference_from_output(item) for item in _leaves(references)]
        preds = [doc for item in _leaves(predictions) for doc in _chunk(item).large_arrays]
        store_landed(refs, preds)
        return build_comparisons(cross_functional=self.cross_functional)


def store_landed(
    references: Sequence[ReferenceDoc],
    predictions: Sequence[PredictionDoc],
    settings: PesbenchSettings | None = None,
) -> None:
    """Store the results that reached the end of a Flow (idempotent).

    Their jobs stored them already, unless the database did not answer then; a stored
    success is kept as it is.
    """
    with ReferenceStore(settings) as store:
        store.store_results(references)
    with PredictionStore(settings) as pred_store:
        pred_store.store_results(predictions)


def _leaves(value: Any) -> Iterator[Any]:
    """The documents in ``value``: itself, or those of its (nested) lists; None skipped."""
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    elif value is not None:
        yield value


def _chunk(item: PredictionChunkDoc | dict[str, Any]) -> PredictionChunkDoc:
    """A prediction job's output, as the document or its serialised form."""
    if isinstance(item, PredictionChunkDoc):
        return item
    return PredictionChunkDoc.model_validate({k: v for k, v in item.items() if k[0] != "@"})
