"""The ``references`` collection: ReferenceDocs, one per ``reference_id``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from maggma.stores import MongoStore

from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri

__all__ = ["REFERENCES_COLLECTION", "ReferenceStore", "in_campaign", "reference_from_output"]

REFERENCES_COLLECTION = "references"
"""Collection of the DFT references (DESIGN.md's data model)."""


def in_campaign(campaign: str | Sequence[str]) -> dict[str, Any]:
    """Mongo criteria: the references, predictions or comparisons of ``campaign``.

    ``campaign`` is the campaign that computed a result; ``campaigns`` also lists those
    whose plan found it stored (documents stored before that was recorded have only
    ``campaign``). Several names: any of them.
    """
    names = {"$in": [campaign] if isinstance(campaign, str) else list(campaign)}
    return {"$or": [{"campaign": names}, {"campaigns": names}]}


class ReferenceStore:
    """Upsert and read reference documents; ``reference_id`` is unique.

    Parameters
    ----------
    settings
        Where MongoDB is (``db_uri``/``db_name``, or the managed local server).
    collection
        The collection name.

    Examples
    --------
    >>> with ReferenceStore() as refs:  # doctest: +SKIP
    ...     refs.upsert(docs)
    """

    key = "reference_id"

    def __init__(
        self, settings: PesbenchSettings | None = None, collection: str = REFERENCES_COLLECTION
    ) -> None:
        settings = settings or get_settings()
        self.store = MongoStore(
            settings.db_name, collection, uri=database_uri(settings), key=self.key
        )

    def __enter__(self) -> ReferenceStore:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and make sure of the unique index on ``reference_id``."""
        self.store.connect()
        self.store.ensure_index(self.key, unique=True)
        self.store.ensure_index("structure_id")

    def close(self) -> None:
        """Close the connection."""
        self.store.close()

    def upsert(self, docs: Iterable[ReferenceDoc]) -> int:
        """Insert or replace ``docs`` by ``reference_id``; returns how many were given.

        The same reference twice (same structure, functional and inputs) is stored once;
        the later document wins.
        """
        unique = {doc.reference_id: doc for doc in docs}
        if unique:
            self.store.update([_to_mongo(d) for d in unique.values()], key=self.key)
        return len(unique)

    def count(self, criteria: dict[str, Any] | None = None) -> int:
        """Documents matching a Mongo query."""
        return int(self.store.count(criteria or {}))

    def query(self, criteria: dict[str, Any] | None = None) -> Iterator[ReferenceDoc]:
        """Documents matching a Mongo query, as ReferenceDocs."""
        for raw in self.store.query(criteria or {}):
            raw.pop("_id", None)
            raw.pop(self.store.last_updated_field, None)
            yield ReferenceDoc.model_validate(raw)


def reference_from_output(output: dict[str, Any] | ReferenceDoc) -> ReferenceDoc:
    """A job output read back from the JobStore (jobflow adds ``@module``...) -> ReferenceDoc."""
    if isinstance(output, ReferenceDoc):
        return output
    return ReferenceDoc.model_validate({k: v for k, v in output.items() if not k.startswith("@")})


def _to_mongo(doc: ReferenceDoc) -> dict[str, Any]:
    data = doc.model_dump(mode="json")
    data["created_at"] = doc.created_at  # a BSON date, not a string
    return data
