"""``pesbench import``: round trips of every format on small files the tests write."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.db import connect
from ase.io import write
from pymatgen.io.ase import AseAtomsAdaptor
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.errors import PesbenchError
from pesbench.importers import IMPORTS_COLLECTION
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.connection import open_collection
from pesbench.stores.references import ReferenceStore


def _import(*args: str) -> str:
    result = CliRunner().invoke(app, ["import", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _refs(settings: PesbenchSettings, **criteria: object) -> list[ReferenceDoc]:
    with ReferenceStore(settings) as store:
        docs = list(store.query(dict(criteria)))
    return sorted(docs, key=lambda d: d.provenance.frame_index if d.provenance else -1)


def _assert_matches(docs: list[ReferenceDoc], frames: list[Atoms]) -> None:
    assert len(docs) == len(frames)
    for doc, atoms in zip(docs, frames, strict=True):
        assert doc.structure_id == structure_id(AseAtomsAdaptor.get_structure(atoms))
        assert doc.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        np.testing.assert_allclose(doc.forces, atoms.get_forces(), atol=1e-8)
        # ASE eV/Å³ (tensile +) -> GPa (tensile +): same sign, x 160.2
        expected = atoms.get_stress(voigt=False) / units.GPa
        np.testing.assert_allclose(doc.stress, expected, atol=1e-6)
        assert doc.functional == "PBE"


def test_extxyz_round_trip_with_a_duplicate_and_bad_frames(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "data.extxyz"
    write(path, [*frames, frames[1]], format="extxyz")  # frame 4 repeats frame 1
    with path.open("a") as handle:
        handle.write('2\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n')
        handle.write("Cu 0 0 0\nCu 1.5 1.5 1.5\n")  # frame 5: no energy
        handle.write("7\ncomment\nCu 0 0 0\n")  # frame 6: truncated
    out = _import(str(path), "--dataset", "emt-set", "--version", "1", "--functional", "pbe")
    assert "record 5: no energy" in out
    assert "record 6" in out
    assert "file ends first" in out
    docs = _refs(db_settings)
    _assert_matches(docs, frames)
    prov = docs[2].provenance
    assert prov is not None
    assert (prov.dataset, prov.dataset_version, prov.frame_index) == ("emt-set", "1", 2)
    assert prov.source_file == str(path.resolve())
    assert prov.source_format == "extxyz"
    assert prov.category == "imported"
    with open_collection(IMPORTS_COLLECTION, db_settings) as imports:
        (record,) = list(imports.find())
    assert (record["records"], record["stored"], record["duplicates"]) == (7, 4, 1)
    assert [b["index"] for b in record["bad"]] == [5, 6]
    assert record["n_bad"] == 2

    again = _import(str(path), "--dataset", "emt-set", "--version", "1", "--functional", "PBE")
    assert "already imported" in again
    other = _import(str(path), "--dataset", "other-set", "--functional", "PBE")
    assert "already imported" not in other
    assert len(_refs(db_settings)) == 8  # same structures, another dataset: other keys
    ids = {d.reference_id for d in _refs(db_settings)}
    assert len({i.rsplit(":", 1)[0] for i in ids}) == 4


def test_ase_database_round_trip(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "data.db"
    with connect(path) as db:
        for k, atoms in enumerate(frames):
            db.write(atoms, material_id=f"m-{k % 2}", category="high_energy")
    _import(str(path), "--dataset", "db-set", "--functional", "PBE")
    docs = _refs(db_settings)
    _assert_matches(docs, frames)
    assert [d.provenance.material_id for d in docs if d.provenance] == ["m-0", "m-1"] * 2
    assert all(d.provenance and d.provenance.category == "high_energy" for d in docs)
    assert all(d.provenance and d.provenance.source_format == "asedb" for d in docs)


def _mptrj_record(atoms: Atoms, mp_id: str) -> dict[str, object]:
    kbar = -10.0 * atoms.get_stress(voigt=False) / units.GPa  # VASP: kBar, pressure +
    return {
        "structure": AseAtomsAdaptor.get_structure(atoms).as_dict(),
        "uncorrected_total_energy": atoms.get_potential_energy(),
        "corrected_total_energy": atoms.get_potential_energy() - 1.0,
        "energy_per_atom": atoms.get_potential_energy() / len(atoms),
        "force": atoms.get_forces().tolist(),
        "stress": kbar.tolist(),
        "magmom": None,
        "mp_id": mp_id,
    }


def test_mptrj_json_round_trip(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    data = {
        "mp-30": {f"mp-30-{k}-0": _mptrj_record(a, "mp-30") for k, a in enumerate(frames[::2])},
        "mp-134": {f"mp-134-{k}-0": _mptrj_record(a, "mp-134") for k, a in enumerate(frames[1::2])},
    }
    data["mp-134"]["mp-134-9-0"] = {"structure": None}  # bad: index 4
    path = tmp_path / "MPtrj_small.json"
    path.write_text(json.dumps(data))
    out = _import(str(path), "--dataset", "MPtrj", "--version", "2022.9", "--functional", "PBE")
    assert "record 4" in out
    docs = _refs(db_settings)
    _assert_matches(docs, [frames[0], frames[2], frames[1], frames[3]])  # uncorrected energy
    assert [d.provenance.material_id for d in docs if d.provenance] == ["mp-30"] * 2 + [
        "mp-134"
    ] * 2
    assert docs[3].provenance
    assert docs[3].provenance.frame_id == "mp-134-1-0"


def test_records_json_needs_a_stress_unit_and_a_known_functional(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    records = [
        {
            "structure": AseAtomsAdaptor.get_structure(a).as_dict(),
            "energy": a.get_potential_energy(),
            "forces": a.get_forces().tolist(),
            "stress": (a.get_stress(voigt=False) / units.GPa).tolist(),
            "functional": "PBE",
            "matpes_id": f"matpes-{k}",
        }
        for k, a in enumerate(frames)
    ]
    records[3]["functional"] = "HSE06"  # unknown: that record is bad, never guessed
    path = tmp_path / "matpes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    no_unit = CliRunner().invoke(app, ["import", str(path), "--dataset", "mp"])
    assert isinstance(no_unit.exception, PesbenchError)
    assert "no unit was given" in no_unit.output
    _import(str(path), "--dataset", "mp2", "--stress-unit", "gpa")
    docs = _refs(db_settings)
    _assert_matches(docs, frames[:3])
    assert docs[0].provenance
    assert docs[0].provenance.frame_id == "matpes-0"
    with open_collection(IMPORTS_COLLECTION, db_settings) as imports:
        record = imports.find_one({"dataset": "mp2"})
    assert record is not None
    assert record["bad"][0]["index"] == 3
    assert "HSE06" in record["bad"][0]["reason"]


def test_unknown_or_missing_functional_is_an_error(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "data.xyz"
    write(path, frames, format="extxyz")
    unknown = CliRunner().invoke(
        app, ["import", str(path), "--dataset", "d", "--functional", "B3LYP"]
    )
    assert isinstance(unknown.exception, PesbenchError)
    assert "unknown functional 'B3LYP'" in str(unknown.exception)
    missing = CliRunner().invoke(app, ["import", str(path), "--dataset", "d"])
    assert isinstance(missing.exception, PesbenchError)
    assert "no functional" in missing.output
    assert _refs(db_settings) == []


def test_ase_trajectory_and_implausible_units(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "md.traj"
    write(path, frames)  # ASE's trajectory keeps the calculators' results
    _import(str(path), "--dataset", "traj", "--functional", "PBE")
    docs = _refs(db_settings)
    _assert_matches(docs, frames)
    assert all(d.provenance and d.provenance.source_format == "ase" for d in docs)

    records = [
        {
            "structure": AseAtomsAdaptor.get_structure(a).as_dict(),
            "energy": a.get_potential_energy(),
            "forces": a.get_forces().tolist(),
            "stress": (a.get_stress(voigt=False) / units.GPa * 1e9).tolist(),  # Pa
            "functional": "PBE",
        }
        for a in frames
        if np.abs(a.get_stress()).max() > 1e-4
    ]
    assert records
    pa = tmp_path / "pa.json"
    pa.write_text(json.dumps(records))
    result = CliRunner().invoke(app, ["import", str(pa), "--dataset", "pa", "--stress-unit", "gpa"])
    assert isinstance(result.exception, PesbenchError)  # nothing imported
    assert "GPa: not GPa (unit error?)" in result.output
