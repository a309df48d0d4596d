"""``pesbench status`` of a campaign on an imported dataset counts the dataset's structures."""

from __future__ import annotations

import shutil
from pathlib import Path

from ase.io import write
from emt_frames import emt_frames
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.workflows.execute import campaign_status
from pesbench.workflows.records import CAMPAIGNS_COLLECTION, join_campaign


def _import(path: Path, *args: str) -> None:
    result = CliRunner().invoke(app, ["import", str(path), *args])
    assert result.exit_code == 0, result.output


def test_status_counts_the_structures_of_a_dataset_campaign(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    pbe = tmp_path / "pbe.extxyz"
    write(pbe, emt_frames(4, seed=2), format="extxyz")
    r2scan = tmp_path / "r2scan.extxyz"
    shutil.copy(pbe, r2scan)  # the same 4 structures at a second functional: 8 references
    _import(pbe, "--dataset", "emt-data", "--functional", "PBE")
    _import(r2scan, "--dataset", "emt-data", "--functional", "r2SCAN")
    other = tmp_path / "other.extxyz"
    write(other, emt_frames(3, seed=9), format="extxyz")
    _import(other, "--dataset", "other", "--functional", "PBE")  # not in the campaign
    spec = {"name": "byod", "dataset": "emt-data", "functionals": ["PBE", "r2SCAN"]}
    with open_collection("references", db_settings) as refs:
        ids = {d["reference_id"] for d in refs.find({"provenance.dataset": "emt-data"})}
    assert len(ids) == 8
    # what the plan of this campaign records: its spec, and the references it took
    with open_collection(CAMPAIGNS_COLLECTION, db_settings) as campaigns:
        campaigns.insert_one({"name": "byod", "spec": spec, "runs": []})
    join_campaign("references", "reference_id", ids, "byod", db_settings)

    assert campaign_status("byod", db_settings).structures == 4
    result = CliRunner().invoke(app, ["status", "byod"])
    assert result.exit_code == 0, result.output
    (row,) = [line for line in result.output.splitlines() if "structures" in line]
    assert row.split()[-2:] == ["4", "│"]
