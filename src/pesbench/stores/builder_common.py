"""What the comparison builders share: the clean collections and a counting builder base.

:func:`collection_store` opens one of :data:`COLLECTION_KEYS`; :class:`_CountingBuilder`
upserts JSON-ready documents by ``comparison_id`` and counts what it writes;
:func:`run_builder` runs a builder serially.
"""

from __future__ import annotations

import hashlib
from typing import Any

import bson
from maggma.core import Builder, Store
from maggma.utils import grouper
from pymongo import ReplaceOne
from pymongo.collection import Collection

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri
from pesbench.stores.mongo import SettingsMongoStore

__all__ = [
    "COLLECTION_KEYS",
    "COMPARISON_INDEXES",
    "MAX_DOC_BYTES",
    "collection_store",
    "pair_campaigns",
    "run_builder",
]

COLLECTION_KEYS = {
    "structures": "structure_id",
    "references": "reference_id",
    "predictions": "prediction_id",
    "comparisons": "comparison_id",
    "relaxations": "relaxation_id",
}
"""The clean collections of DESIGN.md and the key of each."""


COMPARISON_INDEXES = ("level", "campaigns", "structure_id", "model_id")
"""Non-unique indexes of ``comparisons``: what the builders and queries select by."""


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
    """Counts the documents it writes (``n_written``), so a rerun can be checked."""

    target: Store

    def __init__(self, sources: list[Store], target: Store, **kwargs: Any) -> None:
        self.target = target
        self.n_written = 0
        super().__init__(sources=sources, targets=[target], **kwargs)

    def connect(self) -> None:
        """Connect every store; index ``comparisons`` (each upsert looks its key up)."""
        super().connect()
        self.target.ensure_index("comparison_id", unique=True)
        for field in COMPARISON_INDEXES:
            self.target.ensure_index(field)

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Upsert the documents by ``comparison_id``.

        They are JSON-ready already (``model_dump(mode="json")``): written in one bulk write
        without maggma's per-document ``jsanitize`` (a quarter of a build's time), where the
        target is a MongoDB collection; through ``Store.update`` otherwise.
        """
        docs = [_fit_size(item) for item in items if item]
        if not docs:
            return
        collection = getattr(self.target, "_collection", None)
        if isinstance(collection, Collection):
            collection.bulk_write(
                [ReplaceOne({"comparison_id": d["comparison_id"]}, d, upsert=True) for d in docs],
                ordered=False,
            )
        else:
            self.target.update(docs, key="comparison_id")
        self.n_written += len(docs)


def run_builder(builder: Builder) -> None:
    """Run ``builder`` serially, quietly (maggma's ``run`` reconfigures the root logger)."""
    builder.connect()
    try:
        for chunk in grouper(builder.get_items(), builder.chunk_size):
            builder.update_targets([builder.process_item(item) for item in chunk])
    finally:
        builder.finalize()
