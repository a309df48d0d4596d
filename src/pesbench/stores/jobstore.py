"""The jobflow ``JobStore``: a MongoDB docs store plus a GridFS store for large arrays."""

from __future__ import annotations

from jobflow import JobStore
from maggma.stores import GridFSStore, MongoStore

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri

__all__ = ["DATA_STORE", "JOBS_COLLECTION", "get_job_store"]

JOBS_COLLECTION = "jobs"
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
        to use it by hand).
    """
    settings = settings or get_settings()
    uri = database_uri(settings, start=start)
    docs = MongoStore(settings.db_name, collection, uri=uri, key="uuid")
    data = GridFSStore(settings.db_name, f"{collection}_{DATA_STORE}", uri=uri, compression=True)
    return JobStore(docs, additional_stores={DATA_STORE: data})
