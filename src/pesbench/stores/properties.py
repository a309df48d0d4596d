"""The ``relaxations``, ``properties`` and ``property_sets`` collections.

- ``relaxations``: one :class:`~pesbench.schemas.relaxation.RelaxationDoc` per
  ``relaxation_id``. Its frames go to a GridFS bucket of the same name when they are
  large (a 200-atom slab relaxed in 500 steps would pass MongoDB's 16 MB limit); the
  document then keeps ``frames_file`` and reads them back transparently. The store is the
  sides' :class:`~pesbench.properties.sides.RelaxationCache`: a relaxation is looked up
  before it runs and stored as soon as it finishes.
- ``properties``: one :class:`~pesbench.schemas.property.PropertyDoc` per ``property_id``.
- ``property_sets``: one :class:`~pesbench.schemas.property.PropertySetDoc` per
  calculation (category, bulk, side, parameters, thresholds), with the relaxations
  replaced by their ids: what a rerun finds instead of computing again.
"""

from __future__ import annotations

from typing import Any

from maggma.core import Store

from pesbench.schemas.property import PropertyDoc, PropertySetDoc
from pesbench.schemas.relaxation import RelaxationDoc, RelaxFrames
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import PROPERTIES, PROPERTY_SETS, RELAXATIONS
from pesbench.stores.connection import database_uri, open_collection
from pesbench.stores.mongo import SettingsGridFSStore
from pesbench.stores.typed import TypedStore

__all__ = [
    "FRAMES_INLINE_VALUES",
    "PROPERTIES_COLLECTION",
    "PROPERTY_SETS_COLLECTION",
    "RELAXATIONS_COLLECTION",
    "PropertySetStore",
    "PropertyStore",
    "RelaxationStore",
    "join_property_set",
    "save_property_set",
]

RELAXATIONS_COLLECTION = RELAXATIONS
PROPERTIES_COLLECTION = PROPERTIES
PROPERTY_SETS_COLLECTION = PROPERTY_SETS
FRAMES_INLINE_VALUES = 200_000
"""Frames with more numbers than this (about 4 MB of BSON) go to GridFS."""


class RelaxationStore(TypedStore[RelaxationDoc]):
    """Relaxations by ``relaxation_id``; large frames in a maggma ``GridFSStore``.

    Parameters
    ----------
    settings, collection, store
        As :class:`~pesbench.stores.typed.TypedStore`.
    frames_store
        Where large frames go (default: the GridFS bucket ``relaxations`` of the
        settings' database).
    """

    doc_type = RelaxationDoc
    collection = RELAXATIONS_COLLECTION
    key = "relaxation_id"
    indexes = ("structure_id", "side_key", "campaigns")

    def __init__(
        self,
        settings: PesbenchSettings | None = None,
        collection: str | None = None,
        *,
        store: Store | None = None,
        frames_store: Store | None = None,
    ) -> None:
        super().__init__(settings, collection, store=store)
        if frames_store is None:
            settings = settings or get_settings()
            frames_store = SettingsGridFSStore(
                settings.db_name,
                collection or self.collection,
                uri=database_uri(settings),
                key=self.key,
            )
        self.frames_store = frames_store

    def connect(self) -> None:
        """Connect both stores."""
        super().connect()
        self.frames_store.connect()

    def close(self) -> None:
        """Close both stores."""
        super().close()
        self.frames_store.close()

    def to_mongo(self, doc: RelaxationDoc) -> dict[str, Any]:
        """The stored form; frames moved to the frames store when large."""
        data = super().to_mongo(doc)
        frames = data["frames"]
        size = sum(len(forces) * 6 + 10 for forces in frames["forces"])
        if size > FRAMES_INLINE_VALUES:
            self.frames_store.update([{self.key: doc.relaxation_id, "frames": frames}])
            data["frames"] = RelaxFrames().model_dump()
            data["frames_file"] = doc.relaxation_id
        return data

    def from_mongo(self, raw: dict[str, Any]) -> RelaxationDoc:
        """The document, its frames read back from the frames store when they are there."""
        file_id = raw.pop("frames_file", None)
        if file_id is not None:
            stored = self.frames_store.query_one({self.key: file_id})
            if stored is None:
                raise LookupError(f"relaxation {file_id}: frames missing from the frames store")
            raw["frames"] = stored["frames"]
        return super().from_mongo(raw)

    def put(self, doc: RelaxationDoc) -> None:
        """Store one relaxation (the sides' cache interface)."""
        self.upsert([doc])


class PropertyStore(TypedStore[PropertyDoc]):
    """Property values by ``property_id``."""

    doc_type = PropertyDoc
    collection = PROPERTIES_COLLECTION
    key = "property_id"
    indexes = ("property_set_id", "material", "category", "side_kind", "campaigns")


class PropertySetStore(TypedStore[PropertySetDoc]):
    """Property calculations by ``property_set_id`` (relaxations as ids only)."""

    doc_type = PropertySetDoc
    collection = PROPERTY_SETS_COLLECTION
    key = "property_set_id"
    indexes = ("material", "category", "side_key", "campaigns")

    def to_mongo(self, doc: PropertySetDoc) -> dict[str, Any]:
        """The stored form: relaxations replaced by ``relaxation_ids``."""
        data = super().to_mongo(doc)
        data["relaxations"] = []
        data["relaxation_ids"] = [r.relaxation_id for r in doc.relaxations]
        return data

    def from_mongo(self, raw: dict[str, Any]) -> PropertySetDoc:
        """The calculation (without its relaxations: read them by ``relaxation_ids``)."""
        raw.pop("relaxation_ids", None)
        return super().from_mongo(raw)


def join_property_set(
    doc: PropertySetDoc, campaign: str, settings: PesbenchSettings | None = None
) -> None:
    """Record that ``campaign`` reuses a stored calculation: its set, values, relaxations."""
    settings = settings or get_settings()
    join = {"$addToSet": {"campaigns": campaign}}
    with open_collection(PROPERTY_SETS_COLLECTION, settings) as sets:
        stored = sets.find_one_and_update({"property_set_id": doc.property_set_id}, join)
    with open_collection(PROPERTIES_COLLECTION, settings) as values:
        values.update_many({"property_set_id": doc.property_set_id}, join)
    ids = (stored or {}).get("relaxation_ids", [])
    with open_collection(RELAXATIONS_COLLECTION, settings) as relaxations:
        relaxations.update_many({"relaxation_id": {"$in": ids}}, join)


def save_property_set(doc: PropertySetDoc, settings: PesbenchSettings | None = None) -> None:
    """Store a calculation, its values and (when new) its relaxations."""
    settings = settings or get_settings()
    with RelaxationStore(settings) as relaxations:
        relaxations.upsert(doc.relaxations)
    with PropertyStore(settings) as properties:
        properties.upsert(doc.properties)
    with PropertySetStore(settings) as sets:
        sets.upsert([doc])
