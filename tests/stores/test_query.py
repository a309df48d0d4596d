from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.schemas.comparison import MaterialComparisonDoc, PropertyRow, StructureComparisonDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores import query
from pesbench.stores.query import QueryError, export_table, query_comparisons


def _common(model: str, functional: str, category: str) -> dict[str, object]:
    return {
        "source_stamp": "s",
        "material": "Cu-abc",
        "formula": "Cu",
        "category": category,
        "model_id": model,
        "model_functional": "PBE",
        "functional": functional,
        "reference_code": "gpaw",
        "pairing": "native" if functional == "PBE" else "cross",
        "campaign": "camp",
    }


def _insert(settings: PesbenchSettings) -> None:
    docs = []
    for model in ("chgnet-0.3.0", "mace-mp-0"):
        for functional in ("PBE", "r2SCAN"):
            for category in ("surface", "high_energy"):
                docs.append(
                    MaterialComparisonDoc(
                        comparison_id=f"{model}|{functional}|{category}",
                        structure_ids=["Cu-1", "Cu-2"],
                        n_structures=2,
                        energy_mae=0.01,
                        energy_rmse=0.02,
                        energy_max=0.03,
                        energy_mae_centered=0.005,
                        softening_scale=0.8 if model.startswith("chgnet") else 0.9,
                        properties=[
                            PropertyRow(
                                name="surface_energy",
                                label="(1, 1, 1) t0",
                                unit="J/m²",
                                reference=1.5,
                                model=1.2,
                                error=-0.3,
                                ratio=0.8,
                            )
                        ]
                        if category == "surface"
                        else [],
                        **_common(model, functional, category),  # type: ignore[arg-type]
                    )
                )
    docs.append(
        StructureComparisonDoc(
            comparison_id="p|r",
            structure_id="Cu-1",
            prediction_id="p",
            reference_id="r",
            n_atoms=4,
            energy_per_atom_reference=-4.0,
            energy_per_atom_model=-3.9,
            energy_per_atom_error=0.1,
            force_mae=0.05,
            **_common("chgnet-0.3.0", "PBE", "surface"),  # type: ignore[arg-type]
        )
    )
    with MongoClient(settings.db_uri) as client:
        client[settings.db_name].comparisons.insert_many([d.model_dump(mode="json") for d in docs])


