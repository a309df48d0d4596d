"""Relaxed properties in the report, properties.csv and ``pesbench query --properties``.

A real property flow: the EMT engine as the "DFT", EMT scaled by 0.8 as a softened model,
surfaces of Cu; every surface energy of the model is 0.8 times the DFT one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from jobflow import run_locally
from planted import SCALED_EMT, SOFTENING, cu_bulk
from pymongo import MongoClient
from typer.testing import CliRunner

from pesbench.analysis.property_errors import pair_properties, property_error_rows
from pesbench.cli.main import app
from pesbench.makers.properties import PropertyFlowMaker, RelaxMaker
from pesbench.report import write_report
from pesbench.report.properties import RELAXED_STATEMENT, properties_data
from pesbench.report.relaxed import RelaxedProperties, load_relaxed_properties
from pesbench.report.render import render_properties
from pesbench.settings import PesbenchSettings
from pesbench.stores.query import query_properties

CAMPAIGN = "relaxed-surfaces"
PARAMS = {"max_index": 1, "min_slab_A": 6.0, "min_vacuum_A": 8.0}


def _run_flow() -> None:
    maker = PropertyFlowMaker(
        categories={"surface": PARAMS},
        dft_relax_maker=RelaxMaker(engine="pesbench.testing.emt:EmtEngine", fmax=0.002),
        model_relax_maker=RelaxMaker(
            model=SCALED_EMT, calculator_kwargs={"scale": SOFTENING}, fmax=0.002
        ),
    )
    run_locally(maker.make([cu_bulk()], campaign=CAMPAIGN), ensure_success=True)


def test_report_csv_and_query_of_relaxed_properties(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _run_flow()
    with MongoClient(db_settings.db_uri) as client:  # a note, as of a term that failed
        client[db_settings.db_name].property_sets.update_many(
            {"side_kind": "model"}, {"$set": {"notes": ["slab x: failed"]}}
        )

    # a campaign with properties and no comparisons still gets a report
    files = write_report(CAMPAIGN, tmp_path / "rep", db_settings)
    page = files.html.read_text()
    assert "<h2>Properties (relaxed)</h2>" in page
    assert RELAXED_STATEMENT.split("(")[0] in page
    assert "property parity" in files.figures
    assert "surface Cu, ase:pesbench.testing.emt.ScaledEMT: slab x: failed" in page

    rows = pd.read_csv(tmp_path / "rep" / "properties.csv")
    assert (tmp_path / "rep" / "properties.csv") in files.csv
    assert len(rows) == 3
    assert set(rows["category"]) == {"surface"}
    assert set(rows["name"]) == {"surface_energy"}
    assert set(rows["unit"]) == {"J/m^2"}
    assert set(rows["functional"]) == {"PBE"}
    assert (rows["model_value"] / rows["dft_value"]).tolist() == pytest.approx(
        [SOFTENING] * 3, abs=2e-3
    )
    assert rows["relative_error"].tolist() == pytest.approx([SOFTENING - 1] * 3, abs=2e-3)
    assert rows["underpredicted"].all()
    assert (rows["n"] == 1).all()
    # the fraction underpredicted, per property and per model: 1.0 (3 of 3)
    relaxed = load_relaxed_properties(CAMPAIGN, db_settings)
    assert relaxed.summary["fraction_underpredicted"].tolist() == [1.0]
    assert relaxed.summary["n"].tolist() == [3]
    assert relaxed.summary["slope"].tolist() == pytest.approx([SOFTENING], abs=2e-3)
    assert "<th>fraction_underpredicted</th>" in page

    frame = query_properties(db_settings, campaign=CAMPAIGN)
    assert frame["label"].tolist() == rows["label"].tolist()
    assert query_properties(db_settings, campaign="other").empty
    assert query_properties(db_settings, functional="r2SCAN").empty

    runner = CliRunner()
    result = runner.invoke(app, ["query", "--properties", "--campaign", CAMPAIGN])
    assert result.exit_code == 0, result.output
    for label in rows["label"]:
        assert label in result.output
    assert "fraction_underpredicted" in result.output
    assert "(3 rows;" in result.output
    same = runner.invoke(app, ["query", "--level", "properties", "--campaign", CAMPAIGN])
    assert same.output == result.output
    out = tmp_path / "props.csv"
    result = runner.invoke(app, ["query", "--properties", "--csv", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["model_value"].tolist() == pytest.approx(rows["model_value"])


def test_report_section_draws_the_phonon_dos() -> None:
    ref = np.linspace(0.5, 8.0, 48)
    common = {
        "category": "phonon",
        "material": "Cu",
        "name": "phonon_frequencies",
        "label": "mesh 8x8x8",
        "unit": "THz",
        "bulk_id": "Cu-1",
        "functional": "PBE",
    }
    dft = {**common, "value": 8.0, "values": list(ref), "side": "PBE (emt)", "side_kind": "dft"}
    model = {**common, "value": 8.0 * 0.9, "values": list(0.9 * ref), "side": "m",
             "side_kind": "model"}  # fmt: skip
    pairs = pair_properties([dft], [model])
    relaxed = RelaxedProperties(pairs=pairs, rows=property_error_rows(pairs), n_sets=2)
    html_text = render_properties(properties_data(relaxed))
    assert "Phonon density of states" in html_text
    assert html_text.count("data:image/png;base64") == 2  # parity and DOS
