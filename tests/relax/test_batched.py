"""Batched relaxations (``relax_many``) against ASE's one-by-one ``relax_atoms``.

EMT has no batches, so there the two must give the same trajectories to rounding; CHGNet
batches its forward pass, so there the minima must agree (below fmax, energies within
1 meV/atom) and the step counts nearly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.mlip import Predictor
from pesbench.mlip.registry import load_model
from pesbench.properties.sides import ModelSide, PredictorCalculator, predict_ase
from pesbench.relax import RelaxOutcome, relax_atoms, relax_many
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings

EMT_ID = "ase:ase.calculators.emt.EMT"


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def rattled(structure: Structure, seed: int, amplitude: float = 0.1) -> Structure:
    """A copy with every atom displaced by up to ``amplitude`` Å (fixed seed)."""
    rng = np.random.default_rng(seed)
    out = structure.copy()
    for i, shift in enumerate(rng.uniform(-amplitude, amplitude, (len(out), 3))):
        out.translate_sites([i], shift, frac_coords=False)
    return out


def fcc(element: str, a: float) -> Structure:
    """The conventional fcc cell, 4 atoms (built by hand: pymatgen's space groups are slow)."""
    frac = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    return Structure(Lattice.cubic(a), [element] * 4, frac)


def fcc_primitive(species: list[str], a: float, frac: list[list[float]]) -> Structure:
    """A primitive fcc-lattice cell (rocksalt, diamond) of cubic constant ``a``."""
    lattice = Lattice(0.5 * a * np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]]))
    return Structure(lattice, species, frac)


def metal_cells() -> list[Structure]:
    """EMT cells: Cu, Ni, Al, a CuNi cell, 4 to 8 atoms, rattled and strained."""
    cu = fcc("Cu", 3.65)
    mixed = cu.copy()
    mixed.replace(1, "Ni")
    strained = fcc("Al", 4.0) * (2, 1, 1)
    strained.apply_strain([0.03, -0.02, 0.01])
    return [rattled(cu, 1), rattled(fcc("Ni", 3.50), 2), rattled(strained, 3), rattled(mixed, 4)]


def chgnet_cells() -> list[Structure]:
    """Small rattled, strained cells of Si, MgO, NaCl and Cu, 4 atoms each."""
    si = fcc_primitive(["Si", "Si"], 5.50, [[0, 0, 0], [0.25, 0.25, 0.25]])
    mgo = fcc_primitive(["Mg", "O"], 4.30, [[0, 0, 0], [0.5, 0.5, 0.5]])
    nacl = fcc_primitive(["Na", "Cl"], 5.60, [[0, 0, 0], [0.5, 0.5, 0.5]])
    cu = fcc("Cu", 3.70)
    cu.apply_strain([0.02, 0.0, -0.02])
    return [
        rattled(si * (2, 1, 1), 1),
        rattled(mgo * (2, 1, 1), 2),
        rattled(nacl * (2, 1, 1), 3),
        rattled(cu, 4),
    ]


def one_by_one(
    predictor: Predictor, cells: list[Structure], **kwargs: object
) -> list[RelaxOutcome]:
    outcomes = []
    for cell in cells:
        atoms = AseAtomsAdaptor.get_atoms(cell)
        atoms.calc = PredictorCalculator(predictor)
        try:
            outcomes.append(relax_atoms(atoms, **kwargs))  # type: ignore[arg-type]
        except RuntimeError as exc:
            outcomes.append(RelaxOutcome(converged=False, n_steps=0, reason=str(exc)))
    return outcomes


