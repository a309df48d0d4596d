"""What the comparison builders share: the clean collections and a counting builder base.

:func:`collection_store` opens one of :data:`COLLECTION_KEYS`; :class:`_CountingBuilder`
turns each item into its document (a failed one when it raises: the build goes on, as in
maggma's ``MapBuilder``), stamps it with ``last_updated``, upserts JSON-ready documents by
``comparison_id`` and counts what it writes; :func:`run_builder` runs a builder serially.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from abc import abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar

import bson
from maggma.core import Builder, Store, StoreError
from maggma.utils import grouper
from pymongo import InsertOne, ReplaceOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, PyMongoError

from pesbench.memory import gc_paused
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import KEYS
from pesbench.stores.connection import database_uri
from pesbench.stores.mongo import SettingsMongoStore

__all__ = [
    "COLLECTION_KEYS",
    "COMPARISON_INDEXES",
    "FAILED",
    "LAST_UPDATED",
    "MAX_DOC_BYTES",
    "collection_store",
    "failed_item",
    "pair_campaigns",
    "run_builder",
    "unbound_store",
]

logger = logging.getLogger(__name__)

COLLECTION_KEYS = KEYS
"""The clean collections of DESIGN.md and the key of each."""


COMPARISON_INDEXES = (
    "level", "campaign", "campaigns", "structure_id", "model_id", "last_updated"
)  # fmt: skip
"""Non-unique indexes of ``comparisons``: what the builders and queries select by.

``campaign`` with ``campaigns``: a campaign's rows are selected by either
(:func:`~pesbench.stores.references.in_campaign`), and MongoDB serves an ``$or`` from
indexes only when every branch has one; without it, a report read every structure-level
row of every campaign."""

FAILED = "failed"
"""``status`` of a comparison whose item raised; its ``error`` says why. Readers skip it."""

LAST_UPDATED = "last_updated"
"""maggma's ``last_updated_field`` (its default, which the comparisons' store keeps)."""

_NOT_DATA = (PyMongoError, StoreError)
"""Errors of the database, not of an item's data: they stop the build (nothing is marked)."""

_DUPLICATE_KEY = 11000
"""MongoDB's error code of an insert whose ``comparison_id`` is stored already."""


MAX_DOC_BYTES = 15 * 1024 * 1024
"""Largest BSON document a builder writes (MongoDB refuses over 16 MiB)."""


def _members(doc: dict[str, Any]) -> set[str]:
    """Campaigns that asked for a reference or prediction (computed it or reused it)."""
    own = {doc["campaign"]} if doc.get("campaign") else set()
    return own | set(doc.get("campaigns") or [])


def pair_campaigns(ref: dict[str, Any], pred: dict[str, Any]) -> list[str]:
    """Campaigns of a (reference, prediction) comparison: those that asked for both.

    Results stored before campaigns were recorded on reuse may share none: then the
    campaign of the reference, else of the prediction.
    """
    both = _members(ref) & _members(pred)
    if both:
        return sorted(both)
    first = ref.get("campaign") or pred.get("campaign")
    return [first] if first else []


def collection_store(name: str, settings: PesbenchSettings | None = None) -> SettingsMongoStore:
    """A (not yet connected) maggma store of one of :data:`COLLECTION_KEYS`."""
    settings = settings or get_settings()
    return SettingsMongoStore(
        settings.db_name, name, uri=database_uri(settings), key=COLLECTION_KEYS[name]
    )


def unbound_store(name: str, settings: PesbenchSettings | None = None) -> SettingsMongoStore:
    """A store of one of :data:`COLLECTION_KEYS` without a URI (that of a builder file).

    It names the settings' database; it connects to the URI of the settings of the process
    that connects it (``mrun``'s), and starts no server before.
    """
    settings = settings or get_settings()
    return SettingsMongoStore(settings.db_name, name, key=COLLECTION_KEYS[name])


