"""A worker killed in the middle of a DFT property job's relaxations (issue 12, acceptance 4).

The resumed job finds every relaxation stored before the kill and redoes at most the one
it was in. Each DFT relaxation (EmtEngine.relax) writes its own run folder ``relax_*``
before it sleeps, so the folders count the relaxations computed, killed ones included.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from campaigns import EMT, emt_campaign
from fireworks import FWorker
from fireworks.core.rocket_launcher import rapidfire

from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.launchpad import get_launchpad
from pesbench.stores.properties import (
    PROPERTIES_COLLECTION,
    PROPERTY_SETS_COLLECTION,
    RELAXATIONS_COLLECTION,
)
from pesbench.workflows.execute import resume_campaign, submit_campaign
from pesbench.workflows.fireworks import DFT_CATEGORY, MLIP_CATEGORY
from pesbench.workflows.spec import load_spec

NAME = "property-resume"
SLEEP_S = 2.0
"""Seconds each DFT calculation and relaxation sleeps: the window to kill the worker in."""
PROPERTIES = {
    "categories": {"surface": {"max_index": 1, "min_slab_A": 6.0, "min_vacuum_A": 8.0}},
    "functionals": ["PBE"],
    "fmax": 0.002,
}
DFT = {"side_kind": "dft"}


def _count(collection: str, query: dict, settings: PesbenchSettings) -> int:
    with open_collection(collection, settings) as coll:
        return coll.count_documents(query)


def _relax_dirs(folder: Path) -> set[Path]:
    """Run folders of the DFT relaxations started so far (the engine writes inputs.json)."""
    return {p for p in folder.rglob("relax_*") if (p / "inputs.json").is_file()}


def _in_a_relaxation(folder: Path, settings: PesbenchSettings) -> bool:
    """A DFT property job has stored two relaxations or more and is inside the next one."""
    stored = _count(RELAXATIONS_COLLECTION, DFT, settings)
    return (
        stored >= 2
        and len(_relax_dirs(folder)) == stored + 1
        and _count(PROPERTY_SETS_COLLECTION, DFT, settings) == 0
    )


def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
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
def test_killed_property_job_redoes_at_most_the_relaxation_it_was_in(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_spec(
        emt_campaign(
            tmp_path,
            NAME,
            functionals=["PBE"],
            models=["ase:ase.calculators.emt.EMT"],
            max_per_category=1,
            dft={"engine": EMT, "overrides": {"sleep_s": SLEEP_S}},
            properties=PROPERTIES,
        )
    )
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
        _wait_for(lambda: _in_a_relaxation(tmp_path, db_settings), 180, "a DFT relaxation")
        os.killpg(worker.pid, signal.SIGKILL)  # the worker dies mid-relaxation
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    stored_at_kill = _count(RELAXATIONS_COLLECTION, DFT, db_settings)
    started_at_kill = _relax_dirs(tmp_path)
    assert _count(PROPERTY_SETS_COLLECTION, DFT, db_settings) == 0
    assert len(started_at_kill) == stored_at_kill + 1  # killed inside a relaxation
    running = [fw["name"] for fw in launchpad.fireworks.find({"state": "RUNNING"})]
    assert len(running) == 1
    assert re.fullmatch(r"properties surface (Cu|Al) PBE DFT", running[0])

    time.sleep(2)
    rerun = resume_campaign(NAME, db_settings, lost_after_s=1)
    assert len(rerun["lost"]) == 1
    for category in (DFT_CATEGORY, MLIP_CATEGORY, DFT_CATEGORY):
        rapidfire(launchpad, FWorker(category=category), max_loops=1, strm_lvl="ERROR")
    assert launchpad.fireworks.count_documents({"state": {"$ne": "COMPLETED"}}) == 0

    # every relaxation stored once, and each DFT one computed once but the killed one
    with open_collection(RELAXATIONS_COLLECTION, db_settings) as coll:
        ids = Counter(doc["relaxation_id"] for doc in coll.find({}, {"relaxation_id": 1}))
    assert set(ids.values()) == {1}  # and some are stored
    stored = _count(RELAXATIONS_COLLECTION, DFT, db_settings)
    missing_at_kill = stored - stored_at_kill
    assert missing_at_kill >= 1  # the kill left relaxations to do
    # the missing ones include the killed one: it is redone, nothing stored is
    assert len(_relax_dirs(tmp_path) - started_at_kill) == missing_at_kill
    assert len(_relax_dirs(tmp_path)) == stored + 1

    # both sides' values, of both materials, agree (EMT against EMT)
    with open_collection(PROPERTIES_COLLECTION, db_settings) as coll:
        docs = list(coll.find({"campaigns": NAME}))
    values = {(d["material"], d["label"], d["side_kind"]): d["value"] for d in docs}
    dft = {key: value for key, value in values.items() if key[2] == "dft"}
    assert {key[0] for key in dft} == {"Cu", "Al"}
    assert len(values) == 2 * len(dft)
    for (material, label, _), value in dft.items():
        assert values[(material, label, "model")] == pytest.approx(value, rel=1e-3)
    assert _count(PROPERTY_SETS_COLLECTION, {}, db_settings) == 4  # 2 materials x 2 sides
