"""Which MongoDB to use: the configured URI, or the managed local server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import MongoClient
from pymongo.collection import Collection

from pesbench.errors import DatabaseError
from pesbench.settings import PesbenchSettings, get_settings, redact_uri
from pesbench.stores.server import LocalMongoServer, find_mongod, ping

__all__ = ["database_uri", "local_server", "open_collection", "require_database"]


def local_server(settings: PesbenchSettings | None = None) -> LocalMongoServer:
    """The managed server of the settings' data directory (not started)."""
    settings = settings or get_settings()
    mongod = find_mongod(settings.mongod_path) if settings.mongod_path else None
    return LocalMongoServer(settings.mongodb_dir, mongod=mongod)


def database_uri(settings: PesbenchSettings | None = None, *, start: bool = True) -> str:
    """The MongoDB URI to connect to.

    Parameters
    ----------
    settings
        Defaults to :func:`~pesbench.settings.get_settings`.
    start
        With no ``db_uri`` configured, start the managed local server if it is not running.

    Raises
    ------
    DatabaseError
        When no URI is configured and the managed server neither runs nor may be started.
    """
    settings = settings or get_settings()
    if settings.db_uri:
        return settings.db_uri
    server = local_server(settings)
    state = server.start()[0] if start else server.status()
    if state is None:
        raise DatabaseError("the managed MongoDB server is not running: `pesbench db start`")
    return state.uri


def require_database(settings: PesbenchSettings | None = None, timeout_ms: int = 5000) -> str:
    """Return a URI that answers right now, starting the managed server if needed."""
    settings = settings or get_settings()
    uri = database_uri(settings)
    if ping(uri, timeout_ms=timeout_ms) is None:
        if settings.db_uri:
            fix = (
                "start that server or correct PESBENCH_DB_URI (unset it to use the managed "
                "local server); `pesbench db status` checks it"
            )
            where = "PESBENCH_DB_URI"
        else:
            fix = "`pesbench db stop` then `pesbench db start` restarts it (`pesbench db status`)"
            where = "the managed server"
        raise DatabaseError(
            f"the database at {redact_uri(uri)} ({where}) cannot be reached within "
            f"{timeout_ms / 1000:g} s: {fix}"
        )
    return uri


@contextmanager
def open_collection(name: str, settings: PesbenchSettings | None = None) -> Iterator[Collection]:
    """A pymongo collection of the configured database; the client closes on exit.

    For the raw operations maggma stores do not expose (``$addToSet``, ``bulk_write``).
    """
    settings = settings or get_settings()
    client: MongoClient = MongoClient(database_uri(settings))
    try:
        yield client[settings.db_name][name]
    finally:
        client.close()
