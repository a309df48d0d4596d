"""``pesbench property``: one side's properties from files, without a database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from planted import cu_bulk
from pymatgen.core import Structure
from typer.testing import CliRunner

from pesbench.analysis.properties import EV_PER_A2_TO_J_PER_M2
from pesbench.cli.main import app
from pesbench.errors import PesbenchError
from pesbench.settings import override_settings

runner = CliRunner()
SURFACE = ["--set", "max_index=1", "--set", "min_slab_A=6", "--set", "min_vacuum_A=8"]


def _invoke(tmp_path: Path, *args: str):
    cif = tmp_path / "Cu.cif"
    cu_bulk().to(filename=str(cif))
    with override_settings(data_dir=tmp_path, device="cpu"):
        return runner.invoke(app, ["property", *args[:1], str(cif), *args[1:]])


def test_json_holds_every_term_to_check_a_value_by_hand(tmp_path: Path) -> None:
    result = _invoke(
        tmp_path, "surface", "--model", "ase:ase.calculators.emt.EMT", *SURFACE, "--json"
    )
    assert result.exit_code == 0, result.output
    (calc,) = json.loads(result.output)
    relaxations = {r["relaxation_id"]: r for r in calc["relaxations"]}
    bulk = calc["relaxations"][0]
    assert bulk["settings"]["relax_cell"] is True
    assert bulk["converged"] is True
    assert len(calc["properties"]) == 3
    for prop in calc["properties"]:
        slab = relaxations[prop["terms"]["slab"]]
        ref = relaxations[prop["terms"]["oriented_bulk"]]
        assert slab["settings"]["relax_cell"] is False
        assert slab["settings"]["fmax"] == pytest.approx(0.05)  # the relax_fmax default
        before = Structure.from_dict(slab["structure"])
        after = Structure.from_dict(slab["final_structure"])
        assert len(before) == len(after)
        area = prop["details"]["area_A2"]
        by_hand = (slab["energy"] - len(after) * ref["energy_per_atom"]) / (2 * area)
        assert prop["value"] == pytest.approx(by_hand * EV_PER_A2_TO_J_PER_M2, rel=1e-12)
        assert prop["unit"] == "J/m^2"


def test_table_and_bad_input(tmp_path: Path) -> None:
    table = _invoke(tmp_path, "surface", "--model", "ase:ase.calculators.emt.EMT", *SURFACE)
    assert table.exit_code == 0, table.output
    assert "surface_energy" in table.output
    assert "(1, 1, 1) t0" in table.output
    both = _invoke(tmp_path, "surface", "--model", "x", "--dft", "PBE")
    assert isinstance(both.exception, PesbenchError)  # main() prints it as one line
    assert "exactly one of --model" in str(both.exception)
    unknown = _invoke(tmp_path, "surfaces", "--model", "ase:ase.calculators.emt.EMT")
    assert "unknown category 'surfaces'" in str(unknown.exception)


def test_dft_side_with_the_emt_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _invoke(
        tmp_path, "surface", "--dft", "PBE", "--engine", "pesbench.testing.emt:EmtEngine",
        *SURFACE, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (calc,) = json.loads(result.output)
    assert calc["side"] == "PBE (emt)"
    assert calc["side_kind"] == "dft"
