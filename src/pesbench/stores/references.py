"""The ``references`` collection: ReferenceDocs, one per ``reference_id``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pesbench.schemas.reference import ReferenceDoc
from pesbench.stores.collections import REFERENCES
from pesbench.stores.typed import TypedStore

__all__ = ["REFERENCES_COLLECTION", "ReferenceStore", "in_campaign", "reference_from_output"]

REFERENCES_COLLECTION = REFERENCES
"""Collection of the DFT references (DESIGN.md's data model)."""


def in_campaign(campaign: str | Sequence[str]) -> dict[str, Any]:
    """Mongo criteria: the references, predictions or comparisons of ``campaign``.

    ``campaign`` is the campaign that computed a result; ``campaigns`` also lists those
    whose plan found it stored (documents stored before that was recorded have only
    ``campaign``). Several names: any of them.
    """
    names = {"$in": [campaign] if isinstance(campaign, str) else list(campaign)}
    return {"$or": [{"campaign": names}, {"campaigns": names}]}


class ReferenceStore(TypedStore[ReferenceDoc]):
    """The ``references`` collection: one ReferenceDoc per ``reference_id``.

    The same reference twice (same structure, functional and inputs) is stored once; the
    later document wins.

    Examples
    --------
    >>> with ReferenceStore() as refs:  # doctest: +SKIP
    ...     refs.upsert(docs)
    """

    doc_type = ReferenceDoc
    collection = REFERENCES_COLLECTION
    key = "reference_id"
    indexes = ("structure_id",)


def reference_from_output(output: dict[str, Any] | ReferenceDoc) -> ReferenceDoc:
    """A job output read back from the JobStore (jobflow adds ``@module``...) -> ReferenceDoc."""
    if isinstance(output, ReferenceDoc):
        return output
    return ReferenceDoc.model_validate({k: v for k, v in output.items() if not k.startswith("@")})
