"""``CompareMaker`` runs when a job it was given crashed, and compares what landed."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobflow import Flow, job, run_locally
from pymatgen.core import Lattice, Structure

from pesbench.makers import CompareMaker, PredictMaker, ReferenceMaker
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores import get_job_store
from pesbench.stores.collections import COMPARISONS
from pesbench.stores.connection import open_collection

EMT_ENGINE = "pesbench.testing.emt:EmtEngine"
EMT_MODEL = "ase:ase.calculators.emt.EMT"


@job
def crashes() -> None:
    """A reference job that dies (a node lost, a code that segfaults)."""
    raise RuntimeError("lost")


def test_compare_runs_after_a_crashed_job_and_compares_the_rest(
    db_settings: PesbenchSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cu = Structure(
        Lattice.cubic(3.61), ["Cu"] * 4, [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    )
    cu.perturb(0.05, min_distance=0.05)  # not at its minimum: forces to compare
    reference = ReferenceMaker(engine=EMT_ENGINE).make(cu)
    lost = crashes()
    prediction = PredictMaker(model=EMT_MODEL).make([cu])
    compare = CompareMaker().make(
        references=[reference.output, lost.output], predictions=prediction.output
    )
    with override_settings(**db_settings.model_dump()):
        responses = run_locally(
            Flow([reference, lost, prediction, compare]),
            store=get_job_store(),
            ensure_success=False,
        )
    assert compare.uuid in responses  # it ran, with the crashed job's output as None
    assert responses[compare.uuid][1].output == {"structure": 1, "material": 1}
    with open_collection(COMPARISONS, db_settings) as coll:
        assert coll.count_documents({"level": "structure", "status": {"$ne": "failed"}}) == 1
