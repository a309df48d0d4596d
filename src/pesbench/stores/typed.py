"""One typed store per collection: pydantic documents in, pydantic documents out.

:class:`TypedStore` wraps a maggma ``MongoStore`` (any maggma Store may be passed instead,
as quacc's ``STORE`` setting does), keyed by the document's natural key with a unique
index, and is used as ``with store:``. Subclasses name the document type, the collection
and the key once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from maggma.core import Store
from pydantic import BaseModel

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri
from pesbench.stores.mongo import SettingsMongoStore

__all__ = ["TypedStore", "stored_form"]

DocT = TypeVar("DocT", bound=BaseModel)


def stored_form(doc: BaseModel) -> dict[str, Any]:
    """The stored form of a document: its JSON dump, ``created_at`` kept a BSON date."""
    data = doc.model_dump(mode="json")
    if "created_at" in data:
        data["created_at"] = doc.created_at  # type: ignore[attr-defined]
    return data


class TypedStore(Generic[DocT]):
    """Upsert and read one kind of document; its key is unique.

    Parameters
    ----------
    settings
        Where MongoDB is (``db_uri``/``db_name``, or the managed local server).
    collection
        The collection name (default: the class's).
    store
        A maggma Store to use instead of the settings' MongoDB.
    """

    doc_type: ClassVar[type[BaseModel]]
    collection: ClassVar[str]
    key: ClassVar[str]
    indexes: ClassVar[tuple[str, ...]] = ()
    """Further (non-unique) indexes."""

    def __init__(
        self,
        settings: PesbenchSettings | None = None,
        collection: str | None = None,
        *,
        store: Store | None = None,
    ) -> None:
        if store is None:
            settings = settings or get_settings()
            store = SettingsMongoStore(
                settings.db_name,
                collection or self.collection,
                uri=database_uri(settings),
                key=self.key,
            )
        self.store = store

    def __enter__(self) -> TypedStore[DocT]:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and make sure of the indexes."""
        self.store.connect()
        self.store.ensure_index(self.key, unique=True)
        for name in self.indexes:
            self.store.ensure_index(name)

    def close(self) -> None:
        """Close the connection."""
        self.store.close()

    def upsert(self, docs: Iterable[DocT]) -> int:
        """Insert or replace ``docs`` by key (the later of two equal keys wins); how many."""
        unique = {getattr(doc, self.key): doc for doc in docs}
        if unique:
            self.store.update([self.to_mongo(d) for d in unique.values()], key=self.key)
        return len(unique)

    def count(self, criteria: dict[str, Any] | None = None) -> int:
        """Documents matching a Mongo query."""
        return int(self.store.count(criteria or {}))

    def query(self, criteria: dict[str, Any] | None = None) -> Iterator[DocT]:
        """Documents matching a Mongo query, as documents."""
        for raw in self.store.query(criteria or {}):
            yield self.from_mongo(raw)

    def get(self, key: str) -> DocT | None:
        """The document whose key is ``key``, or None."""
        raw = self.store.query_one({self.key: key})
        return None if raw is None else self.from_mongo(raw)

    def to_mongo(self, doc: DocT) -> dict[str, Any]:
        """The stored form of ``doc`` (:func:`stored_form`)."""
        return stored_form(doc)

    def from_mongo(self, raw: dict[str, Any]) -> DocT:
        """A stored document back as its type."""
        raw = {k: v for k, v in raw.items() if k not in ("_id", self.store.last_updated_field)}
        return self.doc_type.model_validate(raw)  # type: ignore[return-value]

    def store_results(self, docs: Iterable[DocT]) -> int:
        """Store computed results as they land: insert, or replace only a failed one.

        A successful document is final (its key names the same inputs, so the same
        result): it is never replaced, so storing it again (the job, then the campaign's
        finish job; or two workers) changes nothing and keeps what was recorded on it since
        (the ``campaigns`` that reuse it). A stored failure is replaced by the new document.

        Returns
        -------
        int
            Documents written (inserted or replacing a failure).
        """
        from pymongo import ReplaceOne
        from pymongo.errors import BulkWriteError

        unique = {getattr(doc, self.key): doc for doc in docs}
        if not unique:
            return 0
        now = datetime.now(UTC)
        requests = [
            ReplaceOne(
                {self.key: key, "status": {"$ne": "success"}},
                {**self.to_mongo(doc), self.store.last_updated_field: now},
                upsert=True,
            )
            for key, doc in unique.items()
        ]
        collection = self.store._collection  # maggma's pymongo collection (connected)
        try:
            result = collection.bulk_write(requests, ordered=False)
        except BulkWriteError as exc:  # a success already stored: the upsert hit the key
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != 11000 for error in errors):
                raise
            done = exc.details.get("nUpserted", 0) + exc.details.get("nModified", 0)
            return int(done)
        return int(result.upserted_count + result.modified_count)

    def add_campaign(self, keys: Iterable[str], campaign: str) -> None:
        """Record that ``campaign`` reuses the stored documents ``keys`` (``campaigns``)."""
        self.store._collection.update_many(
            {self.key: {"$in": list(keys)}}, {"$addToSet": {"campaigns": campaign}}
        )
