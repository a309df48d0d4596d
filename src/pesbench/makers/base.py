"""The package's job decorator, and how a job stores its results as they land."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from jobflow import job
from pydantic import BaseModel
from pymatgen.core.trajectory import Trajectory

from pesbench.errors import DatabaseError
from pesbench.memory import gc_paused
from pesbench.stores.typed import TypedStore

__all__ = ["DATA_OBJECTS", "STORE_RETRY_WAITS", "computed_once", "pesbench_job", "store_now"]

STORE_RETRY_WAITS = (1.0, 4.0, 15.0)
"""Seconds waited before each retry when the database does not answer (bounded back-off)."""

_log = logging.getLogger(__name__)
DocT = TypeVar("DocT", bound=BaseModel)

DATA_OBJECTS: list[Any] = [Trajectory, "large_arrays"]
"""What goes to the JobStore's GridFS store ``data`` instead of the docs store:
pymatgen Trajectories, and any output field named ``large_arrays``. Extend it here only."""


def pesbench_job(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Maker's ``make`` as a jobflow job whose large outputs go to GridFS.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from jobflow import Maker
    >>> @dataclass
    ... class EchoMaker(Maker):
    ...     name: str = "echo"
    ...
    ...     @pesbench_job
    ...     def make(self, value: float) -> float:
    ...         return value
    """
    return job(method, data=DATA_OBJECTS)


def store_now(store_type: type[TypedStore[Any]], docs: Sequence[BaseModel]) -> bool:
    """Store a job's results in their collection as soon as they are computed.

    Idempotent (:meth:`~pesbench.stores.typed.TypedStore.store_results`: a stored success
    is kept, a stored failure replaced), so that ``status``, ``query`` and ``report`` see
    results mid-campaign and a crash after this point loses nothing. A database that does
    not answer is retried after each of :data:`STORE_RETRY_WAITS`; if it still does not,
    the job goes on with a warning (its output keeps the results, and the campaign's finish
    job stores them).

    Returns
    -------
    bool
        Whether they were stored.
    """
    from pymongo.errors import PyMongoError

    for wait in (*STORE_RETRY_WAITS, None):
        try:
            with store_type() as store, gc_paused():  # acyclic dicts (pesbench.memory)
                store.store_results(docs)
            return True
        except (PyMongoError, DatabaseError) as exc:
            if wait is None:
                _log.warning(
                    "could not store %d result(s) in %s now (%s: %s); the campaign's finish "
                    "job stores them",
                    len(docs),
                    store_type.collection,
                    type(exc).__name__,
                    str(exc)[:200],
                )
                return False
            time.sleep(wait)
    return False


def computed_once(
    store_type: type[TypedStore[Any]],
    key: str,
    run: Callable[[], DocT],
    campaign: str | None = None,
) -> DocT:
    """``run()`` unless the result ``key`` is stored, or being computed by another worker.

    Under the claim on ``key`` (:func:`pesbench.stores.claims.compute_once`): a success
    stored already, or landed meanwhile from another worker, is returned (``campaign``
    recorded among its ``campaigns``) and nothing is computed. A database that cannot be
    reached before the run starts does not stop the work: it runs unclaimed (with a
    warning); one that fails after the run is never a reason to run again.
    """
    from pymongo.errors import PyMongoError

    from pesbench.stores.claims import compute_once

    ran: list[DocT] = []

    def stored() -> DocT | None:
        with store_type() as store:
            doc = store.get(key)
            if doc is None or getattr(doc, "status", None) != "success":
                return None
            if campaign is not None:
                store.add_campaign([key], campaign)
            return doc

    def once() -> DocT:
        ran.append(run())
        return ran[0]

    try:
        doc, _ = compute_once(key, once, stored)
        return doc
    except (PyMongoError, DatabaseError) as exc:
        if ran:
            return ran[0]
        _log.warning("no claim on %s (%s: %s); computing unclaimed", key, type(exc).__name__, exc)
        return run()