def test_query_filters_levels_and_exports(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    _insert(db_settings)
    everything = query_comparisons(db_settings)
    assert len(everything) == 8
    assert list(everything.columns[:3]) == ["campaign", "material", "formula"]
    chgnet_pbe = query_comparisons(db_settings, model="chgnet-0.3.0", functional="PBE")
    assert len(chgnet_pbe) == 2
    assert set(chgnet_pbe["softening_scale"]) == {0.8}
    assert len(query_comparisons(db_settings, material="Cu", category="surface")) == 4
    assert query_comparisons(db_settings, campaign="other").empty
    structure = query_comparisons(db_settings, "structure")
    assert structure["energy_per_atom_error"].tolist() == [0.1]
    # the unrelaxed properties of the comparisons are gone: properties are relaxed ones
    with pytest.raises(QueryError, match="after relaxation"):
        query_comparisons(db_settings, "properties")
    assert "properties" not in everything.columns

    for suffix in (".csv", ".parquet", ".json"):
        path = export_table(everything, tmp_path / f"t{suffix}")
        back = {
            ".csv": pd.read_csv,
            ".parquet": pd.read_parquet,
            ".json": lambda p: pd.DataFrame(json.loads(Path(p).read_text())),
        }[suffix](path)
        assert len(back) == 8
        assert back["softening_scale"].tolist() == everything["softening_scale"].tolist()
    with pytest.raises(QueryError, match="unknown format"):
        export_table(everything, tmp_path / "t.xlsx")


def test_cli_query_prints_and_exports(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    _insert(db_settings)
    runner = CliRunner()
    result = runner.invoke(app, ["query", "--model", "mace-mp-0", "--functional", "PBE"])
    assert result.exit_code == 0, result.output
    assert "mace-mp-0" in result.output
    assert "chgnet" not in result.output
    out = tmp_path / "rows.csv"
    result = runner.invoke(app, ["query", "--model", "mace-mp-0", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 4
    # --level properties is --properties: the relaxed ones (none stored here)
    result = runner.invoke(app, ["query", "--level", "properties"])
    assert result.exit_code == 0, result.output
    assert "no relaxed properties match" in result.output
    # --build: no references, so no new structure-level documents; the one inserted above
    # gets its aggregate, once
    result = runner.invoke(app, ["query", "--build"])
    assert result.exit_code == 0, result.output
    assert "0 structure-level, 1 material-level" in result.output
    result = runner.invoke(app, ["query", "--build", "--level", "structure"])
    assert "0 structure-level, 0 material-level" in result.output
    assert "Cu-1" in result.output


def test_cli_query_shows_how_energies_are_referenced(db_settings: PesbenchSettings) -> None:
    common = _common("chgnet-0.3.0", "PBE", "high_energy")
    referenced = MaterialComparisonDoc(
        comparison_id="referenced", structure_ids=["Cu-1"], n_structures=1, energy_mae=0.5,
        energy_rmse=0.5, energy_max=0.5, energy_mae_centered=0.0, energy_referencing="relaxed_bulk",
        n_energy_referenced=1, energy_referenced_mae=0.0123, **common,  # type: ignore[arg-type]
    )  # fmt: skip
    structure = StructureComparisonDoc(
        comparison_id="p|r", structure_id="Cu-1", prediction_id="p", reference_id="r", n_atoms=4,
        energy_per_atom_reference=-4.0, energy_per_atom_model=-3.5, energy_per_atom_error=0.5,
        energy_referenced_reference=0.1, energy_referenced_model=0.1123,
        energy_referenced_error=0.0123, **common,  # type: ignore[arg-type]
    )  # fmt: skip
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].comparisons.insert_many(
            [d.model_dump(mode="json") for d in (referenced, structure)]
        )
    runner = CliRunner()
    result = runner.invoke(app, ["query"])
    assert result.exit_code == 0, result.output
    assert "energy_referenced_mae" in result.output
    assert "relaxed_bulk" in result.output
    assert "0.0123" in result.output
    assert "each side's own relaxed bulk" in result.output
    result = runner.invoke(app, ["query", "--level", "structure"])
    assert result.exit_code == 0, result.output
    assert "energy_referenced_error" in result.output
    assert "0.0123" in result.output
    assert "energy_per_atom_error" not in result.output  # absolute totals: --output only


def test_query_reads_only_the_columns_asked_and_batches_agree(
    db_settings: PesbenchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(db_settings)
    everything = query_comparisons(db_settings)
    some = query_comparisons(db_settings, columns=["softening_scale"], functional="PBE")
    assert set(some.columns) == {
        "campaign", "material", "category", "model_id", "functional", "softening_scale"
    }  # fmt: skip
    full = everything[everything["functional"] == "PBE"].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, full[list(some.columns)])
    # received in many batches (here of 3 documents): the same table as in one
    monkeypatch.setattr("pesbench.stores.arrow_read.BATCH_DOCUMENTS", 3)
    pd.testing.assert_frame_equal(query_comparisons(db_settings), everything)
    with pytest.raises(QueryError, match=r"no material-level field 'force_scale', 'nope'"):
        query_comparisons(db_settings, columns=["force_scale", "nope"])


def test_query_rows_are_the_documents_typed_by_their_schema(
    db_settings: PesbenchSettings,
) -> None:
    _insert(db_settings)
    with MongoClient(db_settings.db_uri) as client:
        comparisons = client[db_settings.db_name].comparisons
        comparisons.update_one({"level": "structure"}, {"$set": {"campaigns": ["camp", "b"]}})
        stored = comparisons.find_one({"level": "structure"})
    (row,) = query_comparisons(db_settings, "structure").to_dict("records")
    hidden = {"_id", "source_stamp", "pesbench_version", "level"}
    assert set(row) == set(stored) - hidden
    for name, value in row.items():
        if stored[name] is None:
            assert pd.isna(value), name
        else:
            assert value == stored[name], name
    frame = query_comparisons(db_settings, "structure")
    # a column without any value keeps its type: float64 NaN, not object None
    assert frame["bulk_energy_per_atom_model"].dtype == "float64"
    assert frame["n_atoms"].dtype == "int64"
    assert frame["campaigns"].tolist() == [["camp", "b"]]  # Python lists, as stored
    material = query_comparisons(db_settings)
    assert set(material["notes"]) == {""}
    assert material["energy_referenced_mae"].dtype == "float64"


def test_query_rows_are_sorted_by_their_keys_missing_values_first(
    db_settings: PesbenchSettings,
) -> None:
    _insert(db_settings)
    with MongoClient(db_settings.db_uri) as client:  # one row without a campaign
        client[db_settings.db_name].comparisons.update_one(
            {"comparison_id": "mace-mp-0|PBE|surface"}, {"$set": {"campaign": None}}
        )
    frame = query_comparisons(db_settings)
    keys = ["campaign", "material", "category", "model_id", "functional"]
    assert pd.isna(frame["campaign"].iloc[0])
    shuffled = frame.sample(frac=1, random_state=1)
    again = shuffled.sort_values(keys, na_position="first").reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, again)
    assert list(frame.index) == list(range(len(frame)))


def test_a_stored_value_of_another_type_is_a_clear_error(
    db_settings: PesbenchSettings,
) -> None:
    _insert(db_settings)
    with MongoClient(db_settings.db_uri) as client:
        client[db_settings.db_name].comparisons.update_one(
            {"comparison_id": "p|r"}, {"$set": {"force_mae": "0.05"}}
        )
    with pytest.raises(QueryError, match=r"another type than their schema's.*query --build"):
        query_comparisons(db_settings, "structure")


def test_a_cached_table_is_returned_until_the_collection_changes(
    db_settings: PesbenchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(db_settings)
    first = query_comparisons(db_settings, level="structure", cache=True)
    (cached,) = (db_settings.data_dir / query.CACHE_FOLDER).glob("comparisons-*.pkl")
    reads: list[int] = []
    load = query._load_frame
    monkeypatch.setattr(query, "_load_frame", lambda *a: reads.append(1) or load(*a))
    again = query_comparisons(db_settings, level="structure", cache=True)
    pd.testing.assert_frame_equal(again, first)
    assert reads == []  # from the file, not from the rows
    assert len(query_comparisons(db_settings, level="structure")) == 1
    assert reads == [1]

    with MongoClient(db_settings.db_uri) as client:  # any write: another content
        client[db_settings.db_name].comparisons.update_one(
            {"comparison_id": "p|r"}, {"$set": {"force_mae": 0.07}}
        )
    changed = query_comparisons(db_settings, level="structure", cache=True)
    assert changed["force_mae"].tolist() == [0.07]
    assert reads == [1, 1]
    assert not cached.exists()  # the table of the earlier content is gone
    other = query_comparisons(db_settings, cache=True)  # another query: its own table
    assert len(other) == 8
    assert len(list(cached.parent.glob("comparisons-*.pkl"))) == 2


def test_no_cache_where_the_server_refuses_its_hash(
    db_settings: PesbenchSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _insert(db_settings)
    monkeypatch.setattr(query, "_content_hash", lambda collection: None)
    assert len(query_comparisons(db_settings, level="structure", cache=True)) == 1
    assert not (db_settings.data_dir / query.CACHE_FOLDER).exists()
