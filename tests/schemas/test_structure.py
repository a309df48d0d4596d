from __future__ import annotations

import pytest
from monty.json import jsanitize
from pydantic import BaseModel, ValidationError
from pymatgen.core import Lattice, Structure

from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import (
    DefectDetails,
    GenerationDoc,
    HighEnergyDetails,
    MigrationDetails,
    PhononDetails,
    SkippedStructure,
    SolidSolutionDetails,
    StructureDoc,
    SurfaceDetails,
)

MODELS: list[type[BaseModel]] = [
    StructureDoc,
    GenerationDoc,
    SkippedStructure,
    SurfaceDetails,
    DefectDetails,
    SolidSolutionDetails,
    MigrationDetails,
    PhononDetails,
    HighEnergyDetails,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_field_is_described(model: type[BaseModel]) -> None:
    for name, info in model.model_fields.items():
        assert info.description, f"{model.__name__}.{name} has no description"


def _doc() -> StructureDoc:
    bulk = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    slab = Structure(Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0.1], [0.5, 0.5, 0.1]])
    return StructureDoc.from_structure(
        slab,
        category="surface",
        role="slab",
        parent=bulk,
        generator="pesbench.structures.surface.generate_surfaces",
        parameters={"max_index": 1},
        details=SurfaceDetails(miller_index=(1, 0, 0), bulk_reference_id=structure_id(bulk)),
    )


def test_ids_and_formula_are_derived_from_the_structure() -> None:
    doc = _doc()
    assert doc.structure_id == structure_id(doc.structure)
    assert doc.formula_reduced == "MgO"
    assert doc.nsites == 2
    assert doc.parent_formula == "MgO"


def test_round_trips_through_json_and_the_monty_form() -> None:
    doc = _doc()
    again = StructureDoc.model_validate_json(doc.model_dump_json())
    assert again.structure == doc.structure
    assert again.details == doc.details
    monty = jsanitize(doc, strict=True, allow_bson=True)
    assert "@class" in monty
    assert StructureDoc.model_validate(monty).structure_id == doc.structure_id


def test_details_must_match_their_kind() -> None:
    data = _doc().model_dump(mode="json")
    data["details"]["kind"] = "defect"
    with pytest.raises(ValidationError):
        StructureDoc.model_validate(data)
    data = _doc().model_dump(mode="json")
    data["typo"] = 1
    with pytest.raises(ValidationError):
        StructureDoc.model_validate(data)


def test_generation_ids_come_from_its_structures_or_stand_alone() -> None:
    doc = _doc()
    generation = GenerationDoc(
        category="surface", parent_id=doc.parent_id, parameters={}, structures=[doc]
    )
    assert generation.structure_ids == [doc.structure_id]
    data = jsanitize(generation, strict=True, allow_bson=True)  # the JobStore's form
    assert GenerationDoc.model_validate(data).structure_ids == [doc.structure_id]
    alone = GenerationDoc.model_validate({**data, "structures": []})  # stored elsewhere
    assert alone.structure_ids == [doc.structure_id]
    with pytest.raises(ValidationError, match="disagree"):
        GenerationDoc.model_validate({**data, "structure_ids": ["another"]})
