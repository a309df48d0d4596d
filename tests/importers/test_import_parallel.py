"""``--processes``: an extended XYZ file converted by worker processes is stored as a serial
import stores it, interrupted or not, whatever the number of processes of each run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ase.io import write
from emt_frames import emt_frames
from pymongo import MongoClient
from typer.testing import CliRunner

import pesbench.importers.parallel as parallel
import pesbench.importers.writer as writer
from pesbench.cli.main import app
from pesbench.importers import IMPORTS_COLLECTION, DatasetId, ImportOptions, import_path
from pesbench.settings import PesbenchSettings, override_settings

_VOLATILE = {"_id", "created_at", "last_updated", "started_at", "finished_at"}


def _dump(settings: PesbenchSettings, collection: str, key: str) -> list[dict[str, Any]]:
    with MongoClient(settings.db_uri) as client:
        docs = client[settings.db_name][collection].find()
        rows = [{k: v for k, v in d.items() if k not in _VOLATILE} for d in docs]
    return sorted(rows, key=lambda d: str(d[key]))


def _database(settings: PesbenchSettings) -> dict[str, list[dict[str, Any]]]:
    return {
        "references": _dump(settings, "references", "reference_id"),
        IMPORTS_COLLECTION: _dump(settings, IMPORTS_COLLECTION, "source"),
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """20 frames, 4 repeated in later chunks, a frame without energy, a truncated end."""
    frames = emt_frames(20, seed=5)
    path = tmp_path / "data.extxyz"
    write(path, [*frames, *frames[2:6]], format="extxyz")
    with path.open("a") as handle:
        handle.write('2\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n')
        handle.write("Cu 0 0 0\nCu 1.5 1.5 1.5\n")  # record 24: no energy
        handle.write("7\ncomment\nCu 0 0 0\n")  # record 25: truncated
    return path


class _Stop(Exception):
    pass


def _stop_after(monkeypatch: pytest.MonkeyPatch, batches: int) -> None:
    """The import raises after writing and counting ``batches`` batches."""
    counted = iter(range(10**6))

    def after_batch() -> None:
        if next(counted) >= batches - 1:
            raise _Stop

    monkeypatch.setattr(writer, "_after_batch", after_batch)


@pytest.mark.slow  # ~15-25 s: each worker process imports pesbench
def test_processes_store_what_one_process_stores_and_resume_either_way(
    db_settings: PesbenchSettings, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "CHUNK", 3)  # many chunks: order across workers
    options = ImportOptions(DatasetId("emt", "1"), "PBE", batch_size=4)
    serial = import_path(data, options, db_settings)
    assert (serial.records, serial.stored, serial.duplicates, serial.n_bad) == (26, 20, 4, 2)
    expected = _database(db_settings)

    other = f"{db_settings.db_name}_parallel"
    try:
        with override_settings(
            db_uri=db_settings.db_uri, db_name=other, data_dir=db_settings.data_dir
        ) as settings:
            # interrupted by an error after two batches, one process; resumed with two
            _stop_after(monkeypatch, 2)
            with pytest.raises(_Stop):
                import_path(data, options, settings)
            monkeypatch.setattr(writer, "_after_batch", lambda: None)
            assert _dump(settings, IMPORTS_COLLECTION, "source")[0]["done"] == 8
            two = ImportOptions(DatasetId("emt", "1"), "PBE", batch_size=4, processes=2)
            resumed = import_path(data, two, settings)
            assert resumed.resumed_from == 8
            assert _database(settings) == expected

            # from the start with two processes, interrupted there, resumed with one
            with MongoClient(settings.db_uri) as client:
                client.drop_database(other)
            _stop_after(monkeypatch, 2)
            with pytest.raises(_Stop):
                import_path(data, two, settings)
            monkeypatch.setattr(writer, "_after_batch", lambda: None)
            assert import_path(data, options, settings).resumed_from == 8
            assert _database(settings) == expected
    finally:
        with MongoClient(db_settings.db_uri) as client:
            client.drop_database(other)


def test_processes_must_be_at_least_one(data: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ImportOptions(DatasetId("emt"), "PBE", processes=0)
    args = ["import", str(data), "--dataset", "emt", "--functional", "PBE", "--processes", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2  # refused by the option's bounds, before any import
    assert "processes" in result.output
