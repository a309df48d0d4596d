"""Shared fixtures: a real mongod for the session, isolated settings per test."""

from __future__ import annotations

import os

# One BLAS thread: ASE's optimizers diagonalise small matrices at every step, and on the
# 2 shared cores here a threaded OpenBLAS made them ~50x slower (before numpy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient

from pesbench.errors import DatabaseError
from pesbench.settings import PesbenchSettings, override_settings, reset_settings
from pesbench.stores import LocalMongoServer, ServerState, find_mongod


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No PESBENCH_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.upper().startswith("PESBENCH_"):
            monkeypatch.delenv(key)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="session")
def mongod_binary() -> Path:
    """The real mongod; a missing one fails under CI and skips (with the reason) elsewhere."""
    try:
        return find_mongod()
    except DatabaseError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a real mongod: {exc}")
        pytest.skip(f"no mongod on this machine: {exc}")


@pytest.fixture(scope="session")
def mongod_server(
    tmp_path_factory: pytest.TempPathFactory, mongod_binary: Path
) -> Iterator[ServerState]:
    """A real mongod on a free loopback port, in a temporary folder, for the whole session."""
    server = LocalMongoServer(tmp_path_factory.mktemp("mongod"), mongod=mongod_binary)
    state, _ = server.start()
    yield state
    server.stop()


@pytest.fixture
def db_settings(mongod_server: ServerState, tmp_path: Path) -> Iterator[PesbenchSettings]:
    """Settings pointing at the session's mongod, with a database of this test's own."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with override_settings(
        db_uri=mongod_server.uri, db_name=name, data_dir=tmp_path / "data"
    ) as settings:
        yield settings
    with MongoClient(mongod_server.uri) as client:
        client.drop_database(name)
