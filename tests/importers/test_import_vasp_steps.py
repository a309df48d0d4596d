"""``pesbench import`` of VASP runs: every ionic step, as pymatgen's ``Vasprun`` gives it."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.io.vasp import Vasprun
from typer.testing import CliRunner
from vasp_data import vasp_reference

from pesbench.cli.main import app
from pesbench.schemas.ids import structure_id
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore


def _import(*args: str) -> None:
    result = CliRunner().invoke(app, ["import", *args])
    assert result.exit_code == 0, result.output


def _steps(settings: PesbenchSettings, folder: str) -> list:
    with ReferenceStore(settings) as store:
        docs = [
            d
            for d in store.query({"provenance.run_id": {"$regex": f"/{folder}/"}})
            if d.provenance is not None
        ]
    return sorted(docs, key=lambda d: d.provenance.ionic_step)


def test_relaxations_import_every_ionic_step(db_settings: PesbenchSettings) -> None:
    root = vasp_reference()
    names = ["emmet_Si_r2scan_relax", "pymatgen_Fe2O3_ggaU_relax"]
    _import(*(str(root / n) for n in names), "--dataset", "vasp-relax")
    for name, functional in zip(names, ["r2SCAN", "PBE+U"], strict=True):
        path = next((root / name).glob("vasprun*"))
        run = Vasprun(str(path), parse_potcar_file=False, parse_dos=False, parse_eigen=False)
        docs = _steps(db_settings, name)
        assert [d.provenance.ionic_step for d in docs] == list(range(len(run.ionic_steps)))
        assert len(docs) == len(run.ionic_steps) == 3
        assert len({d.provenance.run_id for d in docs}) == 1  # linked to one run
        for doc, step in zip(docs, run.ionic_steps, strict=True):
            assert doc.functional == functional
            assert doc.structure_id == structure_id(step["structure"])
            np.testing.assert_allclose(doc.forces, step["forces"], atol=1e-10)
            np.testing.assert_allclose(doc.stress, -0.1 * np.asarray(step["stress"]), atol=1e-10)
            assert doc.status == "success"
        assert docs[-1].energy == pytest.approx(run.final_energy, abs=1e-8)
        assert docs[-1].converged_ionic is True
    # VASP 6 writes each step's e_0_energy; VASP 5.2.2 wrote 0.0 there (pymatgen's
    # final_energy bug fix), so the Si steps are compared one by one
    si = Vasprun(str(next((root / names[0]).glob("vasprun*"))), parse_potcar_file=False)
    energies = [d.energy for d in _steps(db_settings, names[0])]
    assert energies == pytest.approx([s["e_0_energy"] for s in si.ionic_steps], abs=1e-8)
    assert len(set(energies)) == 3
    fe = _steps(db_settings, names[1])
    assert all(d.energy < -60 for d in fe)  # not the 0.0 of the XML


def test_unconverged_scf_steps_are_stored_as_failed(db_settings: PesbenchSettings) -> None:
    folder = vasp_reference() / "custodian_err_unconverged_ggaU_relax"
    _import(str(folder), "--dataset", "vasp-bad")
    docs = _steps(db_settings, folder.name)
    assert len(docs) == 5
    assert all(
        d.status == "failed" and "SCF not converged" in (d.failure_reason or "") for d in docs
    )
