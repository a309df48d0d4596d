"""Slow end-to-end campaign tests: a real SLURM cluster, and a worker killed mid-job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from campaigns import EMT, emt_campaign
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from fireworks.queue.queue_launcher import launch_rocket_to_queue
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from gpaw_engine import usable_gpaw

from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import collection_store
from pesbench.stores.launchpad import get_launchpad
from pesbench.workflows.execute import campaign_status, resume_campaign, submit_campaign
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY, write_worker_files
from pesbench.workflows.spec import load_spec

REPO = Path(__file__).resolve().parents[2]


def _spec(tmp_path: Path, name: str, overrides: dict | None = None) -> Path:
    return emt_campaign(
        tmp_path,
        name,
        dft={"engine": EMT, "overrides": overrides or {}},
        chunk_size=3,
        resources={"dft": {"cores": 1, "walltime": "00:10:00"}},
    )


def _ids(collection: str, key: str, settings: PesbenchSettings) -> list[str]:
    store = collection_store(collection, settings)
    store.connect()
    try:
        return [doc[key] for doc in store.query({}, properties=[key])]
    finally:
        store.close()


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _env(settings: PesbenchSettings) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("PESBENCH_")}
    return {
        **clean,
        "PESBENCH_DB_URI": str(settings.db_uri),
        "PESBENCH_DB_NAME": settings.db_name,
        "PESBENCH_DATA_DIR": str(settings.data_dir),
    }


@pytest.mark.slow
def test_campaign_through_a_real_slurm_cluster(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    script = REPO / "scripts" / "slurm-cluster.sh"
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("the SLURM test needs root under CI")
        pytest.skip("a local SLURM cluster needs root")
    subprocess.run([str(script), "start"], check=True, timeout=600, capture_output=True)
    try:
        spec = load_spec(_spec(tmp_path, "slurm-campaign"))
        submit_campaign(spec, db_settings)
        launchpad = get_launchpad(db_settings)
        for category in (DFT_CATEGORY, MLIP_CATEGORY):
            folder = tmp_path / category
            write_worker_files(
                folder,
                category,
                "slurm",
                settings=db_settings,
                walltime="00:10:00",
                pre_rocket=(
                    f"export PESBENCH_DB_URI={db_settings.db_uri} "
                    f"PESBENCH_DB_NAME={db_settings.db_name} "
                    f"PESBENCH_DATA_DIR={db_settings.data_dir} "
                    f"PATH={Path(sys.executable).parent}:$PATH"
                ),
                rapidfire_timeout_s=240,
            )
            qadapter = CommonAdapter.from_file(str(folder / "my_qadapter.yaml"))
            fworker = FWorker.from_file(str(folder / "my_fworker.yaml"))
            # qlaunch submits a worker once its category has a ready job: the mlip jobs
            # appear when the plan (run by the dft worker under SLURM) has run
            _wait_for(lambda f=fworker: launchpad.run_exists(f), 240, f"ready {category} jobs")
            assert launch_rocket_to_queue(launchpad, fworker, qadapter, launcher_dir=str(folder))

        def all_done() -> bool:
            total = launchpad.fireworks.count_documents({})
            return (
                total > 4 and launchpad.fireworks.count_documents({"state": "COMPLETED"}) == total
            )

        _wait_for(all_done, 300, "every campaign job to complete through SLURM")
    finally:
        subprocess.run(["scancel", "--user", "root"], check=False, capture_output=True)
        subprocess.run([str(script), "stop"], check=False, timeout=60, capture_output=True)
    assert len(_ids("references", "reference_id", db_settings)) == 12
    assert len(_ids("predictions", "prediction_id", db_settings)) == 6
    status = campaign_status("slurm-campaign", db_settings)
    assert status.fireworks[MLIP_CATEGORY] == {"COMPLETED": 2}


@pytest.mark.slow
def test_killed_worker_is_resumed_without_duplicates(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_spec(_spec(tmp_path, "resume-campaign", overrides={"sleep_s": 3}))
    submit_campaign(spec, db_settings)
    launchpad = get_launchpad(db_settings)
    worker = subprocess.Popen(
        [sys.executable, "-m", "pesbench.cli.main", "worker", "--category", DFT_CATEGORY],
        env=_env(db_settings),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(
            lambda: (
                launchpad.fireworks.count_documents(
                    {"state": "RUNNING", "name": {"$regex": "^reference"}}
                )
                > 0
            ),
            180,
            "a reference job to be running",
        )
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies mid-job
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert launchpad.fireworks.count_documents({"state": "RUNNING"}) == 1  # the lost run
    time.sleep(2)
    rerun = resume_campaign("resume-campaign", db_settings, lost_after_s=1)
    assert len(rerun["lost"]) == 1
    assert launchpad.fireworks.count_documents({"state": "RUNNING"}) == 0

    for category in (DFT_CATEGORY, MLIP_CATEGORY, DFT_CATEGORY):
        rapidfire(launchpad, FWorker(category=category), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}) == 0
    refs = _ids("references", "reference_id", db_settings)
    preds = _ids("predictions", "prediction_id", db_settings)
    assert len(refs) == len(set(refs)) == 12  # one per (structure, functional)
    assert len(preds) == len(set(preds)) == 6  # one per (structure, model)


@pytest.mark.slow
def test_gpaw_campaign_then_rerun_reuses_everything(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """The quickstart's path with real DFT (GPAW) and real models, kept small."""
    from pesbench.workflows.execute import preflight, run_campaign

    usable_gpaw(db_settings)
    (tmp_path / "Si.cif").write_text((REPO / "examples/structures/Si.cif").read_text())
    spec_file = tmp_path / "si.yaml"
    spec_file.write_text(
        yaml.safe_dump(
            {
                "name": "si-gpaw",
                "structures": ["Si.cif"],
                "categories": {
                    "high_energy": {
                        "sigmas_A": [0.1],
                        "n_rattled": 1,
                        "strains": [0.03],
                        "md_snapshots": 0,
                        "min_length_A": 2.5,
                    }
                },
                "max_per_category": 2,
                "functionals": ["PBE", "r2SCAN"],
                "dft": {"engine": "gpaw", "overrides": {"ecut": 400, "kspacing": 0.6}},
                "models": ["chgnet-0.3.0", "chgnet-r2scan"],
            }
        )
    )
    spec = load_spec(spec_file)
    preflight(spec)
    start = time.perf_counter()
    first = run_campaign(spec, db_settings)
    first_s = time.perf_counter() - start
    assert first.job_errors == []
    assert first.references_new == 4
    assert first.references_failed == 0
    assert first.predictions_new == 4
    assert Path(first.report).is_file()
    start = time.perf_counter()
    again = run_campaign(spec, db_settings)
    again_s = time.perf_counter() - start
    assert again.references_new == 0
    assert again.references_reused == 4
    assert again.predictions_reused == 4
    assert again_s < first_s


