"""``pesbench import`` of VASP runs: every ionic step, as pymatgen's ``Vasprun`` gives it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pymatgen.io.vasp import Outcar, Vasprun
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


def _outcar_moments(path: Path) -> list[float] | None:
    moments = [float(m["tot"]) for m in Outcar(str(path)).magnetization or ()]
    return moments or None


def test_a_double_relaxation_folder_imports_every_vasprun(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    root = vasp_reference()
    folder = tmp_path / "double_relax"  # custodian's and atomate's relax1/relax2 names
    folder.mkdir()
    sources = {
        ".relax1": (root / "emmet_Si_r2scan_relax", "vasprun.xml.gz", "OUTCAR.gz"),
        ".relax2": (root / "pymatgen_LiH_r2scan_relax", "vasprun.xml.gz", "OUTCAR"),
    }
    for suffix, (run, vasprun, outcar) in sources.items():
        shutil.copy(run / vasprun, folder / f"vasprun.xml{suffix}.gz")
        shutil.copy(run / outcar, folder / outcar.replace("OUTCAR", f"OUTCAR{suffix}"))
    _import(str(folder), "--dataset", "double")
    with ReferenceStore(db_settings) as store:
        docs = [d for d in store.query({}) if d.provenance is not None]
    by_run: dict[str, list] = {}
    for doc in sorted(docs, key=lambda d: d.provenance.frame_index):
        by_run.setdefault(str(doc.provenance.run_id), []).append(doc)
    assert sorted(by_run) == [
        str(folder / "vasprun.xml.relax1.gz"),
        str(folder / "vasprun.xml.relax2.gz"),
    ]
    for (suffix, (run, vasprun, outcar)), run_id in zip(
        sources.items(), sorted(by_run), strict=True
    ):
        expected = Vasprun(str(run / vasprun), parse_potcar_file=False, parse_dos=False)
        steps = by_run[run_id]
        assert [d.provenance.ionic_step for d in steps] == list(range(len(expected.ionic_steps)))
        assert [d.energy for d in steps] == pytest.approx(
            [s["e_0_energy"] for s in expected.ionic_steps], abs=1e-8
        )
        assert steps[-1].energy == pytest.approx(expected.final_energy, abs=1e-8)
        for doc, step in zip(steps, expected.ionic_steps, strict=True):
            assert doc.structure_id == structure_id(step["structure"])
            np.testing.assert_allclose(doc.forces, step["forces"], atol=1e-10)
            assert doc.provenance.frame_id == f"vasprun.xml{suffix}.gz:{doc.provenance.ionic_step}"
        assert steps[-1].magmoms == _outcar_moments(run / outcar)  # this run's OUTCAR
    assert [len(v) for v in by_run.values()] == [3, 1]
    assert by_run[str(folder / "vasprun.xml.relax1.gz")][-1].magmoms is not None

    # a path naming one vasprun of the folder reads that one only
    _import(str(folder / "vasprun.xml.relax2.gz"), "--dataset", "one")
    with ReferenceStore(db_settings) as store:
        one = list(store.query({"provenance.dataset": "one"}))
    assert [d.provenance.run_id for d in one if d.provenance] == [
        str(folder / "vasprun.xml.relax2.gz")
    ]


def test_a_run_imported_again_inside_its_folder_counts_as_duplicates(
    db_settings: PesbenchSettings, tmp_path: Path
) -> None:
    """What an import stored is what carries its import id, not what lies under its path."""
    from pesbench.importers import IMPORTS_COLLECTION
    from pesbench.stores.connection import open_collection

    root = vasp_reference()
    runs = tmp_path / "runs"
    for name in ("emmet_Si_r2scan_relax", "pymatgen_Fe2O3_ggaU_relax"):
        shutil.copytree(root / name, runs / name)
    _import(str(runs), "--dataset", "nested")
    _import(str(runs / "emmet_Si_r2scan_relax"), "--dataset", "nested")
    with open_collection(IMPORTS_COLLECTION, db_settings) as imports:
        records = {r["source"]: r for r in imports.find()}
    whole, inner = records[str(runs)], records[str(runs / "emmet_Si_r2scan_relax")]
    assert (whole["stored"], whole["duplicates"]) == (6, 0)
    assert (inner["records"], inner["stored"], inner["duplicates"]) == (3, 0, 3)
    with ReferenceStore(db_settings) as store:
        docs = list(store.query({"provenance.dataset": "nested"}))
    assert len(docs) == 6
    assert {d.provenance.import_id for d in docs if d.provenance} == {whole["_id"]}
