"""Two workers on overlapping campaigns compute each reference once (issue 15, item 2).

Both campaigns are planned before either computes anything, so both plans ask for every
reference; the claims on the references' keys let one worker compute each and the other
wait for it and reuse it. The engine is EMT slowed to 1 s per single point, logging each
one it runs.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from pathlib import Path

import pytest
from campaigns import emt_campaign
from counting import COUNTING
from pymongo import MongoClient

from pesbench.settings import PesbenchSettings

MODEL = "ase:ase.calculators.emt.EMT"


def _run(spec: str, workdir: str, settings: dict[str, str], log: str) -> None:
    """One worker: run the campaign to its end (a child process)."""
    from jobflow import run_locally

    from pesbench.settings import override_settings
    from pesbench.workflows.campaign import build_campaign_flow
    from pesbench.workflows.spec import load_spec

    os.environ["COUNTING_ENGINE_LOG"] = log
    os.chdir(workdir)
    with override_settings(**settings):
        run_locally(build_campaign_flow(load_spec(spec)), ensure_success=True, log=False)


@pytest.mark.slow
def test_overlapping_campaigns_compute_each_reference_once(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    specs = []
    for name in ("alpha", "beta"):
        folder = tmp_path / name
        folder.mkdir()
        specs.append(emt_campaign(folder, name, dft={"engine": COUNTING}, models=[MODEL]))
    log = tmp_path / "computed.log"
    settings = {
        "db_uri": str(db_settings.db_uri),
        "db_name": db_settings.db_name,
        "data_dir": str(db_settings.data_dir),
    }
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_run, args=(str(spec), str(spec.parent), settings, str(log)))
        for spec in specs
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    assert [w.exitcode for w in workers] == [0, 0]

    computed = Counter(log.read_text().split())
    with MongoClient(db_settings.db_uri) as client:
        db = client[db_settings.db_name]
        refs = list(db.references.find({}, {"reference_id": 1, "status": 1, "campaigns": 1}))
        runs = {c["name"]: c["runs"] for c in db.campaigns.find()}
        claims_left = db.claims.count_documents({})
    assert len(refs) >= 8
    assert {r["status"] for r in refs} == {"success"}
    assert set(computed) == {r["reference_id"] for r in refs}
    assert max(computed.values()) == 1, computed.most_common(3)  # each computed once
    for ref in refs:  # and each belongs to both campaigns
        assert {"alpha", "beta"} <= set(ref["campaigns"])
    planned = 0
    for name in ("alpha", "beta"):
        [run] = runs[name]
        planned += run["references_new"]
        assert run["finished"]["references_lost"] == 0
    assert planned > len(refs)  # some planned by both: the overlap the claims resolved
    assert claims_left == 0
