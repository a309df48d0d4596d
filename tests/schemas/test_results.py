from __future__ import annotations

import json

import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

from pesbench.schemas.ids import structure_id
from pesbench.schemas.prediction import ModelInfo, PredictionDoc
from pesbench.schemas.reference import ReferenceDoc, hash_inputs


def _si() -> Structure:
    return Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])


def test_input_hash_ignores_key_order_and_sees_values() -> None:
    a = hash_inputs({"xc": "PBE", "encut": 520.0, "kpts": [4, 4, 4]})
    b = hash_inputs({"kpts": [4, 4, 4], "encut": 520.0, "xc": "PBE"})
    c = hash_inputs({"kpts": [4, 4, 4], "encut": 680.0, "xc": "PBE"})
    assert a == b != c


def test_reference_round_trips_through_json() -> None:
    si = _si()
    doc = ReferenceDoc(
        structure_id=structure_id(si),
        n_atoms=2,
        structure=si,
        functional="r2SCAN",
        code="gpaw",
        input_hash=hash_inputs({"xc": "r2SCAN"}),
        energy=-10.0,
        energy_per_atom=-5.0,
        forces=[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    )
    assert doc.reference_id == f"{doc.structure_id}:r2SCAN:{doc.input_hash}"
    back = ReferenceDoc.model_validate(json.loads(doc.model_dump_json()))
    assert back.structure == si
    assert back.reference_id == doc.reference_id


def test_unknown_field_and_functional_rejected() -> None:
    with pytest.raises(ValidationError):
        ReferenceDoc(structure_id="x", n_atoms=1, functional="LDA", code="vasp", input_hash="h")
    with pytest.raises(ValidationError):
        ReferenceDoc(
            structure_id="x", n_atoms=1, functional="PBE", code="vasp", input_hash="h", enrgy=1.0
        )


def test_prediction_id_from_model_checksum() -> None:
    model = ModelInfo(
        model_id="chgnet-0.3.0", name="chgnet", version="0.3.0", checksum="abc", functional="PBE"
    )
    doc = PredictionDoc(
        structure_id="Si-1", n_atoms=2, model=model, device="cpu", batch_size=4, seconds=0.1
    )
    assert doc.prediction_id == "Si-1:abc"
    assert doc.status == "success"
