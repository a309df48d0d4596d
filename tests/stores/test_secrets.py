"""No secret leaks (issue 15, item 7): a password in PESBENCH_DB_URI stays out of everything.

A real mongod with ``--auth`` and a user with a password; a campaign run here (jobflow) and
one through FireWorks workers; then every document of every database, every file written
(run folders, FireWorks launch folders, reports, tables, worker configuration), every log
record and every CLI output is searched for the password. The files that must hold it,
the worker's ``my_launchpad.yaml`` and ``pesbench-worker.yaml``, is readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import stat
import subprocess
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import bson
import pytest
from campaigns import EMT, emt_campaign
from monty.json import MontyDecoder
from pymongo import MongoClient
from pymongo.errors import OperationFailure
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.settings import override_settings, redact_uri
from pesbench.stores import ServerState, ping
from pesbench.stores.jobstore import get_job_store
from pesbench.stores.launchpad import get_launchpad
from pesbench.stores.server import free_port
from pesbench.workflows.execute import run_campaign, submit_campaign
from pesbench.workflows.fireworks import DFT_CATEGORY, write_worker_files
from pesbench.workflows.spec import load_spec

PASSWORD = "s3cretPW"
USER = "pesuser"
MODEL = "ase:ase.calculators.emt.EMT"


@pytest.fixture(scope="module")
def auth_mongod(tmp_path_factory: pytest.TempPathFactory, mongod_binary: Path) -> Iterator[str]:
    """A mongod that requires a login; yields the URI with user and password."""
    root = tmp_path_factory.mktemp("auth-mongod")
    (root / "db").mkdir()
    port = free_port()
    command = [
        str(mongod_binary),
        "--dbpath", str(root / "db"),
        "--bind_ip", "127.0.0.1",
        "--port", str(port),
        "--auth",
        "--nounixsocket",
        "--logpath", str(root / "mongod.log"),
        "--wiredTigerCacheSizeGB", "0.25",
        "--setParameter", "diagnosticDataCollectionEnabled=false",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bare = f"mongodb://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while ping(bare, timeout_ms=500) is None:
            assert proc.poll() is None, (root / "mongod.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the --auth mongod did not start in 60 s"
            time.sleep(0.2)
        with MongoClient(bare) as client:  # the localhost exception: the first user
            client.admin.command("createUser", USER, pwd=PASSWORD, roles=["root"])
        yield f"mongodb://{USER}:{PASSWORD}@127.0.0.1:{port}/?authSource=admin"
    finally:
        proc.terminate()
        proc.wait(60)


def _documents_with_password(uri: str) -> list[str]:
    """``db.collection: _id`` of every document holding the password (GridFS unzipped)."""
    found = []
    with MongoClient(uri) as client:
        for db_name in client.list_database_names():
            db = client[db_name]
            for coll_name in db.list_collection_names():
                if coll_name == "system.sessions":  # session ids; even root may not read it
                    continue
                for doc in db[coll_name].find({}):
                    raw = bson.encode(doc)
                    if coll_name.endswith(".chunks"):
                        with contextlib.suppress(zlib.error):  # maggma compresses
                            raw += zlib.decompress(doc["data"])
                    if PASSWORD.encode() in raw:
                        found.append(f"{db_name}.{coll_name}: {doc.get('_id')}")
    return found


def _files_with_password(root: Path) -> list[Path]:
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and PASSWORD.encode() in path.read_bytes()
    )


def test_redact_uri() -> None:
    assert redact_uri(f"mongodb://{USER}:{PASSWORD}@h:1/?authSource=admin") == (
        f"mongodb://{USER}:***@h:1/?authSource=admin"
    )
    assert (
        redact_uri("at mongodb+srv://u:p%40ss@c.x.net/db now")
        == "at mongodb+srv://u:***@c.x.net/db now"
    )
    assert redact_uri("mongodb://127.0.0.1:27017/") == "mongodb://127.0.0.1:27017/"
    assert redact_uri("mongodb://127.0.0.1:1/ (mail a@b)") == "mongodb://127.0.0.1:1/ (mail a@b)"


def test_managed_mongod_listens_on_loopback_only(mongod_server: ServerState) -> None:
    args = Path(f"/proc/{mongod_server.pid}/cmdline").read_bytes().decode().split("\0")
    assert args[args.index("--bind_ip") + 1] == "127.0.0.1"
    assert "--bind_ip_all" not in args
    assert mongod_server.uri.startswith("mongodb://127.0.0.1:")


def test_no_password_in_documents_files_logs_or_output(
    auth_mongod: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    anonymous = auth_mongod.replace(f"{USER}:{PASSWORD}@", "")
    with MongoClient(anonymous) as client, pytest.raises(OperationFailure):
        client.admin.list_collection_names()  # the server does require the login
    caplog.set_level(logging.DEBUG)
    monkeypatch.chdir(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    db_name = f"test_{uuid.uuid4().hex[:12]}"
    runner = CliRunner()
    outputs: dict[str, str] = {}
    with override_settings(db_uri=auth_mongod, db_name=db_name, data_dir=tmp_path / "data"):
        local = load_spec(emt_campaign(work, "local-secret", models=[MODEL], dft={"engine": EMT}))
        assert not run_campaign(local).job_errors
        remote = load_spec(emt_campaign(work, "fw-secret", models=[MODEL], dft={"engine": EMT}))
        submit_campaign(remote)
        for category in ("dft", "mlip", "dft"):
            result = runner.invoke(app, ["worker", "--category", category])
            assert result.exit_code == 0, result.output
            outputs[f"worker {category}"] = result.output
        launchpad = get_launchpad()
        assert launchpad.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}) == 0
        write_worker_files(tmp_path / "fworker-api", DFT_CATEGORY, "slurm")
        commands = {
            "status local": ["status", "local-secret"],
            "status fw": ["status", "fw-secret"],
            "fworker init": ["fworker", "init", "-c", "mlip", "-d", str(tmp_path / "fworker")],
            "report": ["report", "fw-secret", "--output", str(tmp_path / "report")],
            "query": ["query", "--build", "--output", str(tmp_path / "table.csv")],
        }
        for label, args in commands.items():
            result = runner.invoke(app, args)
            assert result.exit_code == 0, f"{label}: {result.output}"
            outputs[label] = result.output
        assert (tmp_path / "report" / "report.html").is_file()
    # the worker needs the password to log in: only there, and only its owner reads it
    needed = {
        tmp_path / d / name
        for d in ("fworker", "fworker-api")
        for name in ("my_launchpad.yaml", "pesbench-worker.yaml")  # its pesbench settings
    }
    captured = capfd.readouterr()
    leaks = {
        "documents": _documents_with_password(auth_mongod),
        "files": [str(p) for p in set(_files_with_password(tmp_path)) - needed],
        "outputs": [label for label, text in outputs.items() if PASSWORD in text],
        "log records": [r.getMessage() for r in caplog.records if PASSWORD in r.getMessage()],
        "stdout/stderr": [line for line in (captured.out + captured.err).splitlines()
                          if PASSWORD in line],
    }  # fmt: skip
    assert {where: found for where, found in leaks.items() if found} == {}
    for path in needed:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_job_store_serializes_without_the_uri(auth_mongod: str) -> None:
    with override_settings(db_uri=auth_mongod, db_name="secrets"):
        store = get_job_store()
        serialized = json.dumps(store.as_dict())
        assert PASSWORD not in serialized
        assert PASSWORD not in store.name
        loaded = MontyDecoder().process_decoded(json.loads(serialized))
        loaded.connect()  # a worker: the URI of its own settings
        try:
            assert loaded.docs_store.database == "secrets"
            assert loaded.count({}) == 0
        finally:
            loaded.close()


def test_db_status_and_doctor_show_no_password(auth_mongod: str, tmp_path: Path) -> None:
    runner = CliRunner()
    dead = auth_mongod.replace(auth_mongod.split("@")[1].split("/")[0], f"127.0.0.1:{free_port()}")
    outputs = {}
    for label, uri in (("up", auth_mongod), ("down", dead)):
        with override_settings(db_uri=uri, data_dir=tmp_path / "data"):
            for args in (["db", "status"], ["doctor"], ["status", "none"]):
                result = runner.invoke(app, args)
                outputs[f"{' '.join(args)} ({label})"] = result.output + str(result.exception or "")
    assert [label for label, text in outputs.items() if PASSWORD in text] == []


def test_collection_stores_and_builders_show_no_password(auth_mongod: str) -> None:
    """maggma's ``MongoStore.name`` is its URI: pesbench's stores redact it (builder logs)."""
    from pesbench.stores.builders import StructureComparisonBuilder, collection_store
    from pesbench.stores.properties import RelaxationStore
    from pesbench.stores.references import ReferenceStore

    with override_settings(db_uri=auth_mongod, db_name="secrets"):
        stores = [
            collection_store("references"),
            ReferenceStore().store,
            RelaxationStore().frames_store,
        ]
        for store in stores:
            assert PASSWORD not in store.name
            assert PASSWORD not in json.dumps(store.as_dict())
        with ReferenceStore() as refs:  # still connects, to the settings' database
            assert refs.store.count({}) == 0
        builder = StructureComparisonBuilder(
            *(collection_store(name) for name in ("references", "predictions", "comparisons"))
        )
        assert all(PASSWORD not in store.name for store in builder.sources + builder.targets)
