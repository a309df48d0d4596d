"""The jobflow ``JobStore``: a MongoDB docs store plus a GridFS store for large arrays.

A FireWorks job carries its store, serialized, in its spec (the ``fireworks`` and
``launches`` collections, each launch folder's ``FW.json``). The stores here serialize their
database and collection but never the URI, which may hold a password: the worker that loads
one connects with its own settings, as every other collection of a job does.
"""

from __future__ import annotations

from jobflow import JobStore

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import JOBS
from pesbench.stores.connection import database_uri
from pesbench.stores.mongo import SettingsGridFSStore, SettingsMongoStore

__all__ = [
    "DATA_STORE",
    "JOBS_COLLECTION",
    "SettingsGridFSStore",
    "SettingsMongoStore",
    "get_job_store",
]

JOBS_COLLECTION = JOBS
"""Collection of the jobflow job outputs (the ``docs_store``)."""

DATA_STORE = "data"
"""Name of the additional store for large arrays: ``@job(data="forces")`` sends there."""


def get_job_store(
    settings: PesbenchSettings | None = None,
    *,
    collection: str = JOBS_COLLECTION,
    start: bool = True,
) -> JobStore:
    """Build the ``JobStore`` the pipeline writes job outputs to.

    Parameters
    ----------
    settings
        Defaults to :func:`~pesbench.settings.get_settings`; ``db_uri`` and ``db_name``
        say where the collections live (the managed local server when ``db_uri`` is unset).
    collection
        The docs collection; the GridFS store is ``<collection>_data``.
    start
        Start the managed local server when it is the one used and is not running.

    Returns
    -------
    JobStore
        Not connected yet: jobflow connects it when it runs a flow (``store.connect()``
        to use it by hand). Serialized (a FireWorks spec), it holds no URI: see the module.
    """
    settings = settings or get_settings()
    uri = database_uri(settings, start=start)
    docs = SettingsMongoStore(settings.db_name, collection, uri=uri, key="uuid")
    data = SettingsGridFSStore(
        settings.db_name, f"{collection}_{DATA_STORE}", uri=uri, compression=True
    )
    return JobStore(docs, additional_stores={DATA_STORE: data})