def _stamp(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _fit_size(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, or (over :data:`MAX_DOC_BYTES`) ``doc`` without its long lists, noted."""
    if len(bson.encode(doc)) <= MAX_DOC_BYTES:
        return doc
    trimmed = {**doc, "structure_ids": [], "properties": []}
    trimmed["notes"] = [*doc.get("notes", [])[:100], "lists dropped: document over 15 MiB"]
    return trimmed


class _CountingBuilder(Builder):
    """Writes one comparison per item, a failed one when it raises; counts what it writes.

    Subclasses yield items holding ``comparison_id``, ``source_stamp`` and ``ids`` (the
    fields a failed document keeps: what it compares), and build the document in
    :meth:`unary_function` (maggma's name). Each document gets ``last_updated``: the item's
    own (the material level: its newest member's), else the time it is built. They record
    the ``comparison_id`` of the documents stored when they gathered their items in
    ``stored_ids``: the others are inserted, not upserted (:meth:`update_targets`).
    """

    level: ClassVar[str]
    """``level`` of the documents written."""
    target: Store

    def __init__(self, sources: list[Store], target: Store, **kwargs: Any) -> None:
        self.target = target
        self.kwargs = kwargs  # maggma's own arguments (chunk_size): serialized by as_dict
        self.n_written = 0
        self.n_failed = 0
        # comparison_id of the target's documents when the items were gathered (None: not
        # known, every document is upserted)
        self.stored_ids: set[str] | None = None
        super().__init__(sources=sources, targets=[target], **kwargs)

    def connect(self) -> None:
        """Connect every store; index ``comparisons`` (each upsert looks its key up)."""
        super().connect()
        self.target.ensure_index("comparison_id", unique=True)
        for field in COMPARISON_INDEXES:
            self.target.ensure_index(field)

    @abstractmethod
    def unary_function(self, item: dict[str, Any]) -> dict[str, Any]:
        """The comparison document of ``item`` (JSON-ready dict)."""

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """The document of ``item``, or a failed one saying why: the build goes on.

        An item that raises (or that :func:`failed_item` marked while it was gathered) is
        logged and written with ``status: "failed"``, its ``error``, ``ids``, level and
        stamp: it is retried when its inputs change, not at every build.
        """
        error = item.get("error")
        doc = None
        if error is None:
            try:
                doc = self.unary_function(item)
            except Exception as exc:  # one bad item must not stop the build
                logger.exception("%s: comparison failed", item["comparison_id"])
                error = f"{type(exc).__name__}: {exc}"
        if doc is None:
            doc = {
                **item.get("ids", {}),
                "comparison_id": item["comparison_id"],
                "level": self.level,
                "source_stamp": item["source_stamp"],
                "status": FAILED,
                "error": error,
            }
        stamped = item["last_updated"] if "last_updated" in item else datetime.now(UTC)
        return doc | {LAST_UPDATED: stamped}

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Upsert the documents by ``comparison_id``.

        They are JSON-ready already (``model_dump(mode="json")``, and ``last_updated`` a
        date): written in one bulk write without maggma's per-document ``jsanitize`` (a
        quarter of a build's time), where the target is a MongoDB collection; through
        ``Store.update`` otherwise. A document whose ``comparison_id`` was not stored
        (``stored_ids``) is inserted, a quarter of an upsert's time for MongoDB; one stored
        since (a duplicate key) is then upserted.
        """
        docs = [_fit_size(item) for item in items if item]
        if not docs:
            return
        collection = getattr(self.target, "_collection", None)
        if isinstance(collection, Collection):
            stored = self.stored_ids
            try:
                collection.bulk_write(
                    [
                        _upsert(d)
                        if stored is None or d["comparison_id"] in stored
                        else InsertOne(dict(d))
                        for d in docs
                    ],
                    ordered=False,
                )
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if not errors or any(e.get("code") != _DUPLICATE_KEY for e in errors):
                    raise
                collection.bulk_write([_upsert(docs[e["index"]]) for e in errors], ordered=False)
        else:
            self.target.update(docs, key="comparison_id")
        self.n_written += len(docs)
        self.n_failed += sum(d.get("status") == FAILED for d in docs)


def _upsert(doc: dict[str, Any]) -> ReplaceOne:
    return ReplaceOne({"comparison_id": doc["comparison_id"]}, doc, upsert=True)


def failed_item(item: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """``item`` marked failed by ``exc``, raised while its inputs were gathered.

    Errors of the database itself are raised again: they say nothing of the item.
    """
    if isinstance(exc, _NOT_DATA):
        raise exc
    logger.error("%s: inputs unusable: %s", item["comparison_id"], exc)
    return item | {"error": f"{type(exc).__name__}: {exc}"}


def run_builder(builder: Builder) -> None:
    """Run ``builder`` serially, quietly (maggma's ``run`` reconfigures the root logger).

    The garbage collector is paused meanwhile and collects the young generation once a
    chunk (:mod:`pesbench.memory`): the pairing reads 10^5 documents' fields into dicts
    that live for the whole build, and the collector walking them again and again as
    each chunk's documents are built is time for nothing.
    """
    builder.connect()
    try:
        with gc_paused():
            for chunk in grouper(builder.get_items(), builder.chunk_size):
                builder.update_targets([builder.process_item(item) for item in chunk])
                gc.collect(0)  # a chunk's reference cycles, if any (cheap: young objects)
    finally:
        builder.finalize()
