"""One MongoDB client per process (issue 17, item 3): every way into the database shares it."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores.builder_common import collection_store
from pesbench.stores.collections import CAMPAIGNS, REFERENCES
from pesbench.stores.connection import close_clients, database_uri, mongo_client, open_collection
from pesbench.stores.jobstore import get_job_store
from pesbench.stores.references import ReferenceStore


def test_stores_collections_and_job_store_share_one_client(db_settings: PesbenchSettings) -> None:
    uri = database_uri(db_settings)
    client = mongo_client(uri)
    seen = []
    with open_collection(CAMPAIGNS, db_settings) as coll:
        seen.append(coll.database.client)
    with ReferenceStore(db_settings) as refs:
        seen.append(refs.store._collection.database.client)
    store = collection_store(REFERENCES, db_settings)
    store.connect()
    seen.append(store._collection.database.client)
    store.close()
    with override_settings(**db_settings.model_dump()):
        job_store = get_job_store()
        job_store.connect()
        seen.append(job_store.docs_store._collection.database.client)
        job_store.close()
    assert all(c is client for c in seen)
    # closing the stores let go of it without closing it: it still answers
    with open_collection(CAMPAIGNS, db_settings) as coll:
        assert coll.count_documents({}) == 0


def _child_client_id(uri: str, queue: multiprocessing.Queue) -> None:
    client = mongo_client(uri)
    queue.put((id(client), client.admin.command("ping")["ok"]))


def test_a_forked_child_makes_its_own_client(db_settings: PesbenchSettings) -> None:
    uri = database_uri(db_settings)
    parent = mongo_client(uri)
    parent.admin.command("ping")
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = ctx.Queue()
    child = ctx.Process(target=_child_client_id, args=(uri, queue))
    child.start()
    child_id, ok = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert ok == 1.0
    assert child_id != id(parent)


def test_close_clients_closes_only_the_named_uri(db_settings: PesbenchSettings) -> None:
    uri = database_uri(db_settings)
    first = mongo_client(uri)
    other = mongo_client(uri + "?appname=other")
    assert close_clients(uri + "?appname=other") == 1
    assert mongo_client(uri) is first
    assert mongo_client(uri + "?appname=other") is not other
    close_clients(uri + "?appname=other")


EXIT_AFTER_SERVER_DIED = """
import os, signal, sys, time
from pathlib import Path
from pesbench.stores import LocalMongoServer
from pesbench.stores.connection import mongo_client
server = LocalMongoServer(Path(sys.argv[1]), mongod=Path(sys.argv[2]))
state, _ = server.start()
mongo_client(state.uri)["x"]["y"].insert_one({"a": 1})
os.kill(state.pid, signal.SIGKILL)  # the database goes away under a live client
time.sleep(2)  # its monitor notices
print(time.monotonic(), flush=True)
"""


def test_a_process_whose_server_died_exits_without_waiting_for_it(
    tmp_path: Path, mongod_binary: Path
) -> None:
    """Closing the shared clients at exit waited 30 s for server selection (fixed: no close)."""
    run = subprocess.run(
        [sys.executable, "-c", EXIT_AFTER_SERVER_DIED, str(tmp_path / "m"), str(mongod_binary)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    ended = time.monotonic()
    assert run.returncode == 0, run.stderr[-2000:]
    assert ended - float(run.stdout.strip().splitlines()[-1]) < 15
