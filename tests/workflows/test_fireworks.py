from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire
from fireworks.queue.queue_launcher import launch_rocket_to_queue
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow

from pesbench.settings import PesbenchSettings
from pesbench.stores import get_job_store
from pesbench.stores.launchpad import get_launchpad, uri_with_database
from pesbench.stores.selfcheck import random_array
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY, write_worker_files

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mongodb://127.0.0.1:5/", "mongodb://127.0.0.1:5/pb"),
        ("mongodb://u:p@h:5/admin?tls=true", "mongodb://u:p@h:5/pb?tls=true&authSource=admin"),
        ("mongodb+srv://u:p@c.example.net/?w=1", "mongodb+srv://u:p@c.example.net/pb?w=1"),
        ("mongodb://h:5/pb", "mongodb://h:5/pb"),
    ],
)
def test_uri_with_database(uri: str, expected: str) -> None:
    assert uri_with_database(uri, "pb") == expected


@pytest.mark.parametrize("scheduler", ["slurm", "pbs", "none"])
def test_worker_files(db_settings: PesbenchSettings, tmp_path: Path, scheduler: str) -> None:
    files = write_worker_files(
        tmp_path / "w",
        DFT_CATEGORY,
        scheduler,
        queue="debug",
        cores=4,
        gpus=1,  # type: ignore[arg-type]
    )
    names = sorted(path.name for path in files)
    expected = ["my_fworker.yaml", "my_launchpad.yaml", "pesbench-worker.yaml"]
    assert names == (expected if scheduler == "none" else sorted([*expected, "my_qadapter.yaml"]))
    # the worker's pesbench settings: the LaunchPad's database (job outputs, results)
    config = yaml.safe_load((tmp_path / "w" / "pesbench-worker.yaml").read_text())
    assert config == {"db_uri": db_settings.db_uri, "db_name": db_settings.db_name}
    assert (tmp_path / "w" / "pesbench-worker.yaml").stat().st_mode & 0o777 == 0o600
    fworker = yaml.safe_load((tmp_path / "w" / "my_fworker.yaml").read_text())
    assert fworker["category"] == DFT_CATEGORY
    launchpad = yaml.safe_load((tmp_path / "w" / "my_launchpad.yaml").read_text())
    assert launchpad["host"].endswith(f"/{db_settings.db_name}")
    if scheduler != "none":
        qadapter = yaml.safe_load((tmp_path / "w" / "my_qadapter.yaml").read_text())
        assert qadapter["_fw_q_type"] == scheduler.upper()
        assert qadapter["ntasks"] == 4
        assert qadapter["queue"] == "debug"
        assert "rlaunch" in qadapter["rocket_launch"]
        assert qadapter["rocket_launch"].endswith("singleshot")
        assert (
            f"export PESBENCH_CONFIG={tmp_path / 'w' / 'pesbench-worker.yaml'}"
            in (qadapter["pre_rocket"])
        )


def test_unknown_category_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown worker category"):
        write_worker_files(tmp_path, "gpu", "none")


def _two_category_flow() -> tuple[Flow, str, str]:
    dft = random_array(100, seed=1)
    dft.update_config({"manager_config": {"_category": DFT_CATEGORY}})
    mlip = random_array(200, seed=2)
    mlip.update_config({"manager_config": {"_category": MLIP_CATEGORY}})
    return Flow([dft, mlip], name="two categories"), dft.uuid, mlip.uuid