def batched(predictor: Predictor, cells: list[Structure], **kwargs: object) -> list[RelaxOutcome]:
    atoms = [AseAtomsAdaptor.get_atoms(cell) for cell in cells]
    return relax_many(atoms, lambda batch: predict_ase(predictor, batch), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def emt() -> Predictor:
    return load_model(EMT_ID, check=False)


@pytest.fixture(scope="module")
def chgnet() -> Predictor:
    return load_model("chgnet-0.3.0", device="cpu")


@pytest.mark.parametrize("relax_cell", [False, True])
def test_emt_batched_equals_one_by_one_frame_by_frame(emt: Predictor, relax_cell: bool) -> None:
    """No batch effects with EMT: every frame of every trajectory equal to rounding."""
    cells = metal_cells()
    kwargs = {"relax_cell": relax_cell, "fmax": 0.03, "max_steps": 200}
    ref = one_by_one(emt, cells, **kwargs)
    new = batched(emt, cells, **kwargs)
    for a, b in zip(ref, new, strict=True):
        assert a.converged, a.reason
        assert b.converged, b.reason
        assert a.n_steps == b.n_steps > 3
        assert len(a.energies) == len(b.energies) == a.n_steps + 1
        np.testing.assert_allclose(b.energies, a.energies, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b.cells, a.cells, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b.stresses, a.stresses, rtol=0, atol=1e-10)
        assert b.max_force == pytest.approx(a.max_force, abs=1e-8)
    # the structures finished at different steps: the batch shrank as they converged
    assert len({o.n_steps for o in new}) > 1


def test_emt_fixed_atoms_and_lbfgs(emt: Predictor) -> None:
    """Constraints and another optimizer go through as relax_atoms sets them up."""
    cells = metal_cells()
    kwargs = {"fix_indices": (0,), "fmax": 0.02, "max_steps": 200, "optimizer": "LBFGS"}
    ref = one_by_one(emt, cells, **kwargs)
    new = batched(emt, cells, **kwargs)
    for cell, a, b in zip(cells, ref, new, strict=True):
        assert a.n_steps == b.n_steps
        np.testing.assert_allclose(b.positions, a.positions, rtol=0, atol=1e-8)
        np.testing.assert_allclose(b.positions[-1][0], cell.cart_coords[0], atol=1e-12)


def test_unconverged_reported_and_others_finish(emt: Predictor) -> None:
    """A structure that runs out of steps says so; the others still converge."""
    cells = metal_cells()
    far = cells[2].copy()
    far.apply_strain(0.08)
    cells = [rattled(far, 9, amplitude=0.3), *cells]
    kwargs = {"fmax": 0.03, "max_steps": 6}
    ref = one_by_one(emt, cells, **kwargs)
    new = batched(emt, cells, **kwargs)
    assert not ref[0].converged
    assert not new[0].converged
    assert new[0].n_steps == 6
    assert len(new[0].energies) == 7
    assert new[0].reason == ref[0].reason
    assert "not converged in 6 BFGS steps" in (new[0].reason or "")
    converged = [o for o in new[1:] if o.converged]
    assert converged
    assert all((o.max_force or 1.0) < 0.03 for o in converged)
    assert [o.converged for o in new] == [o.converged for o in ref]


def test_structure_the_model_cannot_take_is_failed_alone(emt: Predictor) -> None:
    """EMT has no Si: that cell fails with the calculator's reason, the others relax."""
    cells = metal_cells()
    silicon = fcc_primitive(["Si", "Si"], 5.47, [[0, 0, 0], [0.25, 0.25, 0.25]])
    cells.insert(1, rattled(silicon, 5))
    new = batched(emt, cells, fmax=0.02, max_steps=100)
    ref = one_by_one(emt, cells, fmax=0.02, max_steps=100)
    assert not new[1].converged
    assert new[1].energies == []
    assert new[1].reason == ref[1].reason
    assert "Si" in (new[1].reason or "")
    assert all(o.converged for k, o in enumerate(new) if k != 1)
    for k in (0, 2, 3, 4):
        np.testing.assert_allclose(new[k].energies, ref[k].energies, rtol=0, atol=1e-8)


def test_single_points(emt: Predictor) -> None:
    """max_steps=0 evaluates each structure once, like relax_atoms."""
    cells = metal_cells()
    ref = one_by_one(emt, cells, max_steps=0)
    new = batched(emt, cells, max_steps=0)
    for a, b in zip(ref, new, strict=True):
        assert b.converged
        assert b.n_steps == 0
        assert len(b.energies) == 1
        assert b.energies[0] == pytest.approx(a.energies[0], abs=1e-10)


@pytest.mark.parametrize(
    "relax_cell",
    [False, pytest.param(True, marks=pytest.mark.slow)],  # the filter: EMT test above
)
def test_chgnet_batched_minima_match_one_by_one(chgnet: Predictor, relax_cell: bool) -> None:
    """Batched CHGNet passes: same minima as ASE one by one (forces < fmax, 1 meV/atom)."""
    cells = chgnet_cells()
    fmax = 0.05
    kwargs = {"relax_cell": relax_cell, "fmax": fmax, "max_steps": 300}
    ref = one_by_one(chgnet, cells, **kwargs)
    new = batched(chgnet, cells, **kwargs)
    for cell, a, b in zip(cells, ref, new, strict=True):
        assert a.converged, a.reason
        assert b.converged, b.reason
        assert (b.max_force or 1.0) < fmax
        assert abs(b.energies[-1] - a.energies[-1]) / len(cell) < 1e-3
        assert abs(b.n_steps - a.n_steps) <= max(3, a.n_steps // 5), (a.n_steps, b.n_steps)
        assert b.n_steps > 0


def test_model_side_relax_many_uses_cache_and_reports_failures(chgnet: Predictor) -> None:
    """ModelSide.relax_many: docs like relax()'s, stored ones reused, a bad cell failed."""

    class DictCache:
        def __init__(self) -> None:
            self.docs: dict[str, RelaxationDoc] = {}

        def get(self, relaxation_id: str) -> RelaxationDoc | None:
            return self.docs.get(relaxation_id)

        def put(self, doc: RelaxationDoc) -> None:
            self.docs[doc.relaxation_id] = doc

    cache = DictCache()
    side = ModelSide(chgnet, cache=cache)
    cells = chgnet_cells()[1:4]
    americium = Structure(Lattice.cubic(3.5), ["Am"], [[0, 0, 0]])
    settings = RelaxSettings(fmax=0.05, max_steps=200)
    first = side.relax(cells[0], settings)
    docs = side.relax_many([cells[0], americium, cells[1], cells[2], cells[1]], settings)
    assert docs[0] is first  # from the cache, not relaxed again
    assert docs[1].status == "failed"
    assert "Am" in (docs[1].failure_reason or "")
    assert all(d.status == "success" and d.converged for d in (docs[2], docs[3]))
    assert docs[4].relaxation_id == docs[2].relaxation_id
    assert len(cache.docs) == 4
    single = ModelSide(chgnet).relax(cells[1], settings)
    assert docs[2].relaxation_id == single.relaxation_id
    assert docs[2].energy_per_atom == pytest.approx(single.energy_per_atom, abs=1e-3)
