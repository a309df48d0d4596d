"""PredictMaker through jobflow into a real MongoDB job store, GridFS included."""

from __future__ import annotations

import pytest
import torch
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from pesbench.makers.predict import PredictMaker
from pesbench.mlip.sanity import reference_cells
from pesbench.schemas.ids import structure_id
from pesbench.schemas.prediction import PredictionChunkDoc, PredictionDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores import get_job_store
from pesbench.stores.predictions import PredictionStore


def test_one_job_predicts_a_chunk_and_stores_the_failure(db_settings: PesbenchSettings) -> None:
    torch.set_num_threads(1)
    cells = reference_cells()
    unknown = Structure(Lattice.cubic(3.0), ["Cm"], [[0, 0, 0]])  # CHGNet knows Z <= 94
    structures = [cells["Si-diamond"], unknown, cells["MgO-rocksalt"], cells["Cu-fcc"]]
    job = PredictMaker(model="chgnet-0.3.0", campaign="test", keep_documents=True).make(structures)
    store = get_job_store(db_settings)
    responses = run_locally(job, store=store, ensure_success=True)
    chunk = PredictionChunkDoc.model_validate(responses[job.uuid][1].output)
    assert chunk.n_structures == 4
    assert chunk.n_failed == 1
    docs = chunk.large_arrays
    assert [d.status for d in docs] == ["success", "failed", "success", "success"]
    assert "Cm" in (docs[1].failure_reason or "")
    assert docs[1].energy is None
    assert docs[0].energy_per_atom == pytest.approx(-5.3138, abs=2e-3)
    assert docs[0].structure_id == structure_id(cells["Si-diamond"])
    assert docs[0].prediction_id.endswith(docs[0].model.checksum)
    assert {d.batch_size for d in docs if d.status == "success"} == {3}
    assert docs[2].campaign == "test"
    assert docs[3].device == "cpu"

    # in MongoDB: the summary in the docs store, the documents in GridFS
    store.connect()
    raw = store.docs_store.query_one({"uuid": job.uuid})
    assert raw["output"]["n_failed"] == 1
    reference = raw["output"]["large_arrays"]
    assert reference["store"] == "data"
    assert "blob_uuid" in reference
    loaded = store.get_output(job.uuid, load=True)
    again = [PredictionDoc.model_validate(d) for d in loaded["large_arrays"]]
    assert again[2].forces == docs[2].forces
    assert again[1].status == "failed"
    store.close()
    # and in the predictions collection as the job finished, the failure included
    with PredictionStore(db_settings) as predictions:
        assert predictions.count() == 4
        assert predictions.get(docs[1].prediction_id).status == "failed"


def test_a_job_given_ids_reads_its_structures_and_its_spec_holds_no_structure(
    db_settings: PesbenchSettings,
) -> None:
    """What campaigns do: the job's inputs are ids; the structures come from the database."""
    import json

    from pesbench.stores.connection import open_collection

    cells = reference_cells()
    cu, si = cells["Cu-fcc"], cells["Si-diamond"]
    with open_collection("structures", db_settings) as coll:  # a stored structure ...
        coll.insert_one({"structure_id": structure_id(cu), "structure": cu.as_dict()})
    with open_collection("references", db_settings) as coll:  # ... and an imported one
        coll.insert_one({"structure_id": structure_id(si), "structure": si.as_dict()})
    ids = [structure_id(si), structure_id(cu)]
    job = PredictMaker(model="ase:ase.calculators.emt.EMT", store=False).make(structure_ids=ids)
    assert '"@class": "Structure"' not in json.dumps(job.as_dict())
    responses = run_locally(job, store=get_job_store(db_settings), ensure_success=True)
    docs = PredictionChunkDoc.model_validate(responses[job.uuid][1].output).large_arrays
    assert [d.structure_id for d in docs] == ids
    assert docs[1].status == "success"  # Cu: EMT knows it
    assert docs[0].status == "failed"  # Si: it does not, but the structure was found

    missing = PredictMaker(model="ase:ase.calculators.emt.EMT").make(structure_ids=["nope"])
    with pytest.raises(LookupError, match="1 structure\\(s\\) not in the database: nope"):
        missing.run(get_job_store(db_settings))


def test_stored_documents_are_not_written_again_to_the_job_store(
    db_settings: PesbenchSettings,
) -> None:
    """By default the output of a job that stored its documents is their summary and ids."""
    cells = reference_cells()
    structures = [cells["Cu-fcc"], cells["Si-diamond"]]  # EMT: Cu yes, Si no
    job = PredictMaker(model="ase:ase.calculators.emt.EMT").make(structures)
    store = get_job_store(db_settings)
    responses = run_locally(job, store=store, ensure_success=True)
    chunk = PredictionChunkDoc.model_validate(responses[job.uuid][1].output)
    assert chunk.stored
    assert chunk.large_arrays == []
    assert (chunk.n_structures, chunk.n_failed) == (2, 1)
    store.connect()
    try:
        assert store.get_output(job.uuid, load=True)["large_arrays"] == []  # no forces
    finally:
        store.close()
    with PredictionStore(db_settings) as predictions:
        stored = {d.prediction_id: d for d in predictions.query()}
    assert sorted(stored) == sorted(chunk.prediction_ids)
    assert stored[chunk.prediction_ids[0]].forces is not None
    assert stored[chunk.prediction_ids[1]].status == "failed"
