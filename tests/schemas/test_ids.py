from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pesbench.schemas.ids import structure_id


def _rocksalt() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_same_structure_same_id_and_site_order_ignored() -> None:
    a = _rocksalt()
    b = Structure.from_sites(list(reversed(a.sites)))
    assert structure_id(a) == structure_id(b)
    assert structure_id(a).startswith("MgO-")


def test_periodic_images_and_rounding_noise_ignored() -> None:
    a = _rocksalt()
    b = a.copy()
    b.translate_sites([0], [1.0, 0.0, -1.0], frac_coords=True, to_unit_cell=False)
    b.translate_sites([1], [1e-7, 0.0, 0.0], frac_coords=True, to_unit_cell=False)
    assert structure_id(a) == structure_id(b)


def test_real_changes_change_the_id() -> None:
    a = _rocksalt()
    moved = a.copy()
    moved.translate_sites([0], [0.01, 0.0, 0.0])
    strained = a.copy()
    strained.apply_strain(0.01)
    swapped = a.copy()
    swapped.replace(0, "Ca")
    ids = {structure_id(s) for s in (a, moved, strained, swapped)}
    assert len(ids) == 4


def test_disordered_structure_rejected() -> None:
    a = _rocksalt()
    a.replace_species({"Mg": {"Mg": 0.5, "Ca": 0.5}})
    with pytest.raises(ValueError, match="ordered"):
        structure_id(a)


def test_negative_zero_and_wrap_at_one() -> None:
    lattice = Lattice(np.eye(3) * 3.0)
    a = Structure(lattice, ["Si"], [[0.0, 0.0, 0.0]])
    b = Structure(lattice, ["Si"], [[0.99999999, -0.0, 1e-9]])
    assert structure_id(a) == structure_id(b)
