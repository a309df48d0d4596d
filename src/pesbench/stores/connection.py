"""Which MongoDB to use (the configured URI, or the managed local server), and one client.

Every connection of a process to one URI goes through one ``MongoClient``
(:func:`mongo_client`): pymongo's client is a thread-safe connection pool with its own
monitor threads, meant to be made once per process, not per query. The stores of
:mod:`pesbench.stores.mongo`, :func:`open_collection` and the typed stores all use it; a
forked child makes its own (a client is not fork-safe).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo import MongoClient
from pymongo.collection import Collection

from pesbench.errors import DatabaseError
from pesbench.settings import PesbenchSettings, get_settings, redact_uri
from pesbench.stores.server import LocalMongoServer, find_mongod, ping

__all__ = [
    "close_clients",
    "database_uri",
    "local_server",
    "mongo_client",
    "open_collection",
    "require_database",
]

_clients: dict[tuple[int, str], MongoClient] = {}
_clients_lock = threading.Lock()


def mongo_client(uri: str) -> MongoClient:
    """The client of ``uri`` for this process, made on first use and shared from then on.

    Never close it yourself (a closed pymongo client cannot be used again):
    :func:`close_clients` does when the managed server stops. At exit nothing closes it
    (its threads are daemons): closing a client of a server gone meanwhile can wait for
    server selection.
    """
    key = (os.getpid(), uri)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for other in [k for k in _clients if k[0] != key[0]]:
                del _clients[other]  # inherited through fork: the parent's, never used here
            client = _clients[key] = MongoClient(uri)
        return client


def close_clients(uri: str | None = None) -> int:
    """Close this process's shared clients (of ``uri`` only, when given); how many."""
    with _clients_lock:
        keys = [k for k in _clients if k[0] == os.getpid() and uri in (None, k[1])]
        clients = [_clients.pop(k) for k in keys]
    for client in clients:
        client.close()
    return len(clients)


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
    """A pymongo collection of the configured database, on the process's shared client.

    For the raw operations maggma stores do not expose (``$addToSet``, ``bulk_write``).
    ``name``: one of :mod:`pesbench.stores.collections`.
    """
    settings = settings or get_settings()
    yield mongo_client(database_uri(settings))[settings.db_name][name]
