"""extxyz labels under other keys: MACE's ``REF_energy``/``REF_forces``/``REF_stress``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore


def _labelled(frames: list[Atoms], *, calculator: bool) -> list[Atoms]:
    """The frames with their EMT labels under REF_ names (and other calculator results)."""
    out = []
    for atoms in frames:
        copy = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=True)
        copy.info["REF_energy"] = atoms.get_potential_energy()
        copy.arrays["REF_forces"] = atoms.get_forces()
        copy.info["REF_stress"] = atoms.get_stress(voigt=False)
        if calculator:  # e.g. a model's prediction written beside the DFT labels
            copy.calc = SinglePointCalculator(
                copy,
                energy=atoms.get_potential_energy() + 1.0,
                forces=atoms.get_forces() * 2,
                stress=atoms.get_stress() * 2,
            )
        out.append(copy)
    return out


def _import(*args: str) -> str:
    result = CliRunner().invoke(app, ["import", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _stored(settings: PesbenchSettings, dataset: str) -> list:
    with ReferenceStore(settings) as store:
        docs = list(store.query({"provenance.dataset": dataset}))
    return sorted(docs, key=lambda d: d.provenance.frame_index if d.provenance else -1)


def _assert_labels(docs: list, frames: list[Atoms], scale: float = 1.0, shift: float = 0.0) -> None:
    assert len(docs) == len(frames)
    for doc, atoms in zip(docs, frames, strict=True):
        assert doc.energy == pytest.approx(atoms.get_potential_energy() + shift, abs=1e-8)
        np.testing.assert_allclose(doc.forces, scale * atoms.get_forces(), atol=1e-8)
        stress = scale * atoms.get_stress(voigt=False) / units.GPa
        np.testing.assert_allclose(doc.stress, stress, atol=1e-6)


def test_ref_labels_alone_are_read(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "train.xyz"
    labelled = _labelled(frames, calculator=False)
    labelled[0].info["REF_stress"] = labelled[0].info["REF_stress"].ravel()  # 9 numbers (MACE)
    write(path, labelled, format="extxyz")
    assert 'REF_stress="' in path.read_text().splitlines()[1]
    _import(str(path), "--dataset", "mace", "--functional", "PBE")
    _assert_labels(_stored(db_settings, "mace"), frames)


def test_both_labels_are_ambiguous_unless_a_key_says(
    db_settings: PesbenchSettings, tmp_path: Path, frames: list[Atoms]
) -> None:
    path = tmp_path / "both.xyz"
    write(path, _labelled(frames, calculator=True), format="extxyz")
    refused = CliRunner().invoke(
        app, ["import", str(path), "--dataset", "a", "--functional", "PBE"]
    )
    assert refused.exit_code != 0
    assert "both 'energy' and 'REF_energy', different" in refused.output
    assert "--energy-key" in refused.output
    assert _stored(db_settings, "a") == []

    keys = [
        "--energy-key",
        "REF_energy",
        "--forces-key",
        "REF_forces",
        "--stress-key",
        "REF_stress",
    ]
    _import(str(path), "--dataset", "ref", "--functional", "PBE", *keys)
    _assert_labels(_stored(db_settings, "ref"), frames)
    calc = ["--energy-key", "energy", "--forces-key", "forces", "--stress-key", "stress"]
    _import(str(path), "--dataset", "calc", "--functional", "PBE", *calc)
    _assert_labels(_stored(db_settings, "calc"), frames, scale=2.0, shift=1.0)

    no_energy = ["--energy-key", "DFT_E"]
    missing = CliRunner().invoke(
        app,
        ["import", str(path), "--dataset", "m", "--functional", "PBE", *keys[2:], *no_energy],
    )
    assert "no energy ('DFT_E') in the record" in missing.output
