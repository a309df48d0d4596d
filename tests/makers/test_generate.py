from __future__ import annotations

import pytest
from jobflow import Flow, OutputReference, job, run_locally
from pymatgen.core import Lattice, Structure

from pesbench.makers.generate import GenerateMaker
from pesbench.schemas.structure import GenerationDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores import get_job_store
from pesbench.stores.collections import STRUCTURES
from pesbench.stores.connection import open_collection
from pesbench.structures import GenerationParameterError, StructureInputError, generate


@pytest.fixture(scope="module")
def mgo() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()


def test_maker_runs_and_stores_documents(mgo: Structure, db_settings: PesbenchSettings) -> None:
    maker = GenerateMaker(category="defect", parameters={"max_interstitial_sites": 1})
    job = maker.make(mgo, source="MgO.cif")
    assert job.name == "generate defect"
    store = get_job_store(db_settings)  # the real mongod, GridFS included
    responses = run_locally(Flow([job]), store=store, ensure_success=True)
    output = responses[job.uuid][1].output
    assert isinstance(output, GenerationDoc)
    assert (
        output.structure_ids == generate(mgo, "defect", {"max_interstitial_sites": 1}).structure_ids
    )
    stored = store.get_output(job.uuid, load=True)
    doc = GenerationDoc.model_validate(stored)  # the monty-serialised form validates too
    assert doc.structure_ids == output.structure_ids
    assert doc.structures[0].source == "MgO.cif"
    assert doc.parameters["max_interstitial_sites"] == 1
    with open_collection(STRUCTURES, db_settings) as coll:  # stored, each once
        stored_ids = sorted(d["structure_id"] for d in coll.find({}, {"structure_id": 1}))
    assert stored_ids == sorted(output.structure_ids)


@job
def _count(structure_ids: list[str]) -> int:
    return len(structure_ids)


def test_a_downstream_job_takes_the_structure_ids_by_reference(
    mgo: Structure, db_settings: PesbenchSettings
) -> None:
    """``generate.output.structure_ids`` is in the stored output, not only a property."""
    generate = GenerateMaker(category="phonon", store=False).make(mgo)
    count = _count(generate.output.structure_ids)
    store = get_job_store(db_settings)
    responses = run_locally(Flow([generate, count]), store=store, ensure_success=True)
    ids = responses[generate.uuid][1].output.structure_ids
    assert responses[count.uuid][1].output == len(ids) > 0
    store.connect()
    try:
        raw = store.query_one({"uuid": generate.uuid}, ["output"])
        # resolved without rebuilding the GenerationDoc (a client without pesbench)
        plain = OutputReference(generate.uuid, (("a", "structure_ids"),))
        resolved = plain.resolve(store, deserialize=False)
    finally:
        store.close()
    assert raw["output"]["structure_ids"] == ids == resolved
    assert GenerationDoc.model_validate(raw["output"]).structure_ids == ids
    with open_collection(STRUCTURES, db_settings) as coll:
        assert coll.count_documents({}) == 0  # store=False: the output only


def test_bad_category_or_parameter_fails_when_the_maker_is_built() -> None:
    with pytest.raises(GenerationParameterError, match="unknown category"):
        GenerateMaker(category="surfaces")
    with pytest.raises(GenerationParameterError, match="unknown parameter 'nope'"):
        GenerateMaker(category="phonon", parameters={"nope": 1})


def test_bad_bulk_fails_the_job_with_its_message(db_settings: PesbenchSettings) -> None:
    overlap = Structure(Lattice.cubic(4.0), ["Mg", "O"], [[0, 0, 0], [0.05, 0, 0]])
    job = GenerateMaker(category="phonon").make(overlap, source="bad.cif")
    with pytest.raises(StructureInputError, match=r"bad\.cif: overlapping atoms"):
        job.run(get_job_store(db_settings))


def test_ids_alone_and_the_first_structures_kept(
    mgo: Structure, db_settings: PesbenchSettings
) -> None:
    """A campaign's generate job: the first two stored, tagged, and their ids returned."""
    everything = generate(mgo, "phonon").structure_ids
    assert len(everything) > 2
    maker = GenerateMaker(category="phonon", keep_structures=False, max_structures=2, campaign="c1")
    job = maker.make(mgo)
    responses = run_locally(Flow([job]), store=get_job_store(db_settings), ensure_success=True)
    output = responses[job.uuid][1].output
    assert output.structures == []
    assert output.structure_ids == everything[:2]
    assert output.skipped[-1].reason == "beyond max_structures=2"
    with open_collection(STRUCTURES, db_settings) as coll:
        stored = {d["structure_id"]: d["tags"] for d in coll.find()}
    assert stored == {i: ["campaign:c1"] for i in everything[:2]}


def test_ids_alone_need_the_store() -> None:
    with pytest.raises(ValueError, match="needs store=True"):
        GenerateMaker(category="phonon", store=False, keep_structures=False)
    with pytest.raises(ValueError, match="at least 1"):
        GenerateMaker(category="phonon", max_structures=0)
