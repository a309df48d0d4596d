"""CHGNet inference without the gradient graph equals the stock path (issue 14).

The wheel's real weights. The stock path is CHGNet's own ``predict_structure`` on a model
loaded apart, untouched by pesbench: energy per atom, forces and stress agree to 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from chgnet.model import CHGNet
from pymatgen.core import Lattice, Structure

from pesbench.mlip import load_model
from pesbench.mlip.base import EV_PER_A3_TO_GPA, RawResult
from pesbench.mlip.chgnet import forward_without_graph

TOL = 1e-5
"""eV/atom, eV/Å and eV/Å³: the issue's bound."""


@pytest.fixture(scope="module")
def structures() -> list[Structure]:
    """The shared mixed cells (2 to 8 atoms) and a 16-atom Si cell rattled by 0.1 Å."""
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]]) * (2, 1, 1)
    rng = np.random.default_rng(7)
    si = Structure(
        si.lattice,
        si.species,
        si.cart_coords + rng.uniform(-0.1, 0.1, (16, 3)),
        coords_are_cartesian=True,
    )
    mgo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.26), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    mgo.apply_strain([0.02, -0.01, 0.0])
    mgo = Structure(
        mgo.lattice,
        mgo.species,
        mgo.cart_coords + rng.uniform(-0.05, 0.05, (8, 3)),
        coords_are_cartesian=True,
    )
    return [si, mgo]


def _max_differences(
    results: list[RawResult], stock: list[dict[str, np.ndarray]], structures: list[Structure]
) -> tuple[float, float, float]:
    """Largest |difference| of energy per atom (eV), force component (eV/Å), stress (eV/Å³)."""
    de = df = ds = 0.0
    for ours, want, structure in zip(results, stock, structures, strict=True):
        de = max(de, abs(ours.energy / len(structure) - float(want["e"])))
        df = max(df, float(np.abs(ours.forces - want["f"]).max()))
        ds = max(ds, float(np.abs(ours.stress - want["s"]).max()) / EV_PER_A3_TO_GPA)
    return de, df, ds


@pytest.mark.parametrize("model_id", ["chgnet-0.3.0", "chgnet-r2scan"])
def test_same_numbers_as_chgnets_own_path(
    model_id: str, structures: list[Structure], mixed_structures: list[Structure]
) -> None:
    cells = structures + mixed_structures
    stock_model = CHGNet.load(model_name=model_id.removeprefix("chgnet-"), verbose=False)
    stock = stock_model.predict_structure(cells, task="efs", batch_size=len(cells))
    predictor = load_model(model_id, device="cpu", check=False)
    ours = predictor.predict(cells, atom_budget=1000)
    assert ours.n_failed == 0
    assert set(ours.batch_sizes) == {len(cells)}  # one pass, as the stock call
    results = [
        RawResult(e, f, s)  # type: ignore[arg-type]
        for e, f, s in zip(ours.energies, ours.forces, ours.stresses, strict=True)
    ]
    assert max(_max_differences(results, stock, cells)) < TOL
    assert max(float(np.abs(f).max()) for f in ours.forces if f is not None) > 0.5
    assert max(float(np.abs(s).max()) for s in ours.stresses if s is not None) > 0.5  # GPa
    # nothing global is patched: a training step elsewhere still gets its second-order graph
    x = torch.ones(2, requires_grad=True)
    (g,) = torch.autograd.grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad


def test_without_the_stock_silu_derivative_forces_differ(structures: list[Structure]) -> None:
    """Why :func:`~pesbench.mlip.chgnet.use_stock_silu_derivative` is applied on load.

    Torch's fused SiLU derivative (used when no graph is kept) rounds differently from the
    composite one of CHGNet's path: the forces move by float32 rounding, about 1e-5 eV/Å.
    """
    model = CHGNet.load(model_name="0.3.0", verbose=False)
    stock = model.predict_structure(structures, task="efs", batch_size=len(structures))
    de, df, _ = _max_differences(forward_without_graph(model, structures), stock, structures)
    assert de < TOL
    assert 1e-6 < df < 1e-4  # differs, by rounding only
