"""Claims on natural keys: one holder at a time, renewed while held, taken over when dead."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from pymongo import MongoClient

from pesbench.settings import PesbenchSettings
from pesbench.stores.claims import claim, compute_once


def _claims(settings: PesbenchSettings) -> list[dict]:
    with MongoClient(settings.db_uri) as client:
        return list(client[settings.db_name].claims.find({}, {"_id": 0}))


def test_one_holder_renewed_and_released(db_settings: PesbenchSettings) -> None:
    with claim("k", lease_s=0.6) as first:
        assert first
        with claim("k", lease_s=0.6) as second:
            assert not second  # a live holder keeps it
        [held] = _claims(db_settings)
        time.sleep(1.0)  # beyond the lease: the heartbeat renewed it
        [renewed] = _claims(db_settings)
        assert renewed["expires_at"] > held["expires_at"]
        with claim("k", lease_s=0.6) as third:
            assert not third
    assert _claims(db_settings) == []  # released


def test_a_dead_workers_claim_is_taken_over(db_settings: PesbenchSettings) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    with MongoClient(db_settings.db_uri) as client:
        claims = client[db_settings.db_name].claims
        claims.create_index("key", unique=True)
        claims.insert_one({"key": "k", "owner": "dead:1:x", "expires_at": past})
    calls: list[int] = []
    result, computed = compute_once("k", lambda: calls.append(1) or "done", lambda: None)
    assert (result, computed, calls) == ("done", True, [1])
    assert _claims(db_settings) == []


def test_a_stored_result_is_not_computed(db_settings: PesbenchSettings) -> None:
    result, computed = compute_once("k", lambda: "again", lambda: "stored")
    assert (result, computed) == ("stored", False)


def test_the_claim_of_a_dead_process_here_is_taken_at_once(
    db_settings: PesbenchSettings,
) -> None:
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that ran here and exited
    future = datetime.now(UTC) + timedelta(hours=1)  # its lease still runs
    with MongoClient(db_settings.db_uri) as client:
        claims = client[db_settings.db_name].claims
        claims.create_index("key", unique=True)
        owner = f"{socket.gethostname()}:{dead.pid}:x"
        claims.insert_one({"key": "k", "owner": owner, "expires_at": future})
        claims.insert_one({"key": "live", "owner": "other-host:1:x", "expires_at": future})
    with claim("k") as mine:
        assert mine
    with claim("live") as mine:
        assert not mine  # another machine's: its lease decides
