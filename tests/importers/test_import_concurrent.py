"""The same import run twice at once: no DuplicateKeyError, each record counted once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from ase.io import write
from emt_frames import emt_frames

import pesbench.importers.writer as writer
from pesbench.importers import IMPORTS_COLLECTION, DatasetId, ImportOptions, import_path
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection


class _Meeting:
    """An ``imports`` collection whose first ``find_one`` waits for the other run's.

    Both runs have then looked for the progress record before either writes it: the race
    of two processes started at once, made certain.
    """

    def __init__(self, collection: Any, barrier: threading.Barrier) -> None:
        self._collection = collection
        self._barrier = barrier
        self._met = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def find_one(self, *args: Any, **kwargs: Any) -> Any:
        found = self._collection.find_one(*args, **kwargs)
        if not self._met:
            self._met = True
            self._barrier.wait()
        return found


def test_two_runs_of_one_import_at_once(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = emt_frames(30, seed=5)
    frames += frames[2:6]  # 4 duplicates
    path = tmp_path / "data.extxyz"
    write(path, frames, format="extxyz")
    with path.open("a") as handle:  # 3 bad records (no energy)
        for _ in range(3):
            handle.write(
                '1\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
            )
            handle.write("Cu 0 0 0\n")
    barrier = threading.Barrier(2, timeout=60)
    real = writer.open_collection

    @contextmanager
    def meeting(name: str, settings: PesbenchSettings) -> Iterator[Any]:
        with real(name, settings) as collection:
            yield _Meeting(collection, barrier) if name == IMPORTS_COLLECTION else collection

    monkeypatch.setattr(writer, "open_collection", meeting)
    monkeypatch.setattr(writer, "_after_batch", lambda: time.sleep(0.01))  # interleave
    options = ImportOptions(dataset=DatasetId("twice"), functional="PBE", batch_size=2)
    results: list[Any] = []

    def run() -> None:
        try:
            results.append(import_path(path, options, db_settings))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(results) == 2
    with open_collection(IMPORTS_COLLECTION, db_settings) as imports:
        (record,) = list(imports.find())
    with open_collection("references", db_settings) as refs:
        assert refs.count_documents({}) == 30
    expected = {"records": 37, "stored": 30, "duplicates": 4, "n_bad": 3, "complete": True}
    assert {k: record[k] for k in expected} == expected
    assert [b["index"] for b in record["bad"]] == [34, 35, 36]
    for result in results:
        assert (result.records, result.stored, result.duplicates, result.n_bad) == (37, 30, 4, 3)
