"""Campaigns end to end on the EMT fake engine (real CHGNet, real MongoDB, real FireWorks)."""

from __future__ import annotations

from pathlib import Path

import pytest
from campaigns import emt_campaign
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from pymatgen.core import Lattice, Structure

from pesbench.makers.finetune import load_training_set
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import build_comparisons, collection_store
from pesbench.stores.launchpad import get_launchpad
from pesbench.stores.query import query_comparisons
from pesbench.workflows.execute import campaign_status, run_campaign, submit_campaign
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.spec import SpecError, load_spec


def _spec(tmp_path: Path, name: str = "emt-test", **changes: object) -> Path:
    return emt_campaign(tmp_path, name, **changes)


def _count(collection: str, criteria: dict, settings: PesbenchSettings) -> int:
    store = collection_store(collection, settings)
    store.connect()
    try:
        return store.count(criteria)
    finally:
        store.close()


def test_local_campaign_then_rerun_reuses_everything(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    spec = load_spec(_spec(tmp_path))
    first = run_campaign(spec, db_settings)
    assert first.job_errors == []
    assert first.structures == 6
    assert first.references_new == 12  # 6 structures x 2 functionals
    assert first.references_reused == 0
    assert first.predictions_new == 6
    assert first.prediction_jobs == 2  # chunks of 4
    assert Path(first.report).is_file()
    assert _count("references", {"campaign": spec.name}, db_settings) == 12
    assert _count("predictions", {"campaign": spec.name}, db_settings) == 6
    assert _count("comparisons", {}, db_settings) > 0

    again = run_campaign(spec, db_settings)
    assert again.references_new == 0
    assert again.references_reused == 12
    assert again.predictions_new == 0
    assert again.predictions_reused == 6
    assert _count("references", {}, db_settings) == 12  # nothing stored twice
    assert _count("predictions", {}, db_settings) == 6

    status = campaign_status(spec.name, db_settings)
    assert status.structures == 6
    assert status.references == {"success": 12, "failed": 0}
    assert len(status.runs) == 2


def test_overlapping_campaign_computes_only_what_is_new(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    run_campaign(load_spec(_spec(tmp_path)), db_settings)
    wider = load_spec(_spec(tmp_path, name="wider", functionals=["PBE", "PBE+U", "r2SCAN"]))
    summary = run_campaign(wider, db_settings)
    assert summary.references_new == 6  # only the PBE+U ones
    assert summary.references_reused == 12

    # the reused results count as the wider campaign's too, not only as the first one's
    assert _count("references", {"campaign": "emt-test", "campaigns": "wider"}, db_settings) == 12
    assert _count("references", {"campaign": "wider", "campaigns": ["wider"]}, db_settings) == 6
    assert _count("predictions", {"campaigns": ["emt-test", "wider"]}, db_settings) == 6
    assert campaign_status("wider", db_settings).references == {"success": 18, "failed": 0}
    assert campaign_status("emt-test", db_settings).references == {"success": 12, "failed": 0}
    r2scan = load_training_set("r2SCAN", settings=db_settings, campaign="wider")
    assert len(r2scan) == 6  # computed by emt-test, reused by wider

    # so do their comparisons: wider's report and queries show every group it asked for
    first = query_comparisons(db_settings, "structure", campaign="emt-test")
    both = query_comparisons(db_settings, "structure", campaign="wider")
    assert len(first) > 0
    assert set(first["comparison_id"]) < set(both["comparison_id"])  # plus the PBE+U pairs
    assert set(both["functional"]) == {"PBE", "PBE+U"}  # native pairs of a PBE model
    material = query_comparisons(db_settings, "material", campaign="wider")
    assert set(material["functional"]) == {"PBE", "PBE+U"}
    assert build_comparisons(db_settings) == {"structure": 0, "material": 0}  # up to date


def test_failed_references_are_stored_and_not_compared(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]).to(
        filename=str(tmp_path / "Si.cif")
    )
    spec = load_spec(_spec(tmp_path, structures=["Cu.cif", "Si.cif"], functionals=["PBE"]))
    summary = run_campaign(spec, db_settings)
    assert summary.references_failed == 3  # EMT has no Si
    assert _count("references", {"status": "failed"}, db_settings) == 3
    status = campaign_status(spec.name, db_settings)
    assert any("EMT has no parameters" in failure for failure in status.failures)


def test_fireworks_workers_run_the_campaign_by_category(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_spec(_spec(tmp_path, name="fw-test"))
    submit_campaign(spec, db_settings)
    launchpad = get_launchpad(db_settings)
    categories = {fw["spec"].get("_category") for fw in launchpad.fireworks.find({})}
    assert categories == {DFT_CATEGORY}  # generate, plan, finish: CPU jobs
    # the CPU worker generates, plans (adding dft and mlip jobs), and computes references
    rapidfire(launchpad, FWorker(category=DFT_CATEGORY), max_loops=1, strm_lvl="ERROR")
    waiting = {fw["spec"]["_category"] for fw in launchpad.fireworks.find({"state": "READY"})}
    assert waiting == {MLIP_CATEGORY}  # only the predictions are left to the GPU worker
    rapidfire(launchpad, FWorker(category=MLIP_CATEGORY), max_loops=1, strm_lvl="ERROR")
    rapidfire(launchpad, FWorker(category=DFT_CATEGORY), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}) == 0
    assert _count("references", {"campaign": "fw-test"}, db_settings) == 12
    assert _count("predictions", {"campaign": "fw-test"}, db_settings) == 6
    status = campaign_status("fw-test", db_settings)
    assert status.fireworks[DFT_CATEGORY] == {"COMPLETED": 2 + 1 + 12 + 1}  # gen, plan, refs, end
    assert status.fireworks[MLIP_CATEGORY] == {"COMPLETED": 2}


def test_unknown_engine_in_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"dft\.engine: unknown DFT engine 'castep'"):
        load_spec(_spec(tmp_path, dft={"engine": "castep"}))


def test_umlip_only_campaign(db_settings: PesbenchSettings, tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, name="mlip-only", functionals=[]))
    summary = run_campaign(spec, db_settings)
    assert summary.job_errors == []
    assert summary.references_new == 0
    assert summary.predictions_new == 6
    assert _count("predictions", {"campaign": "mlip-only"}, db_settings) == 6
    assert "it has no successful references stored" in summary.report_error  # said so
