"""SevenNet with the real weights of the sevenn wheel: pesbench equals SevenNetCalculator.

``pesbench predict --model <id> --json`` (batched forward passes of pesbench's adapter) is
compared with sevenn's own ASE calculator, structure by structure, for every model id.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor
from typer.testing import CliRunner

from pesbench.cli.main import app
from pesbench.mlip import ModelUnavailableError, UnknownModelError, load_model, parse_model_id
from pesbench.mlip.base import EV_PER_A3_TO_GPA
from pesbench.mlip.sevennet import SEVENNET_MODELS

IDS = list(SEVENNET_MODELS)


def calculator_results(model_id: str, structures: list[Structure]) -> list[dict]:
    """Energy, forces and stress (ASE's 3x3, GPa) from SevenNetCalculator itself."""
    from sevenn.calculator import SevenNetCalculator

    card = SEVENNET_MODELS[model_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        calc = SevenNetCalculator(card.checkpoint, device="cpu", modal=card.modal)
    out = []
    for structure in structures:
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = calc
        out.append(
            {
                "energy": atoms.get_potential_energy(),
                "forces": atoms.get_forces(),
                "stress": atoms.get_stress(voigt=False) * EV_PER_A3_TO_GPA,
            }
        )
    return out


@pytest.mark.parametrize("model_id", IDS)
def test_pesbench_predict_equals_sevennet_calculator(
    model_id: str, mixed_structures: list[Structure], tmp_path: Path
) -> None:
    files = []
    for k, structure in enumerate(mixed_structures):
        files.append(tmp_path / f"s{k}.json")
        structure.to(filename=str(files[-1]))
    result = CliRunner().invoke(
        app, ["predict", *map(str, files), "--model", model_id, "--json", "--device", "cpu"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output[result.output.index("{") :])
    rows = payload["predictions"]
    assert payload["model"]["energy_convention"] == "raw"
    expected = calculator_results(model_id, mixed_structures)
    for row, want in zip(rows, expected, strict=True):
        assert row["status"] == "success"
        assert abs(row["energy"] - want["energy"]) < 1e-5
        assert np.abs(np.array(row["forces"]) - want["forces"]).max() < 1e-5
        assert np.abs(np.array(row["stress"]) - want["stress"]).max() < 1e-5 * EV_PER_A3_TO_GPA
    # rattled cells have forces: the comparison is not between zeros
    assert max(np.abs(w["forces"]).max() for w in expected) > 0.05


def test_the_two_heads_are_two_models() -> None:
    pbe = load_model("7net-mf-0:PBE", device="cpu")
    r2scan = load_model("7net-mf-0:r2SCAN", device="cpu")
    assert pbe.info.functional == "PBE"
    assert r2scan.info.functional == "r2SCAN"
    # same weights, different heads: different ids in every dedupe key
    assert pbe.info.checksum != r2scan.info.checksum
    assert "r2SCAN" in (r2scan.info.training_data or "")


def test_bad_sevennet_ids_say_what_exists(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="7net-mf-0:PBE"):
        load_model("7net-omat", device="cpu")
    with pytest.raises(UnknownModelError, match="7net-<name>"):
        parse_model_id("7net-mf-0:r2 SCAN")
    with pytest.raises(ModelUnavailableError, match="no SevenNet checkpoint"):
        load_model(f"sevennet:{tmp_path / 'missing.pth'}", device="cpu")
    spec = parse_model_id("sevennet:/x/mf.pth@R2SCAN")
    assert (spec.family, spec.head, str(spec.path)) == ("sevennet", "R2SCAN", "/x/mf.pth")


def test_a_multi_fidelity_checkpoint_needs_its_head() -> None:
    import sevenn.util

    path = sevenn.util.pretrained_name_to_path("7net-mf-0")
    with pytest.raises(ModelUnavailableError, match="name its head"):
        load_model(f"sevennet:{path}", device="cpu")
    model = load_model(f"sevennet:{path}@R2SCAN", device="cpu")
    assert model.info.functional == "r2SCAN"
    assert model.info.energy_convention == "unknown"  # a file: pesbench cannot know


def test_listed_as_loadable_and_relaxes_like_any_model(mixed_structures: list[Structure]) -> None:
    from pesbench.mlip import known_model_ids, model_status
    from pesbench.properties import ModelSide
    from pesbench.schemas.relaxation import RelaxSettings

    assert set(IDS) <= set(known_model_ids())
    status = model_status("7net-0")
    assert status.ok, status.detail
    assert "raw DFT total energies" in status.detail
    si = mixed_structures[4]  # rattled primitive Si
    doc = ModelSide(load_model("7net-0", device="cpu")).relax(
        si, RelaxSettings(relax_cell=True, fmax=0.01, max_steps=300)
    )
    assert doc.status == "success", doc.failure_reason
    assert doc.converged
    # SevenNet-0's diamond Si: a = 5.45 Å (conventional), PBE 5.47
    a = doc.final_structure.lattice.a * np.sqrt(2)
    assert 5.40 < a < 5.50
    assert doc.frames.energies[-1] < doc.frames.energies[0]
