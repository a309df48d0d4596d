"""uMLIPs built from scratch and saved as real model files: for tests and speed benchmarks.

Their weights are random (untrained), so they predict nothing meaningful; the per-element
reference energies are set to plausible values so that the models pass the sanity check
(:mod:`pesbench.mlip.sanity`) and are loaded by :func:`pesbench.mlip.load_model` through
the same code path as downloaded files. ``element_energy`` lets a test build one that
fails it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from pymatgen.core import Element

from pesbench.mlip.mace import import_mace

__all__ = ["TINY_ELEMENT_ENERGIES", "build_m3gnet", "build_tiny_mace"]

TINY_ELEMENT_ENERGIES: dict[str, float] = {"O": -6.3, "Mg": -6.3, "Si": -5.3, "Cu": -4.1}
"""eV/atom: per-element energies close to the PBE values of the sanity-check cells."""


def _energies(elements: Sequence[str], element_energy: Mapping[str, float] | None) -> np.ndarray:
    table = {**TINY_ELEMENT_ENERGIES, **(element_energy or {})}
    return np.array([table.get(el, -4.0) for el in elements], dtype=float)


def build_tiny_mace(
    path: Path,
    elements: Sequence[str] = ("O", "Mg", "Si", "Cu"),
    *,
    element_energy: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Build a ~25k-parameter ``ScaleShiftMACE`` (float64) and ``torch.save`` it to ``path``.

    Parameters
    ----------
    path
        The ``.model`` file to write.
    elements
        Elements the model knows.
    element_energy
        Per-element energies (eV/atom) replacing :data:`TINY_ELEMENT_ENERGIES`.
    seed
        Seed of the random weights.
    """
    import_mace()
    from e3nn import o3
    from mace import modules

    torch.manual_seed(seed)
    symbols = sorted(elements, key=lambda el: Element(el).Z)
    with _default_dtype(torch.float64):
        model = modules.ScaleShiftMACE(
            r_max=4.5,
            num_bessel=4,
            num_polynomial_cutoff=5,
            max_ell=2,
            interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
            interaction_cls_first=modules.interaction_classes[
                "RealAgnosticResidualInteractionBlock"
            ],
            num_interactions=2,
            num_elements=len(symbols),
            hidden_irreps=o3.Irreps("8x0e+8x1o"),
            MLP_irreps=o3.Irreps("8x0e"),
            atomic_energies=_energies(symbols, element_energy),
            avg_num_neighbors=12.0,
            atomic_numbers=[Element(el).Z for el in symbols],
            correlation=2,
            gate=torch.nn.functional.silu,
            atomic_inter_scale=0.5,
            atomic_inter_shift=0.0,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model, path)
    return path


def build_m3gnet(
    path: Path,
    elements: Sequence[str] | None = ("O", "Mg", "Si", "Cu"),
    *,
    paper: bool = False,
    element_energy: Mapping[str, float] | None = None,
    seed: int = 0,
) -> Path:
    """Build a matgl M3GNet ``Potential`` with random weights and save it in folder ``path``.

    Parameters
    ----------
    path
        Folder to write (``model.json``, ``model.pt``, ``state.pt``).
    elements
        Elements the model knows; None: matgl's default 89 elements.
    paper
        The hyperparameters of the M3GNet paper (3 blocks, 64 units, max_n = max_l = 3,
        cutoffs 5 and 4 Å; about 230k parameters) instead of a tiny model (~2k).
    element_energy
        Per-element energies (eV/atom) replacing :data:`TINY_ELEMENT_ENERGIES`.
    seed
        Seed of the random weights. The weights are drawn afresh (an untrained M3GNet
        predicts zero forces); ``data_std`` scales the random interaction energy down so
        that the per-element energies dominate.
    """
    from matgl.apps.pes import Potential
    from matgl.config import DEFAULT_ELEMENTS
    from matgl.models import M3GNet

    torch.manual_seed(seed)
    symbols = tuple(elements) if elements is not None else tuple(DEFAULT_ELEMENTS)
    size = (
        {}
        if paper
        else {"dim_node_embedding": 8, "dim_edge_embedding": 8, "units": 8, "nblocks": 1}
    )
    size |= {} if paper else {"max_n": 2, "max_l": 2}
    model = M3GNet(element_types=symbols, is_intensive=False, **size)  # type: ignore[arg-type]
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(0.5 * torch.randn_like(param))
    potential = Potential(
        model=model, data_std=0.2, element_refs=_energies(symbols, element_energy)
    )
    potential.save(str(path))
    return path


class _default_dtype:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype

    def __enter__(self) -> None:
        self.previous = torch.get_default_dtype()
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc: object) -> None:
        torch.set_default_dtype(self.previous)
