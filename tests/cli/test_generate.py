from __future__ import annotations

import json
from pathlib import Path

import pytest
from ase.io import read
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from pesbench.cli import app
from pesbench.cli.generate import parse_assignments
from pesbench.errors import PesbenchError
from pesbench.schemas.structure import StructureDoc

runner = CliRunner()

FAST = {
    "surface": ["max_index=1"],
    "defect": ["max_interstitial_sites=1"],
    "solid_solution": ["fractions=[0.25]", "sublattice=Mg"],
    "migration": ["n_images=1"],
    "phonon": [],
    "high_energy": ["md_snapshots=0", "n_rattled=1", "sigmas_A=[0.1]"],
}


@pytest.fixture(scope="module")
def mgo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mgo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.21), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()
    path = tmp_path_factory.mktemp("bulk") / "MgO.cif"
    mgo.to(filename=str(path))
    return path


def _args(path: Path, category: str, out: Path, sets: list[str], *extra: str) -> list[str]:
    args = ["generate", str(path), "--category", category, "--out", str(out), *extra]
    for item in sets:
        args += ["--set", item]
    return args


@pytest.mark.parametrize("category", list(FAST))
def test_every_category_from_the_command_line(
    category: str, mgo_file: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, _args(mgo_file, category, tmp_path, FAST[category]))
    assert result.exit_code == 0, result.output
    docs = [
        StructureDoc.model_validate(d)
        for d in json.loads((tmp_path / "documents.json").read_text())
    ]
    assert docs
    assert {d.category for d in docs} == {category}
    files = sorted((tmp_path / "structures").glob("*.extxyz"))
    assert sorted(f.stem for f in files) == sorted(d.structure_id for d in docs)
    atoms = read(files[0])
    doc = next(d for d in docs if d.structure_id == files[0].stem)
    assert len(atoms) == doc.nsites
    assert atoms.info["structure_id"] == doc.structure_id
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["category"] == category
    assert summary["inputs"][0]["n_structures"] == len(docs)


def test_cif_output(mgo_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(mgo_file, "phonon", tmp_path, [], "--format", "cif"))
    assert result.exit_code == 0, result.output
    cifs = list((tmp_path / "structures").glob("*.cif"))
    assert len(cifs) == len(json.loads((tmp_path / "documents.json").read_text()))
    assert Structure.from_file(cifs[0]).composition.reduced_formula == "MgO"


def test_a_bad_file_is_reported_and_the_others_go_through(mgo_file: Path, tmp_path: Path) -> None:
    bad = tmp_path / "overlap.json"
    bad.write_text(
        json.dumps(Structure(Lattice.cubic(4), ["Mg", "O"], [[0, 0, 0], [0.01, 0, 0]]).as_dict())
    )
    out = tmp_path / "out"
    args = _args(mgo_file, "phonon", out, [])
    args.insert(2, str(bad))
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "overlapping atoms" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"][0]["source"] == str(bad)
    assert summary["inputs"][0]["error"].startswith(f"{bad}: overlapping atoms")
    assert summary["inputs"][1]["n_structures"] > 0


@pytest.mark.parametrize(
    ("category", "sets", "message"),
    [
        ("surfaces", [], "unknown category 'surfaces'"),
        ("surface", ["max_idx=1"], "unknown parameter 'max_idx'"),
        ("surface", ["max_index"], "--set expects key=value"),
    ],
)
def test_unknown_category_or_parameter_fails_with_one_message(
    category: str, sets: list[str], message: str, mgo_file: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, _args(mgo_file, category, tmp_path, sets))
    assert isinstance(result.exception, PesbenchError)
    assert message in str(result.exception)


def test_values_are_read_as_yaml() -> None:
    parsed = parse_assignments(["a=1", "b=[0.25, 0.5]", "c=Ca", "d=true", "e="])
    assert parsed == {"a": 1, "b": [0.25, 0.5], "c": "Ca", "d": True, "e": None}


@pytest.mark.slow
def test_high_energy_md_with_chgnet_from_the_command_line(mgo_file: Path, tmp_path: Path) -> None:
    sets = ["n_rattled=0", "strains=[]", "md_snapshots=1", "md_interval=1", "md_equilibration=0"]
    result = runner.invoke(app, _args(mgo_file, "high_energy", tmp_path, sets))
    assert result.exit_code == 0, result.output
    docs = json.loads((tmp_path / "documents.json").read_text())
    assert [d["role"] for d in docs] == ["md_snapshot"]
    assert docs[0]["details"]["md_model"] == "chgnet-0.3.0"
