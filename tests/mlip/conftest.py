"""Structures and tiny models shared by the uMLIP tests (one torch thread: shared cores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from pesbench.settings import PesbenchSettings, override_settings
from pesbench.testing.models import build_m3gnet, build_tiny_mace


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def rattled(structure: Structure, seed: int, amplitude: float = 0.05) -> Structure:
    """A copy with every atom displaced by up to ``amplitude`` Å (fixed seed)."""
    rng = np.random.default_rng(seed)
    out = structure.copy()
    for i, shift in enumerate(rng.uniform(-amplitude, amplitude, (len(out), 3))):
        out.translate_sites([i], shift, frac_coords=False)
    return out


@pytest.fixture
def mixed_structures() -> list[Structure]:
    """Five small rattled and strained cells of Si, MgO and Cu, 2 to 8 atoms."""
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.47), ["Si"], [[0, 0, 0]])
    mgo = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.26), ["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    cu = Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.63), ["Cu"], [[0, 0, 0]])
    strained = mgo.copy()
    strained.apply_strain([0.02, -0.01, 0.0])
    return [
        rattled(si, 1),
        rattled(mgo, 2),
        rattled(cu.get_primitive_structure() * (2, 1, 1), 3),
        rattled(strained, 4),
        rattled(si.get_primitive_structure(), 5),
    ]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder with a tiny MACE file and a tiny M3GNet folder, built from scratch."""
    root = tmp_path_factory.mktemp("models")
    build_tiny_mace(root / "tiny.model")
    build_m3gnet(root / "tiny-m3gnet")
    return root


@pytest.fixture
def model_settings(model_dir: Path, tmp_path: Path) -> Iterator[PesbenchSettings]:
    """Settings whose model folder holds the tiny models; CPU."""
    with override_settings(model_dir=model_dir, data_dir=tmp_path, device="cpu") as settings:
        yield settings
