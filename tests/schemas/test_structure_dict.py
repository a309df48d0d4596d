"""The fast structure dicts equal pymatgen's ``as_dict()``/``from_dict()``, key order included."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from pydantic import BaseModel
from pymatgen.core import Lattice, Structure

from pesbench.schemas.base import StructureField
from pesbench.schemas.ids import site_keys
from pesbench.schemas.structure_dict import structure_from_dict, structure_to_dict


def _rattled() -> Structure:
    rng = np.random.default_rng(3)
    frac = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    structure = Structure(Lattice.cubic(3.6), ["Cu", "Cu", "Ni", "Cu"], frac)
    structure.make_supercell([2, 2, 1])
    structure.perturb(0.1, min_distance=0.02, seed=int(rng.integers(100)))
    return structure


def _cases() -> dict[str, Structure]:
    plain = _rattled()
    magnetic = plain.copy(site_properties={"magmom": list(range(len(plain)))})
    labelled = plain.copy()
    labelled.relabel_sites()
    labelled.properties = {"note": 1}
    charged = plain.copy()
    charged._charge = 1.0  # set, not the formal charge: pymatgen warns and returns it
    return {
        "plain": plain,
        "site properties": magnetic,
        "labels and properties": labelled,
        "oxidation states": Structure(Lattice.cubic(4.2), ["Mg2+", "O2-"], [[0] * 3, [0.5] * 3]),
        "disordered": Structure(
            Lattice.cubic(4.2), [{"Mg": 0.5, "Fe": 0.5}, "O"], [[0] * 3, [0.5] * 3]
        ),
        "hexagonal": Structure(
            Lattice.hexagonal(3, 5), ["Si", "Si"], [[0] * 3, [1 / 3, 2 / 3, 0.5]]
        ),
        "charge set": charged,
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_to_dict_is_as_dict_key_order_included(name: str) -> None:
    structure = _cases()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected, mine = structure.as_dict(), structure_to_dict(structure)
    assert mine == expected
    assert list(mine) == list(expected)
    assert list(mine["lattice"]) == list(expected["lattice"])
    assert [list(s) for s in mine["sites"]] == [list(s) for s in expected["sites"]]


@pytest.mark.parametrize("name", list(_cases()))
def test_from_dict_is_from_dict(name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _cases()[name].as_dict()
        expected, mine = Structure.from_dict(data), structure_from_dict(data)
        assert mine == expected
        assert mine.as_dict() == expected.as_dict()
    assert [s.label for s in mine] == [s.label for s in expected]
    assert mine.site_properties == expected.site_properties
    assert np.array_equal(mine.frac_coords, expected.frac_coords)


class _Doc(BaseModel):
    structure: StructureField


def test_a_stored_document_round_trips_through_them() -> None:
    structure = _rattled()
    data = _Doc(structure=structure).model_dump(mode="json")
    assert data["structure"] == json.loads(json.dumps(structure.as_dict()))  # pbc: a list
    back = _Doc.model_validate(data)
    assert back.structure == structure
    assert site_keys(back.structure) == site_keys(structure)
