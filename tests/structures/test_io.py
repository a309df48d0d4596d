from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase import Atoms
from ase.io import write
from pymatgen.core import Lattice, Structure

from pesbench.structures import StructureInputError, load_structure, load_structures

DISORDERED_CIF = """data_x
_cell_length_a 4.2
_cell_length_b 4.2
_cell_length_c 4.2
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Mg1 Mg 0 0 0 0.5
Ca1 Ca 0 0 0 0.5
O1 O 0.5 0.5 0.5 1
"""


def _write_good(tmp_path: Path, bulks: dict) -> dict[str, Path]:
    mgo = bulks["MgO"]
    paths = {
        "cif": tmp_path / "MgO.cif",
        "poscar": tmp_path / "POSCAR",
        "json": tmp_path / "LiF.json",
        "extxyz": tmp_path / "Si.extxyz",
    }
    mgo.to(filename=str(paths["cif"]))
    bulks["LiCoO2"].to(filename=str(paths["poscar"]), fmt="poscar")
    paths["json"].write_text(json.dumps(bulks["LiF"].as_dict()))
    write(paths["extxyz"], bulks["Si"].to_ase_atoms())
    return paths


def test_every_format_reads(tmp_path: Path, bulks: dict) -> None:
    paths = _write_good(tmp_path, bulks)
    expected = {"cif": "MgO", "poscar": "LiCoO2", "json": "LiF", "extxyz": "Si"}
    for kind, path in paths.items():
        structure = load_structure(path)
        assert structure.composition.reduced_formula == expected[kind]


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    bad = {}
    cif = tmp_path / "disordered.cif"
    cif.write_text(DISORDERED_CIF)
    bad["disordered"] = (cif, "disordered structure: 1 site")
    overlap = Structure(Lattice.cubic(4.0), ["Mg", "O"], [[0, 0, 0], [0.05, 0, 0]])
    poscar = tmp_path / "overlap.vasp"
    overlap.to(filename=str(poscar), fmt="poscar")
    bad["overlap"] = (poscar, "overlapping atoms: Mg0 and O1 are 0.200 Å apart")
    molecule = tmp_path / "water.xyz"
    write(molecule, Atoms("H2O", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]))
    bad["nonperiodic"] = (molecule, "not periodic in all three directions")
    empty = tmp_path / "empty.json"
    data = Structure(Lattice.cubic(4.0), ["Si"], [[0, 0, 0]]).as_dict()
    empty.write_text(json.dumps({**data, "sites": []}))
    bad["empty"] = (empty, "empty structure (no atoms)")
    flat = tmp_path / "flat.json"
    flat.write_text(
        json.dumps(
            Structure(Lattice([[4, 0, 0], [0, 4, 0], [8, 0, 0]]), ["Si"], [[0, 0, 0]]).as_dict()
        )
    )
    bad["degenerate"] = (flat, "degenerate or empty cell")
    nothing = tmp_path / "POSCAR_empty"
    nothing.write_text("")
    bad["emptyfile"] = (nothing, "empty file")
    garbage = tmp_path / "garbage.cif"
    garbage.write_text("this is no crystal\n")
    bad["garbage"] = (garbage, "cannot be read as a structure")
    missing = tmp_path / "missing.cif"
    bad["missing"] = (missing, "no such file")
    return bad


@pytest.mark.parametrize(
    "kind",
    [
        "disordered",
        "overlap",
        "nonperiodic",
        "empty",
        "emptyfile",
        "degenerate",
        "garbage",
        "missing",
    ],
)
def test_each_bad_input_names_file_and_problem(kind: str, tmp_path: Path) -> None:
    path, message = _bad_files(tmp_path)[kind]
    with pytest.raises(StructureInputError) as info:
        load_structure(path)
    text = str(info.value)
    assert text.startswith(str(path))
    assert message in text
    assert "\n" not in text


def test_a_batch_with_bad_files_returns_the_good_ones(tmp_path: Path, bulks: dict) -> None:
    good = _write_good(tmp_path, bulks)
    bad = _bad_files(tmp_path)
    paths = [good["cif"], bad["overlap"][0], good["json"], bad["disordered"][0]]
    result = load_structures(paths)
    assert [s.path for s in result.structures] == [str(good["cif"]), str(good["json"])]
    assert [e.path for e in result.errors] == [str(bad["overlap"][0]), str(bad["disordered"][0])]
    assert "overlapping" in result.errors[0].message


def test_min_distance_is_a_parameter(tmp_path: Path) -> None:
    close = Structure(Lattice.cubic(4.0), ["Mg", "O"], [[0, 0, 0], [0.3, 0, 0]])  # 1.2 Å
    path = tmp_path / "close.json"
    path.write_text(json.dumps(close.as_dict()))
    assert len(load_structure(path)) == 2
    with pytest.raises(StructureInputError, match=r"min_distance 1\.5"):
        load_structure(path, min_distance=1.5)
