"""Atomic claims on natural keys: two workers never compute the same result at once.

Before a job computes a result (a reference, say), it claims the result's key in the
``claims`` collection: an insert under a unique index, which exactly one worker wins. The
winner renews its lease while it works (a heartbeat thread) and releases the claim when it
is done; a worker that dies stops renewing, and once the lease has run out another worker
takes the claim over (an atomic find-and-update on the expired claim); a claim whose owner
was a process of this machine that no longer runs is taken over at once. A worker that
loses waits for the winner's result to land in its collection, or for the claim to fall
free.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from pymongo.errors import DuplicateKeyError

from pesbench.settings import PesbenchSettings
from pesbench.stores.collections import CLAIMS
from pesbench.stores.connection import open_collection

__all__ = ["CLAIMS_COLLECTION", "LEASE_S", "ClaimLost", "claim", "compute_once"]

CLAIMS_COLLECTION = CLAIMS
LEASE_S = 120.0
"""Seconds a claim lasts without renewal: how long the claim of a worker that died on
another machine blocks the key (one that died on this machine is taken over at once)."""
_POLL_S = 5.0

T = TypeVar("T")


class ClaimLost(RuntimeError):
    """The claim could not be taken (another live worker holds it)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _try_claim(collection: Any, key: str, owner: str, lease_s: float) -> bool:
    now = _now()
    doc = {
        "key": key,
        "owner": owner,
        "claimed_at": now,
        "expires_at": now + timedelta(seconds=lease_s),
    }
    try:
        collection.insert_one(dict(doc))  # insert_one adds an _id to what it is given
        return True
    except DuplicateKeyError:
        pass
    taken = collection.find_one_and_update({"key": key, "expires_at": {"$lt": now}}, {"$set": doc})
    if taken is not None:
        return True
    held = collection.find_one({"key": key}, {"owner": 1})
    if held is not None and _dead_here(str(held.get("owner", ""))):
        # its worker died on this machine: no need to wait for the lease to run out
        taken = collection.find_one_and_update({"key": key, "owner": held["owner"]}, {"$set": doc})
        return taken is not None
    return False


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:tag``) is a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    try:  # a zombie has exited: its claim is dead too
        return Path(f"/proc/{pid_text}/stat").read_text().split()[2] == "Z"
    except (OSError, IndexError):
        return False


@contextmanager
def claim(
    key: str,
    settings: PesbenchSettings | None = None,
    *,
    lease_s: float = LEASE_S,
) -> Iterator[bool]:
    """Hold the claim on ``key`` inside the ``with`` block, if it can be had now.

    Yields
    ------
    bool
        True: this worker holds the claim (renewed every third of the lease, released at
        the end); False: another live worker holds it.
    """
    owner = _owner()
    with open_collection(CLAIMS_COLLECTION, settings) as collection:
        collection.create_index("key", unique=True)
        if not _try_claim(collection, key, owner, lease_s):
            yield False
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(lease_s / 3):
                collection.update_one(
                    {"key": key, "owner": owner},
                    {"$set": {"expires_at": _now() + timedelta(seconds=lease_s)}},
                )

        heartbeat = threading.Thread(target=renew, name=f"claim {key}", daemon=True)
        heartbeat.start()
        try:
            yield True
        finally:
            stop.set()
            heartbeat.join()
            collection.delete_one({"key": key, "owner": owner})


def compute_once(
    key: str,
    compute: Callable[[], T],
    stored: Callable[[], T | None],
    settings: PesbenchSettings | None = None,
    *,
    lease_s: float = LEASE_S,
    poll_s: float = _POLL_S,
) -> tuple[T, bool]:
    """``compute()`` under the claim on ``key``, unless another worker computes it.

    Parameters
    ----------
    key
        The result's natural key (e.g. a reference_id).
    compute
        Computes (and stores) the result; called at most once, holding the claim.
    stored
        The stored result if it is there and final (a success), else None.

    Returns
    -------
    tuple
        The result, and whether this call computed it (False: it was stored, or another
        worker computed it meanwhile).
    """
    while True:
        found = stored()
        if found is not None:
            return found, False
        with claim(key, settings, lease_s=lease_s) as mine:
            if mine:
                found = stored()  # it may have landed between the look and the claim
                if found is not None:
                    return found, False
                return compute(), True
        time.sleep(poll_s)  # another worker holds it: wait for its result or its lease
