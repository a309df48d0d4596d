from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pymatgen.io.vasp import Incar, Poscar
from vasp_data import vasp_reference

from pesbench.engines.vasp import VaspEngine
from pesbench.testing import FakeVaspError, check_inputs, copy_outputs, mock_vasp


@pytest.fixture
def si_pbe() -> Path:
    return vasp_reference() / "atomate2_Si_matpes_pbe_static"


def _write(tmp_path: Path, ref: Path, incar: dict | None = None) -> Path:
    structure = Poscar.from_file(str(ref / "inputs" / "POSCAR.gz")).structure
    run_dir = tmp_path / "run"
    VaspEngine().write_inputs(structure, "PBE", run_dir, overrides={"incar": incar or {}})
    return run_dir


def test_inputs_written_by_the_engine_match_atomate2s_reference(
    si_pbe: Path, tmp_path: Path
) -> None:
    run_dir = _write(tmp_path, si_pbe)
    assert (run_dir / "POTCAR.spec").read_text().split() == ["Si"]
    check_inputs(si_pbe, run_dir)  # raises on any difference


@pytest.mark.parametrize(
    ("incar", "message"), [({"ENCUT": 520}, "ENCUT"), ({"KSPACING": 0.3}, "KSPACING")]
)
def test_a_changed_input_is_caught(si_pbe: Path, tmp_path: Path, incar: dict, message: str) -> None:
    run_dir = _write(tmp_path, si_pbe, incar)
    with pytest.raises(FakeVaspError, match=message):
        check_inputs(si_pbe, run_dir)


def test_wrong_structure_and_potcars_are_caught(si_pbe: Path, tmp_path: Path) -> None:
    run_dir = _write(tmp_path, si_pbe)
    (run_dir / "POTCAR.spec").write_text("Ge\n")
    with pytest.raises(FakeVaspError, match="POTCAR"):
        check_inputs(si_pbe, run_dir, checks=("potcar",))
    poscar = Poscar.from_file(str(run_dir / "POSCAR"))
    poscar.structure.translate_sites([0], [0.1, 0, 0])
    poscar.write_file(str(run_dir / "POSCAR"))
    with pytest.raises(FakeVaspError, match="POSCAR"):
        check_inputs(si_pbe, run_dir, checks=("poscar",))
    with pytest.raises(FakeVaspError, match="WAVECAR"):
        check_inputs(si_pbe, run_dir, checks=("wavecar",))


def test_copy_outputs_gunzips(si_pbe: Path, tmp_path: Path) -> None:
    copy_outputs(si_pbe, tmp_path)
    assert (tmp_path / "vasprun.xml").read_bytes().startswith(b"<?xml")
    assert Incar.from_file(str(tmp_path / "INCAR"))["ENCUT"] == 680


def test_unknown_run_is_refused(si_pbe: Path, tmp_path: Path) -> None:
    structure = Poscar.from_file(str(si_pbe / "inputs" / "POSCAR.gz")).structure
    with mock_vasp({"r2SCAN": si_pbe}), pytest.raises(KeyError, match="no mock VASP reference"):
        VaspEngine().compute(structure, "PBE", tmp_path / "run")


def test_reference_folders_may_be_copied_anywhere(si_pbe: Path, tmp_path: Path) -> None:
    """A user's own reference folder (inputs/ + outputs/) works like the shared ones."""
    mine = shutil.copytree(si_pbe, tmp_path / "my_ref")
    structure = Poscar.from_file(str(mine / "inputs" / "POSCAR.gz")).structure
    with mock_vasp({"PBE": mine}) as fake:
        doc = VaspEngine().compute(structure, "PBE", tmp_path / "run")
    assert doc.status == "success"
    assert doc.energy == pytest.approx(-10.84940729, abs=1e-6)
    assert fake.calls[0][0] == "PBE"
