"""Mid-campaign, status, query and report show what has finished (issue 15, items 1 and 5).

A campaign whose worker dies while predicting its second chunk: its finish job never runs,
yet every reference and prediction that finished is in its collection, and
``pesbench status``, ``pesbench query --build`` and ``pesbench report`` show them, the report
marked partial.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from campaigns import emt_campaign
from counting import COUNTING
from jobflow import run_locally
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.settings import PesbenchSettings
from pesbench.workflows.campaign import build_campaign_flow
from pesbench.workflows.spec import load_spec


def test_status_query_and_report_mid_campaign(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "computed.log"
    monkeypatch.setenv("COUNTING_ENGINE_LOG", str(log))
    monkeypatch.setenv("COUNTING_ENGINE_SECONDS", "0")
    # the model's 3 sanity cells, its first chunk of 4 structures; dies on the next chunk
    monkeypatch.setenv("DYING_EMT_LOG", str(tmp_path / "evaluations"))
    monkeypatch.setenv("DYING_EMT_AT", "8")
    monkeypatch.chdir(tmp_path)
    spec = emt_campaign(
        tmp_path, "midway", dft={"engine": COUNTING}, models=["ase:counting.DyingEMT"], chunk_size=4
    )
    with pytest.raises(SystemExit, match="planted kill"):  # the worker dies midway
        run_locally(build_campaign_flow(load_spec(spec)), log=False)
    computed = len(log.read_text().split())  # the references run first: all of them

    runner = CliRunner()
    status = runner.invoke(app, ["status", "midway"])
    assert status.exit_code == 0, status.output
    lines = {line.split("│")[1].strip(): line for line in status.output.splitlines() if "│" in line}
    assert f"success {computed}" in lines["references"]  # every reference that finished
    assert "success 4" in lines["predictions"]  # the first chunk; the second died
    table = tmp_path / "structure.csv"
    query = runner.invoke(app, ["query", "--build", "--campaign", "midway", "--level",
                                "structure", "--output", str(table)])  # fmt: skip
    assert query.exit_code == 0, query.output
    rows = pd.read_csv(table)
    assert len(rows) >= 2  # comparisons of the pairs whose reference finished
    assert set(rows["campaign"]) == {"midway"}
    report = runner.invoke(app, ["report", "midway", "--output", str(tmp_path / "report")])
    assert report.exit_code == 0, report.output
    page = (tmp_path / "report" / "report.html").read_text()
    assert "<b>Partial:</b> the campaign's last run" in page
