"""maggma stores of the settings' database that never show or serialize its URI.

The URI may hold a password. maggma's ``MongoStore.name`` is the URI itself (it appears in
builder logs and errors) and ``as_dict`` keeps it (FireWorks specs, serialized builders):
these stores redact the first and leave the second out; loaded without a URI, they connect
to :func:`~pesbench.stores.connection.database_uri` of the loading process's settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from maggma.core import Store
from maggma.stores import GridFSStore, MongoStore

from pesbench.settings import redact_uri
from pesbench.stores.connection import database_uri

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
    """The job documents' ``MongoStore``; serialized without its URI."""


class SettingsGridFSStore(_UriFromSettings, GridFSStore):
    """The large arrays' ``GridFSStore``; serialized without its URI."""
