"""A round trip through the JobStore: one jobflow job whose large array goes to GridFS."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from jobflow import Flow, job, run_locally

from pesbench.settings import PesbenchSettings
from pesbench.stores.jobstore import get_job_store

__all__ = ["StoreCheck", "check_job_store", "random_array"]


@job(data="array")  # the key "array" goes to the additional store DATA_STORE
def random_array(n_floats: int, seed: int) -> dict:
    """Return ``n_floats`` random numbers under the key that goes to the data store."""
    values = np.random.default_rng(seed).random(n_floats)
    return {"array": values, "n": n_floats, "checksum": float(values.sum())}


@dataclass
class StoreCheck:
    """What :func:`check_job_store` measured."""

    uuid: str
    megabytes: float
    seconds: float


def check_job_store(settings: PesbenchSettings, megabytes: float = 8.0) -> StoreCheck:
    """Run one job through ``run_locally`` and read its output back from MongoDB.

    Raises
    ------
    AssertionError
        If what is read back differs from what the job computed.
    """
    store = get_job_store(settings)
    n_floats = int(megabytes * 1e6 / 8)
    step = random_array(n_floats, seed=7)
    start = time.perf_counter()
    run_locally(Flow([step], name="pesbench store check"), store=store, log=False)
    store.connect()
    try:
        output = store.get_output(step.uuid, load=True)
    finally:
        store.close()
    expected = np.random.default_rng(7).random(n_floats)
    if len(output["array"]) != n_floats or not np.allclose(output["array"], expected):
        raise AssertionError("the array read back from the JobStore differs from the one stored")
    return StoreCheck(step.uuid, megabytes, time.perf_counter() - start)
