"""Every adapter with real weights or real model files: sanity, batching, failures.

CHGNet uses the weights shipped in its wheel; MACE and M3GNet are tiny models built from
scratch, saved, and loaded through the same code path as downloaded files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pesbench.mlip import ModelSanityError, ModelUnavailableError, load_model, sanity_check
from pesbench.mlip.sanity import RECORDED_ENERGIES, reference_cells
from pesbench.settings import PesbenchSettings
from pesbench.testing.models import build_m3gnet, build_tiny_mace

MODELS = [
    "chgnet-0.3.0",
    "chgnet-r2scan",
    "mace:tiny.model",
    "mace-tiny",
    "matgl-tiny-m3gnet",
    "ase:ase.calculators.emt.EMT",
]


@pytest.fixture(scope="module")
def loaded(model_dir: Path) -> dict:
    """Each model loaded once (loading CHGNet costs a second)."""
    from pesbench.settings import override_settings

    with override_settings(model_dir=model_dir, device="cpu"):
        return {model_id: load_model(model_id) for model_id in MODELS}


@pytest.mark.parametrize("model_id", MODELS)
def test_batched_and_one_by_one_agree(
    loaded: dict, model_id: str, mixed_structures: list[Structure]
) -> None:
    predictor = loaded[model_id]
    structures = mixed_structures
    if model_id.startswith("ase:"):  # EMT knows Cu, not Si/Mg
        structures = [s for s in structures if s.composition.reduced_formula == "Cu"]
    batched = predictor.predict(structures, atom_budget=1000)
    single = predictor.predict(structures, batched=False)
    assert batched.failures == [None] * len(structures)
    assert single.failures == [None] * len(structures)
    if predictor.batched:
        assert max(batched.batch_sizes) == len(structures)
    assert set(single.batch_sizes) == {1}
    for k, structure in enumerate(structures):
        n = len(structure)
        assert abs(batched.energies[k] - single.energies[k]) / n < 1e-5
        assert np.abs(batched.forces[k] - single.forces[k]).max() < 1e-4
        assert np.abs(batched.stresses[k] - single.stresses[k]).max() < 1e-3  # GPa
        assert batched.forces[k].shape == (n, 3)
    # the rattled cells have forces: the model is not trivially zero
    assert max(np.abs(f).max() for f in batched.forces) > 1e-3


@pytest.mark.parametrize("model_id", MODELS)
def test_an_unknown_element_fails_alone(loaded: dict, model_id: str) -> None:
    predictor = loaded[model_id]
    good = reference_cells()["Cu-fcc"]
    if predictor.elements is not None:
        absent = "Cm" if model_id.startswith("chgnet") else "Na"
    else:
        absent = "Si"  # EMT has no Si potential: its library raises
    bad = Structure(Lattice.cubic(3.0), [absent], [[0, 0, 0]])
    out = predictor.predict([good, bad, good])
    assert out.failures[0] is None
    assert out.failures[2] is None
    assert out.failures[1] is not None
    assert absent in out.failures[1]
    assert out.energies[1] is None
    assert out.forces[1] is None
    assert out.energies[0] == pytest.approx(out.energies[2])


def test_chgnet_real_weights_match_recorded_energies(loaded: dict) -> None:
    for model_id in ("chgnet-0.3.0", "chgnet-r2scan"):
        report = sanity_check(loaded[model_id])
        for name, value in RECORDED_ENERGIES[model_id].items():
            assert report[name] == pytest.approx(value, abs=2e-3)
    assert loaded["chgnet-r2scan"].info.functional == "r2SCAN"
    assert loaded["chgnet-0.3.0"].info.functional == "PBE"
    assert loaded["chgnet-0.3.0"].info.checksum != loaded["chgnet-r2scan"].info.checksum


def test_stress_sign_is_ase(loaded: dict) -> None:
    """A compressed cell pushes outwards: negative (compressive) stress, every adapter."""
    si = reference_cells()["Si-diamond"]
    cu = reference_cells()["Cu-fcc"]
    for model_id in ("chgnet-0.3.0", "ase:ase.calculators.emt.EMT"):
        cell = (cu if model_id.startswith("ase") else si).copy()
        cell.scale_lattice(cell.volume * 0.9)
        stress = loaded[model_id].predict([cell]).stresses[0]
        assert np.trace(stress) < 0, model_id


def test_mace_and_matgl_stress_is_the_energy_derivative(loaded: dict) -> None:
    """Stress (GPa, ASE sign) = dE/dstrain / V, by finite differences, for the tiny models."""
    base = reference_cells()["MgO-rocksalt"] * (2, 1, 1)
    base.perturb(0.05, 0.05)
    for model_id in ("mace-tiny", "matgl-tiny-m3gnet"):
        predictor = loaded[model_id]
        energies = []
        for eps in (-1e-4, 1e-4):
            cell = base.copy()
            cell.apply_strain([eps, 0, 0])
            energies.append(predictor.predict([cell]).energies[0])
        numeric = (energies[1] - energies[0]) / 2e-4 / base.volume * 160.21766208
        analytic = predictor.predict([base]).stresses[0][0, 0]
        assert analytic == pytest.approx(numeric, rel=0.05, abs=0.05), model_id


def test_sanity_check_rejects_a_model_far_off(
    model_settings: PesbenchSettings, tmp_path: Path
) -> None:
    build_tiny_mace(tmp_path / "off.model", element_energy={"Mg": 0.0, "O": 0.0, "Si": 0.0})
    with pytest.raises(ModelSanityError, match=r"MgO-rocksalt: .* known PBE value"):
        load_model(f"mace:{tmp_path / 'off.model'}")
    build_m3gnet(tmp_path / "off-m3gnet", element_energy={"Si": -2.0})
    with pytest.raises(ModelSanityError, match="Si-diamond"):
        load_model(f"matgl:{tmp_path / 'off-m3gnet'}")
    # the same file passes when asked not to check (what --no-check would do)
    assert load_model(f"mace:{tmp_path / 'off.model'}", check=False).elements is not None


def test_sanity_check_rejects_chgnet_against_wrong_expectations(loaded: dict) -> None:
    with pytest.raises(ModelSanityError, match="off by"):
        sanity_check(loaded["chgnet-0.3.0"], expected={"MgO-rocksalt": -2.1})


def test_unavailable_models_say_how_to_supply_them(model_settings: PesbenchSettings) -> None:
    with pytest.raises(ModelUnavailableError, match=r"put a \.model file there"):
        load_model("mace-not-here")
    with pytest.raises(ModelUnavailableError, match="no matgl model folder"):
        load_model("matgl:/nowhere/model")
    with pytest.raises(ModelUnavailableError, match="chgnet wheel ships"):
        load_model("chgnet-9.9.9")
    with pytest.raises(ModelUnavailableError, match="cannot import"):
        load_model("ase:no_such_module.Calc")
