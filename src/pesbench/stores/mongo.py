"""maggma stores of the settings' database that never show or serialize its URI.

The URI may hold a password. maggma's ``MongoStore.name`` is the URI itself (it appears in
builder logs and errors) and ``as_dict`` keeps it (FireWorks specs, serialized builders):
these stores redact the first and leave the second out; loaded without a URI, they connect
to :func:`~pesbench.stores.connection.database_uri` of the loading process's settings.
They connect through the process's shared client
(:func:`~pesbench.stores.connection.mongo_client`), and ``close`` lets go of it without
closing it (maggma's closes the client, which pymongo cannot reopen).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gridfs
from maggma.core import Store
from maggma.stores import GridFSStore, MongoStore

from pesbench.settings import redact_uri
from pesbench.stores.connection import database_uri, mongo_client

__all__ = ["IN_CHUNK", "SettingsGridFSStore", "SettingsMongoStore", "query_in"]

IN_CHUNK = 20_000
"""Values per ``$in`` query: one query of 10^6 structure ids would pass MongoDB's 16 MB."""


def query_in(
    store: Store,
    field: str,
    values: list[str],
    properties: list[str],
    criteria: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Documents of ``store`` whose ``field`` is one of ``values``, :data:`IN_CHUNK` at a time."""
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        yield from store.query({**(criteria or {}), field: {"$in": chunk}}, properties=properties)


class _UriFromSettings(Store):
    """Serialized without ``uri``; loaded so, connects to the settings' database URI."""

    uri: str | None
    database: str
    collection_name: str

    def connect(self, force_reset: bool = False) -> None:
        """Connect, to :func:`~pesbench.stores.connection.database_uri` if no URI is set."""
        if self.uri is None:
            self.uri = database_uri()
        super().connect(force_reset=force_reset)  # type: ignore[safe-super]  # next in MRO

    @property
    def name(self) -> str:
        """The URI, password redacted (``settings`` before it connects), and the collection."""
        return f"{redact_uri(self.uri or 'settings')} {self.database}.{self.collection_name}"

    def as_dict(self) -> dict[str, Any]:
        """The monty dict of the store, ``uri`` left out."""
        return {**super().as_dict(), "uri": None}


class SettingsMongoStore(_UriFromSettings, MongoStore):
    """A collection's ``MongoStore`` on the shared client; serialized without its URI."""

    def connect(self, force_reset: bool = False) -> None:
        """Connect through the process's shared client of the URI."""
        if self.uri is None:
            self.uri = database_uri()
        if self._coll is None or force_reset:
            client = mongo_client(self.uri) if not self.mongoclient_kwargs else None
            if client is None:  # own client options: maggma's own client
                MongoStore.connect(self, force_reset=force_reset)
                return
            self._coll = client[self.database][self.collection_name]  # type: ignore[assignment]

    def close(self) -> None:
        """Let go of the collection; the shared client stays open for the process."""
        if self.mongoclient_kwargs and self._coll is not None:
            MongoStore.close(self)
        self._coll = None


class SettingsGridFSStore(_UriFromSettings, GridFSStore):
    """A GridFS bucket's ``GridFSStore`` on the shared client; serialized without its URI."""

    def connect(self, force_reset: bool = False) -> None:
        """Connect through the process's shared client of the URI (as maggma's connect)."""
        if self.uri is None:
            self.uri = database_uri()
        if not self._coll or force_reset:
            db = mongo_client(self.uri)[self.database]
            self._coll = gridfs.GridFS(db, self.collection_name)
            self._files_collection = db[f"{self.collection_name}.files"]
            files = MongoStore.from_collection(self._files_collection)
            files.last_updated_field = f"metadata.{self.last_updated_field}"
            files.key = self.key
            self._fs = files
            self._chunks_collection = db[f"{self.collection_name}.chunks"]

    def close(self) -> None:
        """Let go of the bucket; the shared client stays open for the process."""
        self._coll = None
