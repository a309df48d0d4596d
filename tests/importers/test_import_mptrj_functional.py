"""MPtrj mixes MP's GGA and GGA+U runs: ``--functional PBE`` stores each as MP ran it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.settings import PesbenchSettings
from pesbench.stores.references import ReferenceStore

# formula -> what MP ran: +U on Co Cr Fe Mn Mo Ni V W only beside O or F (MPRelaxSet.yaml)
_PLANTED = {
    "FeO": "PBE+U",
    "NiF": "PBE+U",  # F: the fluoride table
    "MoO": "PBE+U",
    "FeS": "PBE",  # a U metal without O or F
    "CuO": "PBE",  # O without a U metal
    "LiF": "PBE",
    "Si2": "PBE",
}


def _record(formula: str) -> dict[str, object]:
    species = [formula[:2], formula[2:]] if formula != "Si2" else ["Si", "Si"]
    structure = Structure(Lattice.cubic(4.2), species, [[0, 0, 0], [0.5, 0.5, 0.5]])
    return {
        "structure": structure.as_dict(),
        "uncorrected_total_energy": -10.0,
        "corrected_total_energy": -11.0,
        "force": [[0.0, 0.0, 0.1], [0.0, 0.0, -0.1]],
        "stress": [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]],
        "magmom": None,
        "mp_id": f"mp-{formula}",
    }


@pytest.fixture
def mptrj(tmp_path: Path) -> Path:
    data = {f"mp-{f}": {f"mp-{f}-0-0": _record(f)} for f in _PLANTED}
    path = tmp_path / "MPtrj_small.json"
    path.write_text(json.dumps(data))
    return path


def _functionals(settings: PesbenchSettings, dataset: str) -> dict[str, str]:
    with ReferenceStore(settings) as store:
        docs = list(store.query({"provenance.dataset": dataset}))
    return {
        d.provenance.material_id.removeprefix("mp-"): d.functional for d in docs if d.provenance
    }


@pytest.mark.parametrize("given", ["PBE", "pbe+u"])
def test_pbe_means_mps_gga_plus_u_mixing(
    db_settings: PesbenchSettings, mptrj: Path, given: str
) -> None:
    result = CliRunner().invoke(
        app, ["import", str(mptrj), "--dataset", "mp", "--functional", given]
    )
    assert result.exit_code == 0, result.output
    assert _functionals(db_settings, "mp") == _PLANTED


def test_another_functional_is_every_frames(db_settings: PesbenchSettings, mptrj: Path) -> None:
    result = CliRunner().invoke(
        app, ["import", str(mptrj), "--dataset", "mine", "--functional", "r2SCAN"]
    )
    assert result.exit_code == 0, result.output
    assert _functionals(db_settings, "mine") == dict.fromkeys(_PLANTED, "r2SCAN")
