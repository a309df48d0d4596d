from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from atomate2.utils.path import get_uri, strip_hostname
from pymatgen.io.vasp import Outcar, Vasprun
from vasp_data import vasp_reference

from pesbench.engines.vasp import (
    KBAR_TO_GPA,
    UnsupportedRunError,
    find_run_dirs,
    functional_from_incar,
    parse_run_dir,
)
from pesbench.engines.vasp.relax import outcome_from_run
from pesbench.schemas.ids import structure_id
from pesbench.schemas.relaxation import RelaxSettings

# energies printed in PROVENANCE.md (eV), functional, status
COMPLETE = {
    "atomate2_Si_matpes_pbe_static": (-10.84940729, "PBE", "success"),
    "atomate2_Si_matpes_r2scan_static": (-17.53895667, "r2SCAN", "success"),
    "atomate2_Si_mp_gga_static": (-10.84060922, "PBE", "success"),
    "atomate2_Si_mp_r2scan_static": (-46.86137380, "r2SCAN", "failed"),  # GGA=Ps + METAGGA
    "atomate2_MgMn2O4_pbesolU_static_fm": (-104.12510675, "PBEsol+U", "success"),
    "quacc_NiO_pbeU_static": (-4.52549041, "PBE+U", "success"),
    "pmgval_GaAs_r2scan_static_MPcompliant": (-27.04397986, "r2SCAN", "success"),
    "pmgval_GaAs_r2scan_static_MPnoncompliant": (-26.87707824, "r2SCAN", "success"),
    "pymatgen_LiF_r2scan_static": (-11.89059065, "r2SCAN", "success"),
    "pymatgen_LiF_scan_static": (-12.29645297, "SCAN", "success"),
    "pymatgen_Fe2O3_ggaU_relax": (-66.61335240, "PBE+U", "success"),
    "pymatgen_Si_gga_static_vasp5": (-10.64527774, "PBE", "success"),
    "pymatgen_LiH_r2scan_relax": (-6.82078391, "r2SCAN", "success"),
    "emmet_Si_r2scan_relax": (-17.54958326, "r2SCAN", "success"),
    "custodian_err_unconverged_scan_static": (-157.58428872, "SCAN", "failed"),
    "custodian_err_unconverged_ggaU_relax": (-134.33107279, "PBE+U", "failed"),
}


@pytest.mark.parametrize("name", sorted(COMPLETE))
def test_every_complete_folder_parses_to_its_energy_and_functional(name: str) -> None:
    energy, functional, status = COMPLETE[name]
    doc = parse_run_dir(vasp_reference() / name)
    assert doc.energy == pytest.approx(energy, abs=1e-6)
    assert doc.functional == functional
    assert doc.status == status
    assert doc.energy_per_atom == pytest.approx(energy / doc.n_atoms)
    assert doc.code == "vasp"
    assert doc.code_version
    assert len(doc.forces or []) == doc.n_atoms
    assert doc.reference_id == f"{doc.structure_id}:{functional}:{doc.input_hash}"
    assert doc.input_settings["potcars"]


def test_run_dir_is_atomate2s_uri_of_the_folder() -> None:
    """host:/path as atomate2 writes TaskDoc.dir_name; its strip_hostname gives the folder."""
    folder = vasp_reference() / "quacc_NiO_pbeU_static"
    doc = parse_run_dir(folder)
    assert doc.run_dir == get_uri(folder.resolve())
    assert Path(strip_hostname(doc.run_dir)) == folder.resolve()


def test_unconverged_runs_are_flagged_with_the_reason() -> None:
    doc = parse_run_dir(vasp_reference() / "custodian_err_unconverged_scan_static")
    assert doc.converged_electronic is False
    assert "SCF not converged" in (doc.failure_reason or "")
    assert doc.converged_ionic is None  # a single point


def test_crashed_run_with_truncated_vasprun_is_failed_with_the_vasp_error() -> None:
    doc = parse_run_dir(vasp_reference() / "custodian_err_real_optlay_crashed")
    assert doc.status == "failed"
    assert doc.energy is None
    assert "crashed" in (doc.failure_reason or "")
    assert "real_optlay" in (doc.failure_reason or "")
    assert doc.n_atoms == 118


def test_run_without_vasprun_is_failed() -> None:
    doc = parse_run_dir(vasp_reference() / "custodian_err_too_few_bands")
    assert doc.status == "failed"
    assert "no vasprun.xml" in (doc.failure_reason or "")


def test_stress_is_converted_from_kbar_to_gpa_with_the_sign_flipped() -> None:
    folder = vasp_reference() / "quacc_NiO_pbeU_static"
    raw = Vasprun(str(folder / "vasprun.xml.gz"), parse_potcar_file=False).ionic_steps[-1]
    doc = parse_run_dir(folder)
    assert KBAR_TO_GPA == -0.1
    np.testing.assert_allclose(doc.stress, -0.1 * np.asarray(raw["stress"]))
    assert np.trace(np.asarray(raw["stress"])) != 0