def test_workers_pull_only_their_category(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    flow, dft_uuid, mlip_uuid = _two_category_flow()
    store = get_job_store(db_settings)
    launchpad = get_launchpad(db_settings)
    launchpad.add_wf(flow_to_workflow(flow, store=store))

    rapidfire(launchpad, FWorker(category=DFT_CATEGORY), max_loops=1, strm_lvl="ERROR")
    states = {fw["spec"]["_category"]: fw["state"] for fw in launchpad.fireworks.find({})}
    assert states == {DFT_CATEGORY: "COMPLETED", MLIP_CATEGORY: "READY"}

    rapidfire(launchpad, FWorker(category=MLIP_CATEGORY), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.count_documents({"state": "COMPLETED"}) == 2
    store.connect()
    try:
        assert len(store.get_output(dft_uuid, load=True)["array"]) == 100
        assert len(store.get_output(mlip_uuid, load=True)["array"]) == 200
    finally:
        store.close()


def test_worker_wait_polls_while_its_jobs_wait_on_other_categories(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--wait`` is idle time: the worker outlives it while a job of its category is coming."""
    monkeypatch.chdir(tmp_path)  # rapidfire's launch folders
    first = random_array(10, seed=1)
    middle = random_array(first.output["n"], seed=2)
    last = random_array(middle.output["n"], seed=3)
    for step, category in ((first, DFT_CATEGORY), (middle, MLIP_CATEGORY), (last, DFT_CATEGORY)):
        step.update_config({"manager_config": {"_category": category}})
    launchpad = get_launchpad(db_settings)
    launchpad.add_wf(
        flow_to_workflow(Flow([first, middle, last]), store=get_job_store(db_settings))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PESBENCH_")}
    env.update(
        PESBENCH_DB_URI=str(db_settings.db_uri),
        PESBENCH_DB_NAME=db_settings.db_name,
        PESBENCH_DATA_DIR=str(db_settings.data_dir),
    )
    worker = subprocess.Popen(
        [str(REPO / ".venv/bin/pesbench"), "worker", "--category", DFT_CATEGORY, "--wait", "3"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while launchpad.fireworks.count_documents({"state": "COMPLETED"}) < 1:
            assert time.monotonic() < deadline, "the first job never ran"
            assert worker.poll() is None, worker.communicate()[0]
            time.sleep(0.5)
        time.sleep(8)  # well past --wait: the last job waits on the READY mlip job
        assert worker.poll() is None, worker.communicate()[0]
        rapidfire(launchpad, FWorker(category=MLIP_CATEGORY), max_loops=1, strm_lvl="ERROR")
        output, _ = worker.communicate(timeout=120)  # runs the last job, then idles 3 s
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "2 job(s) completed" in output
    assert launchpad.fireworks.count_documents({"state": "COMPLETED"}) == 3


def _slurm_cluster() -> Path:
    script = REPO / "scripts" / "slurm-cluster.sh"
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        if os.environ.get("CI"):
            pytest.fail("the SLURM test needs root and apt-get under CI")
        pytest.skip("a local SLURM cluster needs root and Debian's apt-get")
    return script


@pytest.mark.slow
def test_qlaunch_through_a_real_slurm_cluster(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    script = _slurm_cluster()
    subprocess.run([str(script), "start"], check=True, timeout=600, capture_output=True)
    try:
        flow, dft_uuid, _ = _two_category_flow()
        store = get_job_store(db_settings)
        launchpad = get_launchpad(db_settings)
        launchpad.add_wf(flow_to_workflow(flow, store=store))
        folder = tmp_path / "worker"
        write_worker_files(folder, DFT_CATEGORY, "slurm", settings=db_settings, walltime="00:05:00")
        qadapter = CommonAdapter.from_file(str(folder / "my_qadapter.yaml"))
        fworker = FWorker.from_file(str(folder / "my_fworker.yaml"))
        assert launch_rocket_to_queue(launchpad, fworker, qadapter, launcher_dir=str(tmp_path))

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if launchpad.fireworks.count_documents({"state": "COMPLETED"}) == 1:
                break
            time.sleep(1)
        completed = list(launchpad.fireworks.find({"state": "COMPLETED"}, {"spec._category": 1}))
        outputs = sorted(p.name for p in tmp_path.rglob("*-*.out"))
        assert len(completed) == 1, f"no job completed through SLURM; job outputs: {outputs}"
        assert completed[0]["spec"]["_category"] == DFT_CATEGORY
        store.connect()
        try:
            assert len(store.get_output(dft_uuid, load=True)["array"]) == 100
        finally:
            store.close()
    finally:
        subprocess.run([str(script), "stop"], check=False, timeout=60, capture_output=True)
