"""A campaign whose DFT side is an imported dataset: no generation, no DFT job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from ase.io import write
from emt_frames import emt_frames
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.makers.predict import PredictMaker
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.jobstore import get_job_store
from pesbench.stores.query import query_comparisons
from pesbench.workflows.campaign import CampaignFlowMaker, _dataset_references
from pesbench.workflows.execute import run_campaign
from pesbench.workflows.spec import SpecError, load_spec

SCALED_EMT = "ase:pesbench.testing.emt.ScaledEMT"
"""EMT softened by a known factor: the "uMLIP" (EMT labelled the data: the "DFT")."""


def _spec(folder: Path, **changes: object) -> Path:
    spec = {"name": "byod", "dataset": "emt-data", "functionals": ["PBE"], "models": [SCALED_EMT]}
    spec.update(changes)
    path = folder / "byod.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_campaign_on_an_imported_dataset(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    data = tmp_path / "emt.extxyz"
    write(data, emt_frames(6, seed=1), format="extxyz")  # Cu and Al, EMT-labelled
    result = CliRunner().invoke(
        app, ["import", str(data), "--dataset", "emt-data", "--functional", "PBE"]
    )
    assert result.exit_code == 0, result.output
    spec = load_spec(_spec(tmp_path))
    maker = CampaignFlowMaker(
        predict_maker=PredictMaker(model="", calculator_kwargs={"scale": 0.8})
    )

    summary = run_campaign(spec, db_settings, maker=maker)

    assert summary.job_errors == []
    assert summary.structures == 6
    assert (summary.references_new, summary.references_reused) == (0, 6)
    assert summary.predictions_new == 6
    with get_job_store(db_settings) as store:  # no generate, no DFT: plan, predict, finish
        names = {doc["name"] for doc in store.query({}, properties=["name"])}
    assert names == {"plan byod", "predict " + SCALED_EMT + " 1/1", "finish byod"}
    material = query_comparisons(db_settings, "material", campaign="byod")
    # softened by exactly 0.8; extxyz keeps the labels to ~1e-8 eV/Å
    assert sorted(material["formula"]) == ["Al", "Cu"]
    assert set(material["category"]) == {"imported"}
    assert material["softening_scale"].to_numpy() == pytest.approx([0.8, 0.8], abs=1e-6)
    report = Path(summary.report)
    assert report.is_file()
    table = pd.read_csv(report.parent / "material.csv")
    assert table["softening_scale"].to_numpy() == pytest.approx([0.8, 0.8], abs=1e-6)
    assert "imported" in report.read_text()
    out = tmp_path / "q.csv"
    queried = CliRunner().invoke(
        app,
        [
            "query",
            "--campaign",
            "byod",
            "--category",
            "imported",
            "--material",
            "Cu",
            "-o",
            str(out),
        ],
    )
    assert queried.exit_code == 0, queried.output
    assert pd.read_csv(out)["softening_scale"].to_numpy() == pytest.approx([0.8], abs=1e-6)


def test_dataset_campaign_needs_the_dataset_and_no_generation(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    with pytest.raises(SpecError, match="categories: not with 'dataset'"):
        load_spec(_spec(tmp_path, categories={"surface": {}}))
    spec = load_spec(_spec(tmp_path))
    with pytest.raises(SpecError, match="dataset 'emt-data' has no successful reference"):
        run_campaign(spec, db_settings)


def test_dataset_plan_reads_reference_ids_only(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    data = tmp_path / "emt.extxyz"
    write(data, emt_frames(5, seed=4), format="extxyz")
    result = CliRunner().invoke(
        app, ["import", str(data), "--dataset", "emt-data", "--functional", "PBE"]
    )
    assert result.exit_code == 0, result.output
    with open_collection("references", db_settings) as refs:
        expected = sorted(refs.distinct("structure_id"))
        # a structure no parser reads: planning must not read any
        refs.update_many({}, {"$set": {"structure": {"unreadable": True}}})
    spec = load_spec(_spec(tmp_path))

    docs, work = _dataset_references(spec, db_settings)

    assert [doc.structure_id for doc in docs] == expected
    assert (work.new, work.reused) == (0, 5)
    with open_collection("references", db_settings) as refs:
        assert refs.count_documents({"campaigns": "byod"}) == 5
