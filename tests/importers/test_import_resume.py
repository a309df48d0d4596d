"""An import killed with SIGKILL, run again, gives the database an uninterrupted one gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from ase.io import write
from emt_frames import emt_frames
from pymongo import MongoClient
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.importers import IMPORTS_COLLECTION
from pesbench.settings import PesbenchSettings, override_settings

# a real `pesbench import`, slowed after each batch by the writer's seam (0.25 s)
_SLOW_IMPORT = """
import sys, time
import pesbench.importers.writer as writer
writer._after_batch = lambda: time.sleep(0.25)
from pesbench.cli.main import main
main(sys.argv[1:])
"""
_VOLATILE = {"_id", "created_at", "last_updated", "started_at", "finished_at"}


def _dump(uri: str, db: str, collection: str, key: str) -> list[dict[str, Any]]:
    with MongoClient(uri) as client:
        docs = client[db][collection].find()
        rows = [{k: v for k, v in d.items() if k not in _VOLATILE} for d in docs]
    return sorted(rows, key=lambda d: str(d[key]))


@pytest.mark.slow  # ~25-50 s: most of it the subprocess importing pesbench
def test_killed_import_resumed_equals_uninterrupted(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    frames = emt_frames(48, seed=3)
    frames += frames[5:11]  # duplicates, in later batches than their first copies
    data = tmp_path / "big.extxyz"
    write(data, frames, format="extxyz")
    args = ["import", str(data), "--dataset", "emt", "--functional", "PBE", "--batch-size", "3"]
    uri = db_settings.db_uri
    assert uri is not None
    env = {
        **os.environ,
        "PESBENCH_DB_URI": uri,
        "PESBENCH_DB_NAME": db_settings.db_name,
        "PESBENCH_DATA_DIR": str(db_settings.data_dir),
    }
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_IMPORT, *args], env=env)
    done = 0
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            with MongoClient(uri) as client:
                record = client[db_settings.db_name][IMPORTS_COLLECTION].find_one() or {}
            done = int(record.get("done", 0))
            if done >= 12:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the import ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed = _dump(uri, db_settings.db_name, IMPORTS_COLLECTION, "source")
    assert killed[0]["complete"] is False
    assert 12 <= killed[0]["done"] < len(frames)

    resumed = CliRunner().invoke(app, args)
    assert resumed.exit_code == 0, resumed.output
    assert "resumed at record" in resumed.output

    other = f"{db_settings.db_name}_clean"
    try:
        with override_settings(db_uri=uri, db_name=other, data_dir=db_settings.data_dir):
            clean = CliRunner().invoke(app, args)
        assert clean.exit_code == 0, clean.output
        for collection, key in (("references", "reference_id"), (IMPORTS_COLLECTION, "source")):
            after_kill = _dump(uri, db_settings.db_name, collection, key)
            uninterrupted = _dump(uri, other, collection, key)
            assert after_kill == uninterrupted, collection
        refs = _dump(uri, other, "references", "reference_id")
        assert len(refs) == 48
        imports = _dump(uri, other, IMPORTS_COLLECTION, "source")
        assert (imports[0]["stored"], imports[0]["duplicates"]) == (48, 6)
    finally:
        with MongoClient(uri) as client:
            client.drop_database(other)
