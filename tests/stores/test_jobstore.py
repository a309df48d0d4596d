from __future__ import annotations

import numpy as np
from jobflow import Flow, job, run_locally
from pymongo import MongoClient

from pesbench.settings import PesbenchSettings
from pesbench.stores import DATA_STORE, JOBS_COLLECTION, get_job_store
from pesbench.stores.selfcheck import check_job_store, random_array


@job
def add(a: float, b: float) -> float:
    return a + b


def test_run_locally_round_trip(db_settings: PesbenchSettings) -> None:
    first = add(1.5, 2.0)
    second = add(first.output, 10.0)
    store = get_job_store(db_settings)
    responses = run_locally(Flow([first, second]), store=store, log=False, ensure_success=True)
    assert responses[second.uuid][1].output == 13.5

    # a fresh store object (another process, in real life) reads the same outputs
    reader = get_job_store(db_settings)
    reader.connect()
    try:
        assert reader.get_output(first.uuid) == 3.5
        assert reader.get_output(second.uuid) == 13.5
        assert reader.count({"uuid": {"$in": [first.uuid, second.uuid]}}) == 2
    finally:
        reader.close()
    with MongoClient(db_settings.db_uri) as client:
        assert client[db_settings.db_name][JOBS_COLLECTION].count_documents({}) == 2


def test_twenty_megabyte_array_goes_to_gridfs(db_settings: PesbenchSettings) -> None:
    n_floats = 20 * 1024 * 1024 // 8  # 20 MiB of float64
    step = random_array(n_floats, seed=3)
    run_locally(Flow([step]), store=get_job_store(db_settings), log=False, ensure_success=True)

    with MongoClient(db_settings.db_uri) as client:
        db = client[db_settings.db_name]
        doc = db[JOBS_COLLECTION].find_one({"uuid": step.uuid})
        size = len(doc.__repr__())
        assert size < 100_000  # the docs-store document holds a reference, not the array
        reference = doc["output"]["array"]
        assert reference["@class"] == "OutputReference" or "blob_uuid" in reference
        files = db[f"{JOBS_COLLECTION}_{DATA_STORE}.files"]
        assert files.count_documents({}) == 1
        assert files.find_one()["length"] > 1_000_000  # compressed, still megabytes

    store = get_job_store(db_settings)
    store.connect()
    try:
        output = store.get_output(step.uuid, load=True)
    finally:
        store.close()
    expected = np.random.default_rng(3).random(n_floats)
    np.testing.assert_array_equal(np.asarray(output["array"]), expected)
    assert output["checksum"] == float(expected.sum())


def test_store_selfcheck(db_settings: PesbenchSettings) -> None:
    check = check_job_store(db_settings, megabytes=1.0)
    assert check.megabytes == 1.0
    assert check.seconds > 0