@pytest.mark.slow
@pytest.mark.timeout(1800)  # GPAW references and now relaxed properties: ~10 min on 2 cores
def test_quickstart_through_the_launchpad(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The packaged quickstart (GPAW PBE + r2SCAN, five models, relaxed properties)
    submitted and run by workers; one structure per material and category instead of four
    (the demo runs all of them; here they would be 14 of the suite's minutes)."""
    from importlib.resources import as_file, files

    usable_gpaw(db_settings)
    monkeypatch.chdir(tmp_path)
    with as_file(files("pesbench.workflows").joinpath("quickstart")) as folder:
        spec = load_spec(folder / "quickstart.yaml").model_copy(update={"max_per_category": 1})
        submit_campaign(spec, db_settings)
    launchpad = get_launchpad(db_settings)
    for category in (DFT_CATEGORY, MLIP_CATEGORY, DFT_CATEGORY):
        rapidfire(launchpad, FWorker(category=category), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}) == 0
    n_structures = len(spec.structures)  # one high_energy structure per material
    refs = _ids("references", "reference_id", db_settings)
    preds = _ids("predictions", "prediction_id", db_settings)
    assert len(refs) == len(set(refs)) == n_structures * len(spec.functionals)
    assert len(preds) == len(set(preds)) == n_structures * len(spec.models)
    status = campaign_status(spec.name, db_settings)
    assert status.references == {"success": len(refs), "failed": 0}
    assert status.runs[-1]["finished"]["report"].endswith("report.html")
