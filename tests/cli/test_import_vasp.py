from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from vasp_data import vasp_reference

from pesbench.cli.main import app
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore

# PROVENANCE.md: folder -> (energy eV, functional)
EXPECTED = {
    "atomate2_Si_matpes_pbe_static": (-10.84940729, "PBE"),
    "atomate2_Si_matpes_r2scan_static": (-17.53895667, "r2SCAN"),
    "atomate2_Si_mp_gga_static": (-10.84060922, "PBE"),
    "atomate2_Si_mp_r2scan_static": (-46.86137380, "r2SCAN"),
    "atomate2_MgMn2O4_pbesolU_static_fm": (-104.12510675, "PBEsol+U"),
    "quacc_NiO_pbeU_static": (-4.52549041, "PBE+U"),
    "pmgval_GaAs_r2scan_static_MPcompliant": (-27.04397986, "r2SCAN"),
    "pmgval_GaAs_r2scan_static_MPnoncompliant": (-26.87707824, "r2SCAN"),
    "pymatgen_LiF_r2scan_static": (-11.89059065, "r2SCAN"),
    "pymatgen_LiF_scan_static": (-12.29645297, "SCAN"),
    "pymatgen_Fe2O3_ggaU_relax": (-66.61335240, "PBE+U"),
    "pymatgen_Si_gga_static_vasp5": (-10.64527774, "PBE"),
    "pymatgen_LiH_r2scan_relax": (-6.82078391, "r2SCAN"),
    "emmet_Si_r2scan_relax": (-17.54958326, "r2SCAN"),
    "custodian_err_unconverged_scan_static": (-157.58428872, "SCAN"),
    "custodian_err_unconverged_ggaU_relax": (-134.33107279, "PBE+U"),
}
FLAGGED = {
    "custodian_err_unconverged_scan_static",
    "custodian_err_unconverged_ggaU_relax",
    "custodian_err_real_optlay_crashed",
    "custodian_err_too_few_bands",
    "custodian_err_lrf_comm",
    "atomate2_Si_mp_r2scan_static",
}


def test_dry_run_json_parses_every_folder_to_its_energy_and_functional() -> None:
    result = CliRunner().invoke(
        app, ["import-vasp", str(vasp_reference()), "--dry-run", "--json", "--campaign", "x"]
    )
    assert result.exit_code == 0, result.output
    start = result.stdout.index("[")
    docs = {Path(d["run_dir"].split(":", 1)[1]).name: d for d in json.loads(result.stdout[start:])}
    assert set(EXPECTED) <= set(docs)
    for name, (energy, functional) in EXPECTED.items():
        assert docs[name]["energy"] == pytest.approx(energy, abs=1e-6), name
        assert docs[name]["functional"] == functional, name
    assert {n for n, d in docs.items() if d["status"] == "failed"} == FLAGGED
    assert all(d["campaign"] == "x" for d in docs.values())


def test_import_stores_deduplicated_references(db_settings: PesbenchSettings) -> None:
    folders = [str(vasp_reference() / name) for name in sorted(EXPECTED)[:3]]
    runner = CliRunner()
    for _ in range(2):  # the second import replaces, never duplicates
        result = runner.invoke(app, ["import-vasp", *folders])
        assert result.exit_code == 0, result.output
    with ReferenceStore(db_settings) as refs:
        assert refs.count() == 3


def test_nothing_parseable_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["import-vasp", str(tmp_path), "--dry-run"])
    assert result.exit_code != 0
