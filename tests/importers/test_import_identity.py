"""An import is its dataset, path, content and the options that change what it stores."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms
from ase.io import write
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.importers import IMPORTS_COLLECTION, ImportConflictError
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.references import ReferenceStore


def _stored(settings: PesbenchSettings) -> list[tuple[str, str, list[str]]]:
    with ReferenceStore(settings) as store:
        docs = list(store.query({}))
    return sorted(
        (d.functional, d.provenance.category if d.provenance else "", d.tags) for d in docs
    )


def test_other_options_are_refused_and_replace_redoes_the_import(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "data.extxyz"
    write(path, frames, format="extxyz")
    base = ["import", str(path), "--dataset", "d", "--version", "1"]
    first = CliRunner().invoke(app, [*base, "--functional", "PBE"])
    assert first.exit_code == 0, first.output
    assert _stored(db_settings) == [("PBE", "imported", [])] * 4

    for other in (["--functional", "r2SCAN"], ["--functional", "PBE", "--category", "md"]):
        refused = CliRunner().invoke(app, [*base, *other])
        assert isinstance(refused.exception, ImportConflictError), refused.output
        message = str(refused.exception)
        assert "functional='PBE'" in message
        assert "category='imported'" in message
        assert "--replace" in message
        assert _stored(db_settings) == [("PBE", "imported", [])] * 4  # nothing changed

    same = CliRunner().invoke(app, [*base, "--functional", "pbe"])  # same functional
    assert same.exit_code == 0, same.output
    assert "already imported" in same.output

    redo = [*base, "--functional", "r2SCAN", "--category", "md", "--tag", "fixed"]
    replaced = CliRunner().invoke(app, [*redo, "--replace"])
    assert replaced.exit_code == 0, replaced.output
    assert _stored(db_settings) == [("r2SCAN", "md", ["fixed"])] * 4
    with open_collection(IMPORTS_COLLECTION, db_settings) as imports:
        (record,) = list(imports.find())
    assert record["options"]["functional"] == "r2SCAN"
    assert (record["stored"], record["complete"]) == (4, True)
    again = CliRunner().invoke(app, redo)
    assert "already imported" in again.output


def test_an_import_that_stored_nothing_is_no_conflict(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "data.extxyz"
    write(path, frames, format="extxyz")
    forgot = CliRunner().invoke(app, ["import", str(path), "--dataset", "d"])
    assert forgot.exit_code != 0
    assert "no functional" in forgot.output
    fixed = CliRunner().invoke(app, ["import", str(path), "--dataset", "d", "--functional", "PBE"])
    assert fixed.exit_code == 0, fixed.output
    assert _stored(db_settings) == [("PBE", "imported", [])] * 4
