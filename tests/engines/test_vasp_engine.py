from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar, Vasprun
from vasp_data import vasp_reference

from pesbench.engines.base import get_engine
from pesbench.engines.vasp import VaspEngine
from pesbench.engines.vasp import run as vasp_run
from pesbench.schemas.reference import hash_inputs
from pesbench.settings import PesbenchSettings


@pytest.fixture
def nio() -> Structure:
    return Structure(Lattice.cubic(4.17), ["Ni", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_get_engine_builds_the_vasp_engine() -> None:
    assert isinstance(get_engine("vasp"), VaspEngine)


def test_presets_give_mp_u_values_and_matpes_r2scan(nio: Structure) -> None:
    engine = VaspEngine()
    mp = engine.input_settings(nio, "PBE+U", {"preset": "mp"})
    assert mp["hubbard"]["U"]["Ni"] == 6.2
    assert mp["encut"] == 520.0
    meta = engine.input_set(nio, "r2SCAN")["INCAR"]
    assert meta["METAGGA"].upper() == "R2SCAN"
    assert "GGA" not in meta
    assert engine.input_settings(nio, "PBE")["hubbard"] is None


def test_overrides_win_over_the_preset_and_change_the_hash(nio: Structure) -> None:
    engine = VaspEngine()
    base = engine.input_settings(nio, "PBE")
    higher = engine.input_settings(nio, "PBE", {"incar": {"ENCUT": 800}})
    assert higher["encut"] == 800.0
    assert hash_inputs(base) != hash_inputs(higher)
    with pytest.raises(ValueError, match="unknown VASP override"):
        engine.input_settings(nio, "PBE", {"potim": 1})


def test_pbe_u_for_a_structure_without_u_is_refused() -> None:
    si = Structure(Lattice.cubic(5.43), ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    with pytest.raises(ValueError, match="no Materials Project U value"):
        VaspEngine().input_settings(si, "PBE+U")


def test_missing_vasp_setup_fails_the_reference_naming_the_setting(
    nio: Structure, tmp_path: Path
) -> None:
    settings = PesbenchSettings(vasp_cmd="no-such-vasp_std", data_dir=tmp_path)
    engine = VaspEngine(settings)
    assert "PESBENCH_VASP_CMD" in (engine.unavailable_reason() or "")
    doc = engine.compute(nio, "PBE", tmp_path / "run")  # no raise: a failed document
    assert doc.status == "failed"
    assert "PESBENCH_VASP_CMD" in (doc.failure_reason or "")
    assert (tmp_path / "run" / "POTCAR.spec").read_text().split() == ["Ni_pv", "O"]


def test_spin_polarized_maps_to_ispin(nio: Structure) -> None:
    engine = VaspEngine()
    base = engine.input_settings(nio, "PBE")
    assert base["ispin"] == 2  # every preset is spin-polarised already
    assert engine.input_settings(nio, "PBE", {"spin_polarized": True}) == base
    assert engine.input_settings(nio, "PBE", {"spin_polarized": False})["ispin"] == 1
    both = {"spin_polarized": False, "incar": {"ISPIN": 2}}
    assert engine.input_settings(nio, "PBE", both)["ispin"] == 2  # the INCAR override wins


def test_forces_come_back_in_the_input_site_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fe2O3 given O first: pymatgen writes the POSCAR Fe first, VASP's forces follow it."""
    src = next((vasp_reference() / "pymatgen_Fe2O3_ggaU_relax").glob("vasprun*"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Vasprun(str(src), parse_potcar_file=False, parse_dos=False, parse_eigen=False)
    order = [*range(4, 10), *range(4)]
    structure = Structure.from_sites([run.final_structure[i] for i in order])

    def fake_run(run_dir: Path, **kwargs: object) -> None:
        shutil.copyfile(src, run_dir / "vasprun.xml.gz")

    monkeypatch.setattr(vasp_run, "run_vasp", fake_run)
    doc = VaspEngine().compute(structure, "PBE+U", tmp_path / "run", overrides={"preset": "mp"})
    assert Poscar.from_file(str(tmp_path / "run" / "POSCAR")).site_symbols == ["Fe", "O"]
    last = np.asarray(run.ionic_steps[-1]["forces"])
    assert np.abs(last).max() > 0.01
    np.testing.assert_allclose(doc.forces, last[order])
    assert doc.structure == structure


def test_r2scan_starts_from_the_last_run_of_prev_dir(nio: Structure, tmp_path: Path) -> None:
    """A double relaxation as prev_dir: relax2's WAVECAR and CHGCAR, gunzipped, unsuffixed."""
    prev = tmp_path / "pbe"
    prev.mkdir()
    for run in ("relax1", "relax2"):
        (prev / f"vasprun.xml.{run}.gz").touch()  # only named: copying reads no vasprun
        with gzip.open(prev / f"WAVECAR.{run}.gz", "wt") as handle:
            handle.write(f"wavecar {run}")
        (prev / f"CHGCAR.{run}").write_text(f"chgcar {run}")
    single = tmp_path / "single"  # one run, vasprun.xml: WAVECAR as it is
    single.mkdir()
    (single / "vasprun.xml").touch()
    (single / "WAVECAR").write_text("wavecar")
    engine = VaspEngine()
    engine.write_inputs(nio, "r2SCAN", tmp_path / "r2", prev_dir=prev)
    assert (tmp_path / "r2" / "WAVECAR").read_text() == "wavecar relax2"
    assert (tmp_path / "r2" / "CHGCAR").read_text() == "chgcar relax2"
    engine.write_inputs(nio, "r2SCAN", tmp_path / "r2b", prev_dir=single)
    assert (tmp_path / "r2b" / "WAVECAR").read_text() == "wavecar"
    assert not (tmp_path / "r2b" / "CHGCAR").exists()
