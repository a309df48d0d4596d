"""matgl (M3GNet, TensorNet, CHGNet-matgl): a local model folder, or matgl's loader by name.

Batches are matgl's own: graphs from its ``Structure2Graph`` merged into one
PyTorch-Geometric ``Batch`` (what its data loader's collate does) and one
``Potential.forward`` over the batch with per-structure lattices and state attributes.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Structure

from pesbench.mlip.base import Predictor, RawResult, state_dict_checksum
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import ModelSpec, find_local
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import ModelInfo
from pesbench.settings import PesbenchSettings

__all__ = ["MatglPredictor", "load_matgl"]


class MatglPredictor(Predictor):
    """A matgl ``Potential`` evaluated on batched graphs."""

    def __init__(self, potential: Any, info: ModelInfo, device: str) -> None:
        from matgl.ext.pymatgen import Structure2Graph

        elements = tuple(potential.model.element_types)
        super().__init__(info, device, frozenset(elements))
        self.potential = potential
        self.converter = Structure2Graph(element_types=elements, cutoff=potential.model.cutoff)

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        from torch_geometric.data import Batch

        graphs, lattices, states = [], [], []
        for structure in structures:
            # matgl's neighbour list needs C-contiguous arrays (a strained lattice is not)
            plain = Structure(
                np.ascontiguousarray(structure.lattice.matrix),
                structure.species,
                np.ascontiguousarray(structure.frac_coords),
            )
            graph, lattice, state = self.converter.get_graph(plain)
            graphs.append(graph)
            lattices.append(torch.as_tensor(lattice).reshape(1, 3, 3))
            states.append(torch.as_tensor(np.asarray(state)).reshape(-1))
        batch = Batch.from_data_list(graphs)
        lat = torch.cat(lattices).to(self.device)
        state_attr = torch.stack(states).to(self.device)
        energies, forces, stresses, *_ = self.potential(batch, lat, state_attr)
        e = energies.detach().cpu().numpy().astype(float).reshape(-1)
        f = forces.detach().cpu().numpy().astype(float).reshape(-1, 3)
        s = stresses.detach().cpu().numpy().astype(float).reshape(-1, 3, 3)  # GPa, ASE sign
        splits = np.cumsum([len(x) for x in structures])[:-1]
        return [
            RawResult(energy=float(ei), forces=fi, stress=si)
            for ei, fi, si in zip(e, np.split(f, splits), s, strict=True)
        ]


HUB_HOST = "huggingface.co"
"""Where matgl's loader fetches named models from."""


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers at all (saves matgl's minute of retries offline)."""
    try:
        socket.create_connection((HUB_HOST, 443), timeout=timeout).close()
    except OSError:
        return False
    return True


def load_matgl(
    spec: ModelSpec, device: str, functional: Functional, settings: PesbenchSettings
) -> MatglPredictor:
    """Load a folder saved by matgl (path form, or by name in the model folder), else by name."""
    import matgl

    path = find_local(spec, ("",), settings)
    if path is not None and not (path / "model.json").is_file():
        raise ModelUnavailableError(
            f"{spec.model_id}: {path} is not a matgl model folder (no model.json); "
            f"save one with Potential.save(folder) using matgl {version('matgl')}"
        )
    if path is None and spec.path is not None:
        raise ModelUnavailableError(
            f"{spec.model_id}: no matgl model folder at {spec.path} "
            f"(nor under {settings.models_path})"
        )
    source: str | Path = path if path is not None else spec.name
    if path is None and not _hub_reachable():
        raise ModelUnavailableError(
            f"{spec.model_id}: not in {settings.models_path} and matgl's model hub "
            f"({HUB_HOST}) cannot be reached; download the model folder on a connected "
            f"machine and put it at {settings.models_path / spec.name}, or use matgl:<folder>"
        )
    try:
        potential = matgl.load_model(source)
    except Exception as exc:
        if path is not None:
            raise ModelUnavailableError(
                f"{spec.model_id}: matgl {version('matgl')} cannot load {path} "
                f"({type(exc).__name__}: {exc}); re-save it with this version"
            ) from None
        raise ModelUnavailableError(
            f"{spec.model_id}: matgl could not fetch '{spec.name}' from its model hub "
            f"({type(exc).__name__}; no internet?); download the model folder on a "
            f"connected machine and put it at {settings.models_path / spec.name}, "
            "or use matgl:<folder>"
        ) from None
    if not hasattr(potential, "model") or not hasattr(potential.model, "element_types"):
        raise ModelUnavailableError(
            f"{spec.model_id}: {source} is a {type(potential).__name__}, not a matgl "
            "Potential (energies, forces and stresses are needed)"
        )
    potential = potential.to(device)
    potential.eval()
    info = ModelInfo(
        model_id=spec.model_id,
        name=type(potential.model).__name__.lower(),
        version=spec.name,
        checksum=state_dict_checksum(potential),
        functional=functional,
        framework=f"matgl {version('matgl')}",
        # the hub's MatPES models learned raw energies; a folder's training data is not known
        energy_convention="raw" if path is None and "MatPES" in spec.name else "unknown",
    )
    return MatglPredictor(potential, info, device)