def test_metadata_u_values_kpoints_wall_time_magmoms() -> None:
    doc = parse_run_dir(vasp_reference() / "quacc_NiO_pbeU_static")
    settings = doc.input_settings
    assert settings["hubbard"]["U"] == {"Ni": 6.2, "O": 0.0}
    assert settings["encut"] == 520.0
    assert settings["kpoints"]["kpts"] == [[3, 3, 3]]
    assert settings["potcars"] == ["Ni_pv", "O"]
    assert doc.code_version == "6.4.1"
    assert doc.wall_time_s
    assert doc.wall_time_s > 0
    assert doc.magmoms is not None
    assert len(doc.magmoms) == 2


def test_relaxation_reports_ionic_convergence() -> None:
    doc = parse_run_dir(vasp_reference() / "pymatgen_Fe2O3_ggaU_relax")
    assert doc.converged_ionic is True
    assert doc.converged_electronic is True


def _double_relaxation(tmp_path: Path) -> tuple[Path, Path]:
    """A custodian/atomate double relaxation folder (relax1, relax2) from two real runs.

    relax1 is emmet's r2SCAN Si relaxation, relax2 pymatgen's r2SCAN LiH relaxation, each
    with its own OUTCAR; returns the folder and relax2's source.
    """
    root = vasp_reference()
    folder = tmp_path / "double_relax"
    folder.mkdir()
    sources = {
        ".relax1": (root / "emmet_Si_r2scan_relax", "OUTCAR.gz"),
        ".relax2": (root / "pymatgen_LiH_r2scan_relax", "OUTCAR"),
    }
    for suffix, (run, outcar) in sources.items():
        shutil.copy(run / "vasprun.xml.gz", folder / f"vasprun.xml{suffix}.gz")
        shutil.copy(run / outcar, folder / outcar.replace("OUTCAR", f"OUTCAR{suffix}"))
    return folder, sources[".relax2"][0]


def test_a_double_relaxation_folder_parses_to_its_last_run(tmp_path: Path) -> None:
    """``import-vasp``'s final state of a relax1/relax2 folder is relax2's last step."""
    folder, last = _double_relaxation(tmp_path)
    run = Vasprun(str(last / "vasprun.xml.gz"), parse_potcar_file=False, parse_dos=False)
    doc = parse_run_dir(folder)
    assert doc.energy == pytest.approx(COMPLETE[last.name][0], abs=1e-6)
    assert doc.structure_id == structure_id(run.final_structure)
    np.testing.assert_allclose(doc.forces, run.ionic_steps[-1]["forces"], atol=1e-10)
    moments = [float(m["tot"]) for m in Outcar(str(last / "OUTCAR")).magnetization]
    assert doc.magmoms == moments  # relax2's OUTCAR
    assert doc.wall_time_s == pytest.approx(
        Outcar(str(last / "OUTCAR")).run_stats["Elapsed time (sec)"]
    )


def test_a_double_relaxations_outcome_is_its_last_runs_frames(tmp_path: Path) -> None:
    folder, last = _double_relaxation(tmp_path)
    run = Vasprun(str(last / "vasprun.xml.gz"), parse_potcar_file=False, parse_dos=False)
    settings = RelaxSettings(relax_cell=True, fmax=0.05, max_steps=50)
    outcome = outcome_from_run(folder, settings)
    assert outcome.energies == pytest.approx([s["e_0_energy"] for s in run.ionic_steps])
    assert outcome.n_steps == len(run.ionic_steps) - 1
    np.testing.assert_allclose(outcome.forces[-1], run.ionic_steps[-1]["forces"], atol=1e-10)


def test_find_run_dirs_counts_atomate2_folders_once() -> None:
    runs = find_run_dirs(vasp_reference())
    names = {r.name for r in runs}
    assert set(COMPLETE) <= names
    assert "outputs" not in names
    assert "inputs" not in names


@pytest.mark.parametrize(
    ("incar", "expected"),
    [
        ({}, "PBE"),
        ({"GGA": "PE"}, "PBE"),
        ({"GGA": "--"}, "PBE"),
        ({"GGA": "PS"}, "PBEsol"),
        ({"LDAU": True, "LDAUU": [0.0, 6.2]}, "PBE+U"),
        ({"LDAU": True, "LDAUU": [0.0, 0.0]}, "PBE"),
        ({"METAGGA": "R2scan"}, "r2SCAN"),
        ({"METAGGA": " SCAN"}, "SCAN"),
    ],
)
def test_functional_from_incar(incar: dict, expected: str) -> None:
    assert functional_from_incar(incar)[0] == expected


@pytest.mark.parametrize(
    "incar",
    [
        {"METAGGA": "RSCAN"},
        {"GGA": "91"},
        {"LHFCALC": True},
        {"METAGGA": "R2SCAN", "LDAU": True, "LDAUU": [4.0]},
    ],
)
def test_unnamed_functionals_are_refused(incar: dict) -> None:
    with pytest.raises(UnsupportedRunError):
        functional_from_incar(incar)
