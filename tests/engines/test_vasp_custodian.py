"""Custodian in the loop: a fake VASP prints a recorded error, then runs well."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymatgen.io.vasp import Incar, Poscar
from vasp_data import vasp_reference

from pesbench.engines.vasp import VaspEngine
from pesbench.testing import VaspReference, mock_vasp

# recorded stdout -> (custodian error key, INCAR key its correction sets)
ERRORS = {
    "vasp.rhosyg": ("rhosyg", "SYMPREC"),
    "vasp.posmap": ("posmap", "SYMPREC"),
    "vasp.edddav": ("edddav", "ALGO"),
    "vasp.amin": ("amin", "AMIN"),
}


def _rerun(error_file: str, tmp_path: Path) -> tuple:
    ref = vasp_reference()
    pbe = ref / "atomate2_Si_matpes_pbe_static"
    structure = Poscar.from_file(str(pbe / "inputs" / "POSCAR.gz")).structure
    key, changed = ERRORS[error_file]
    reference = VaspReference(
        pbe,
        incar_exclude=(changed, "ISEARCH", "NCORE"),  # what the corrections change
        errors=[ref / "custodian_vasp_stdout_errors" / error_file],
    )
    with mock_vasp({"PBE": reference}) as fake:
        doc = VaspEngine().compute(structure, "PBE", tmp_path / "run")
    return doc, fake, key, changed


def _assert_corrected(doc, fake, key: str, changed: str, run_dir: Path) -> None:
    assert len(fake.calls) == 1
    assert (run_dir / ".fake_vasp_runs").read_text() == "2"  # custodian ran VASP twice
    assert doc.status == "success", doc.failure_reason
    assert doc.energy == pytest.approx(-10.84940729, abs=1e-6)
    assert len(doc.corrections) == 1
    correction = doc.corrections[0]
    assert key in correction["errors"]
    assert correction["handler"] == "VaspErrorHandler"
    set_keys = {k for a in correction["actions"] for k in a.get("action", {}).get("_set", {})}
    assert changed in set_keys


def test_custodian_fixes_rhosyg_and_records_the_correction(tmp_path: Path) -> None:
    doc, fake, key, changed = _rerun("vasp.rhosyg", tmp_path)
    _assert_corrected(doc, fake, key, changed, tmp_path / "run")
    # the rerun really ran with custodian's change: the backup holds the first INCAR
    assert "SYMPREC" not in Incar.from_file(str(tmp_path / "run" / "INCAR.orig"))


@pytest.mark.slow
@pytest.mark.parametrize("error_file", ["vasp.posmap", "vasp.edddav", "vasp.amin"])
def test_custodian_fixes_other_recorded_errors(error_file: str, tmp_path: Path) -> None:
    doc, fake, key, changed = _rerun(error_file, tmp_path)
    _assert_corrected(doc, fake, key, changed, tmp_path / "run")


@pytest.mark.slow
def test_an_error_custodian_cannot_fix_fails_the_reference(tmp_path: Path) -> None:
    ref = vasp_reference()
    pbe = ref / "atomate2_Si_matpes_pbe_static"
    structure = Poscar.from_file(str(pbe / "inputs" / "POSCAR.gz")).structure
    stdout = ref / "custodian_vasp_stdout_errors" / "vasp.rhosyg"
    reference = VaspReference(pbe, errors=[stdout] * 8)  # never runs well
    with mock_vasp({"PBE": reference}):
        doc = VaspEngine().compute(structure, "PBE", tmp_path / "run")
    assert doc.status == "failed"
    assert "custodian stopped" in (doc.failure_reason or "")
