"""MongoDB: the managed local server, connections, and the jobflow JobStore."""

from __future__ import annotations

from pesbench.stores.connection import database_uri, local_server, require_database
from pesbench.stores.jobstore import DATA_STORE, JOBS_COLLECTION, get_job_store
from pesbench.stores.server import LocalMongoServer, ServerState, find_mongod, free_port, ping

__all__ = [
    "DATA_STORE",
    "JOBS_COLLECTION",
    "LocalMongoServer",
    "ServerState",
    "database_uri",
    "find_mongod",
    "free_port",
    "get_job_store",
    "local_server",
    "ping",
    "require_database",
]
