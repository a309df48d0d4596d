from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from pesbench.errors import DatabaseError
from pesbench.stores import LocalMongoServer, find_mongod, ping
from pesbench.stores.server import port_is_free


@pytest.fixture
def server(tmp_path: Path, mongod_binary: Path):
    srv = LocalMongoServer(tmp_path / "mongodb", mongod=mongod_binary)
    yield srv
    srv.stop()


def test_lifecycle_keeps_one_server_and_its_data(server: LocalMongoServer) -> None:
    assert server.status() is None
    first, started = server.start()
    assert started
    assert first.uri == f"mongodb://127.0.0.1:{first.port}/"
    assert ping(first.uri) is not None

    again, started_again = server.start()
    assert not started_again
    assert again == first  # idempotent: same PID, same port

    recorded = json.loads(server.state_file.read_text())
    assert recorded["port"] == first.port
    assert recorded["pid"] == first.pid

    with MongoClient(first.uri) as client:
        client.keep.things.insert_one({"name": "Si2", "energy": -10.8})

    stopped = server.stop()
    assert stopped is not None
    assert stopped.pid == first.pid
    assert server.status() is None
    assert ping(first.uri, timeout_ms=300) is None
    assert not server.state_file.exists()
    assert server.stop() is None  # stopping twice is harmless

    second, started = server.start()
    assert started
    with MongoClient(second.uri) as client:
        assert client.keep.things.find_one({"name": "Si2"})["energy"] == -10.8


def test_two_data_directories_get_two_servers(tmp_path: Path, mongod_binary: Path) -> None:
    one = LocalMongoServer(tmp_path / "a", mongod=mongod_binary)
    two = LocalMongoServer(tmp_path / "b", mongod=mongod_binary)
    try:
        state_one, _ = one.start()
        state_two, _ = two.start()
        assert state_one.port != state_two.port
        assert state_one.pid != state_two.pid
    finally:
        one.stop()
        two.stop()


def test_killed_server_is_detected_and_restarted(server: LocalMongoServer) -> None:
    state, _ = server.start()
    os.kill(state.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server.status() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.status() is None  # the stale record is not trusted
    while not port_is_free(state.port) and time.monotonic() < deadline:
        time.sleep(0.05)  # the killed process may hold its socket a moment longer
    fresh, started = server.start()
    assert started
    assert fresh.pid != state.pid
    assert ping(fresh.uri) is not None
    assert fresh.port == state.port  # its port was free: clients' URIs still hold
    server.stop()
    again, _ = server.start()
    assert again.uri == state.uri


def test_stale_record_of_another_process_is_not_signalled(server: LocalMongoServer) -> None:
    server.root.mkdir(parents=True)
    # a live PID that is not our mongod: this test process
    record = {"pid": os.getpid(), "port": 1, "uri": "mongodb://127.0.0.1:1/", "mongod": "x",
              "started": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    server.state_file.write_text(json.dumps(record))
    assert server.status() is None
    assert server.stop() is None  # and this process is still alive to check it


def test_failure_to_start_reports_the_log(tmp_path: Path, mongod_binary: Path) -> None:
    root = tmp_path / "mongodb"
    (root / "db").mkdir(parents=True)
    (root / "db" / "storage.bson").write_bytes(b"\x05\x00\x00\x00 not bson")  # corrupt
    with pytest.raises(DatabaseError, match=r"mongod failed to start.*storage engine metadata"):
        LocalMongoServer(root, mongod=mongod_binary).start()


def test_database_folder_that_is_a_file(tmp_path: Path, mongod_binary: Path) -> None:
    root = tmp_path / "mongodb"
    root.mkdir()
    (root / "db").write_text("a file where the database folder should be")
    with pytest.raises(DatabaseError, match="cannot create the database folder"):
        LocalMongoServer(root, mongod=mongod_binary).start()


def test_missing_binary_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="PESBENCH_MONGOD_PATH"):
        find_mongod(tmp_path / "no-mongod")
