"""``pesbench predict`` and ``pesbench models`` without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.mlip.sanity import RECORDED_ENERGIES, reference_cells
from pesbench.settings import override_settings

runner = CliRunner()


def test_predict_prints_json_with_a_failure(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    si = tmp_path / "Si.cif"
    reference_cells()["Si-diamond"].to(filename=str(si))
    odd = tmp_path / "POSCAR"
    Structure(Lattice.cubic(3.0), ["Cm"], [[0, 0, 0]]).to(filename=str(odd), fmt="poscar")
    with override_settings(data_dir=tmp_path, device="cpu"):
        result = runner.invoke(
            app, ["predict", str(si), str(odd), "--model", "chgnet-0.3.0", "--json"]
        )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    assert data["model"]["model_id"] == "chgnet-0.3.0"
    first, second = data["predictions"]
    assert first["energy_per_atom"] == pytest.approx(
        RECORDED_ENERGIES["chgnet-0.3.0"]["Si-diamond"], abs=2e-3
    )
    assert first["energy"] == pytest.approx(2 * first["energy_per_atom"])
    assert len(first["forces"]) == 2
    assert len(first["stress"]) == 3
    assert second["status"] == "failed"
    assert "Cm" in second["failure_reason"]


def test_predict_unknown_model_is_one_line(tmp_path: Path) -> None:
    si = tmp_path / "Si.cif"
    reference_cells()["Si-diamond"].to(filename=str(si))
    result = runner.invoke(app, ["predict", str(si), "--model", "mace-nowhere"])
    assert result.exit_code != 0
    assert "no MACE model file" in str(result.exception)


def test_models_lists_what_loads_and_why_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pesbench.mlip.matgl as matgl_adapter

    monkeypatch.setattr(matgl_adapter, "_hub_reachable", lambda timeout=3.0: False)
    with override_settings(data_dir=tmp_path, device="cpu"):
        result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["model_id"]: row for row in json.loads(result.stdout[result.stdout.index("[") :])}
    assert rows["chgnet-0.3.0"]["ok"]
    assert rows["chgnet-r2scan"]["ok"]
    assert "r2SCAN" in rows["chgnet-r2scan"]["detail"]
    assert not rows["matgl-M3GNet-MatPES-PBE-v2025.1-PES"]["ok"]
    assert "put it at" in rows["matgl-M3GNet-MatPES-PBE-v2025.1-PES"]["detail"]
