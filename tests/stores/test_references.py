from __future__ import annotations

import pytest
from pymatgen.core import Lattice, Structure
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import REFERENCES_COLLECTION, ReferenceStore


def _doc(energy: float, encut: float = 520.0) -> ReferenceDoc:
    s = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    settings = {"functional": "PBE", "encut": encut}
    return ReferenceDoc(
        structure_id=structure_id(s),
        n_atoms=2,
        energy=energy,
        structure=s,
        functional="PBE",
        code="vasp",
        input_hash=hash_inputs(settings),
        input_settings=settings,
    )


def test_upsert_dedupes_by_reference_id_and_round_trips(db_settings: PesbenchSettings) -> None:
    with ReferenceStore(db_settings) as refs:
        assert refs.upsert([_doc(-1.0), _doc(-2.0)]) == 1  # same reference twice
        refs.upsert([_doc(-3.0)])  # again: replaces
        refs.upsert([_doc(-4.0, encut=680.0)])  # other inputs: another reference
        assert refs.count() == 2
        back = {d.input_settings["encut"]: d for d in refs.query()}
    assert back[520.0].energy == -3.0
    assert back[520.0].structure == _doc(0).structure
    assert back[680.0].reference_id != back[520.0].reference_id


def test_reference_id_index_is_unique(db_settings: PesbenchSettings) -> None:
    with ReferenceStore(db_settings) as refs:
        refs.upsert([_doc(-1.0)])
    with MongoClient(db_settings.db_uri) as client:
        coll = client[db_settings.db_name][REFERENCES_COLLECTION]
        with pytest.raises(DuplicateKeyError):
            coll.insert_one({"reference_id": _doc(-1.0).reference_id})
