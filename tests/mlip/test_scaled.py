"""The one-parameter softening correction as a model id: ``<model>+scale@<fit-id>``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from pesbench.errors import PesbenchError
from pesbench.mlip import UnknownModelError, load_model, parse_model_id
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.scaled import ScaledPredictor, fit_scale, load_scale_fit, save_scale_fit
from pesbench.settings import PesbenchSettings, override_settings

EMT = "ase:ase.calculators.emt.EMT"


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[PesbenchSettings]:
    with override_settings(data_dir=tmp_path, device="cpu") as value:
        yield value


def _cu(seed: int) -> Structure:
    """Conventional fcc Cu, every atom displaced by up to 0.15 Å."""
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]])
    shifts = np.random.default_rng(seed).uniform(-0.15, 0.15, (len(cu), 3))
    for i, shift in enumerate(shifts):
        cu.translate_sites([i], shift, frac_coords=False)
    return cu


def test_model_id_grammar() -> None:
    spec = parse_model_id("chgnet-0.3.0+scale@0123456789ab")
    assert (spec.family, spec.name, spec.scale_fit) == ("chgnet", "0.3.0", "0123456789ab")
    assert spec.base_id == "chgnet-0.3.0"
    assert parse_model_id("chgnet-0.3.0").scale_fit is None
    local = parse_model_id("chgnet:ft/model.pth.tar+scale@abcdef")
    assert local.path == Path("ft/model.pth.tar")
    assert local.base_id == "chgnet:ft/model.pth.tar"
    for bad in ("chgnet-0.3.0+scale@", "chgnet-0.3.0+scale@xyz!", "x+scale@abcdef"):
        with pytest.raises(UnknownModelError):
            parse_model_id(bad)
    with pytest.raises(UnknownModelError, match="at most"):
        parse_model_id("chgnet-0.3.0+scale@abcdef+scale@abcdef")


def test_fit_saved_loaded_and_applied(settings: PesbenchSettings) -> None:
    base = load_model(EMT)
    fitted, held_out = [_cu(1)], [_cu(2), _cu(3)]
    raw = base.predict(fitted + held_out)
    true_scale = 0.8  # the "DFT" is stiffer than the model by 1/0.8
    reference = [np.asarray(f) / true_scale for f in raw.forces]
    fit = fit_scale(
        EMT,
        "PBE",
        reference[:1],
        raw.forces[:1],  # type: ignore[arg-type]
        [raw.energies[0] / len(fitted[0])],  # type: ignore[operator]
        ["ref-1"],
        ["struct-1"],
        ["Cu"],
    )
    assert fit.scale == pytest.approx(true_scale)
    assert fit.factor == pytest.approx(1 / true_scale)
    assert fit.force_mae_after < 1e-9 < fit.force_mae_before
    path = save_scale_fit(fit)
    assert path.parent == settings.models_path / "scale-fits"
    assert load_scale_fit(fit.fit_id) == fit

    corrected = load_model(fit.model_id)
    assert isinstance(corrected, ScaledPredictor)
    assert corrected.model_id == f"{EMT}+scale@{fit.fit_id}"
    assert corrected.info.checksum != base.info.checksum  # stored apart from the base's
    out = corrected.predict(held_out)
    for k, structure in enumerate(held_out):
        # held-out forces now match the "DFT" exactly; energy scaled about the anchor
        assert np.allclose(out.forces[k], reference[k + 1], atol=1e-9)  # type: ignore[arg-type]
        e0, n = fit.anchor_energy_per_atom, len(structure)
        expected = n * e0 + (raw.energies[k + 1] - n * e0) / true_scale  # type: ignore[operator]
        assert out.energies[k] == pytest.approx(expected)
        assert np.allclose(out.stresses[k], raw.stresses[k + 1] / true_scale)  # type: ignore[operator]


def test_forces_remain_the_energy_gradient(settings: PesbenchSettings) -> None:
    base = load_model(EMT)
    s = _cu(4)
    raw = base.predict([s])
    fit = fit_scale(EMT, "PBE", [np.asarray(raw.forces[0]) * 2], raw.forces, [0.0], ["r"], ["s"])
    save_scale_fit(fit)
    corrected = load_model(fit.model_id)
    h = 1e-4
    plus, minus = s.copy(), s.copy()
    plus.translate_sites([0], [h, 0, 0], frac_coords=False)
    minus.translate_sites([0], [-h, 0, 0], frac_coords=False)
    e = corrected.predict([plus, minus]).energies
    numeric = -(e[0] - e[1]) / (2 * h)  # type: ignore[operator]
    assert corrected.predict([s]).forces[0][0, 0] == pytest.approx(numeric, abs=1e-4)  # type: ignore[index]


def test_unknown_fit_and_wrong_base(settings: PesbenchSettings) -> None:
    with pytest.raises(ModelUnavailableError, match="ScaleFitMaker"):
        load_model("chgnet-0.3.0+scale@abcdef123456")
    base = load_model(EMT)
    raw = base.predict([_cu(5)])
    fit = fit_scale(EMT, "PBE", raw.forces, raw.forces, [0.0], ["r"], ["s"])  # type: ignore[arg-type]
    save_scale_fit(fit)
    with pytest.raises(PesbenchError, match="was made for"):
        load_model(f"chgnet-0.3.0+scale@{fit.fit_id}")
