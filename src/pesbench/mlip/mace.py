"""MACE: a local ``.model`` file, or a MACE-MP foundation model through mace's loader.

Batches are built the way mace's own calculator builds one structure: ``AtomicData``
graphs merged by its ``torch_geometric.Batch``, one forward pass with ``compute_stress``.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Element, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor, RawResult, state_dict_checksum
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import MACE_DOWNLOADS, ModelSpec, find_local
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import ModelInfo
from pesbench.settings import PesbenchSettings

__all__ = ["MACEPredictor", "import_mace", "load_mace"]


def import_mace() -> Any:
    """Import mace, letting torch unpickle its full model objects.

    torch 2.13 loads with ``weights_only=True`` by default, which a MACE ``.model`` file
    (a pickled module) cannot satisfy.
    """
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import mace

    return mace


class MACEPredictor(Predictor):
    """A MACE ``torch.nn.Module`` evaluated on batched ``AtomicData`` graphs."""

    def __init__(self, model: torch.nn.Module, info: ModelInfo, device: str) -> None:
        from mace.tools import AtomicNumberTable

        numbers = [int(z) for z in model.atomic_numbers]  # type: ignore[union-attr]
        super().__init__(info, device, frozenset(Element.from_Z(z).symbol for z in numbers))
        self.model = model
        self.z_table = AtomicNumberTable(numbers)
        self.cutoff = float(model.r_max)  # type: ignore[arg-type]
        heads = list(getattr(model, "heads", None) or ["Default"])
        default = [h for h in heads if str(h).lower() == "default"]
        self.heads = heads
        self.head = heads[0] if len(heads) == 1 else (default[0] if default else heads[-1])
        self.dtype = next(model.parameters()).dtype

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        from mace import data as mace_data
        from mace.tools import torch_geometric

        graphs = []
        for structure in structures:
            config = mace_data.config_from_atoms(
                AseAtomsAdaptor.get_atoms(structure), head_name=self.head
            )
            # mace's neighbour list needs C-contiguous arrays (a strained lattice is not)
            config.positions = np.ascontiguousarray(config.positions)
            config.cell = np.ascontiguousarray(config.cell)
            graphs.append(
                mace_data.AtomicData.from_config(
                    config, z_table=self.z_table, cutoff=self.cutoff, heads=self.heads
                )
            )
        batch = torch_geometric.Batch.from_data_list(graphs).to(self.device)
        inputs = batch.to_dict()
        for key, value in inputs.items():
            if torch.is_tensor(value) and torch.is_floating_point(value):
                inputs[key] = value.to(self.dtype)
        out = self.model(inputs, compute_stress=True, training=False)
        energies = out["energy"].detach().cpu().numpy().astype(float)
        forces = out["forces"].detach().cpu().numpy().astype(float)
        stresses = out["stress"].detach().cpu().numpy().astype(float) * EV_PER_A3_TO_GPA
        splits = np.cumsum([len(s) for s in structures])[:-1]
        return [
            RawResult(energy=float(e), forces=f, stress=s)
            for e, f, s in zip(energies, np.split(forces, splits), stresses, strict=True)
        ]


def load_mace(
    spec: ModelSpec, device: str, functional: Functional, settings: PesbenchSettings
) -> MACEPredictor:
    """Load a ``.model`` file (path form, or by name in the model folder), else download."""
    import_mace()
    path = find_local(spec, (".model",), settings)
    if path is not None:
        model = _load_file(spec, path, device)
        version_name = path.name.removesuffix(".model")
    elif spec.path is None and spec.name in MACE_DOWNLOADS:
        model = _download(spec, device, settings)
        version_name = spec.name
    else:
        where = spec.path or (settings.models_path / f"{spec.name}.model")
        raise ModelUnavailableError(
            f"{spec.model_id}: no MACE model file at {where}; put a .model file there, "
            f"use mace:<path>, or one of mace-{', mace-'.join(MACE_DOWNLOADS)} "
            "(downloaded on first use)"
        )
    model.eval()
    info = ModelInfo(
        model_id=spec.model_id,
        name="mace",
        version=version_name,
        checksum=state_dict_checksum(model),
        functional=functional,
        framework=f"mace-torch {version('mace-torch')}",
        # MACE-MP and MatPES models learned uncorrected energies; a user's file: not known
        energy_convention="raw" if path is None else "unknown",
    )
    return MACEPredictor(model, info, device)


def _load_file(spec: ModelSpec, path: Path, device: str) -> torch.nn.Module:
    try:
        model = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:
        raise ModelUnavailableError(
            f"{spec.model_id}: {path} is not a loadable MACE model ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "atomic_numbers"):
        raise ModelUnavailableError(
            f"{spec.model_id}: {path} holds a {type(model).__name__}, not a MACE model "
            "(save the module itself: torch.save(model, path))"
        )
    return model.to(device)


def _download(spec: ModelSpec, device: str, settings: PesbenchSettings) -> torch.nn.Module:
    from mace.calculators import mace_mp

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # mace prints download progress
            model = mace_mp(
                model=MACE_DOWNLOADS[spec.name],
                device=device,
                default_dtype="float64",
                return_raw_model=True,
            )
    except Exception as exc:
        raise ModelUnavailableError(
            f"{spec.model_id}: mace could not fetch it ({type(exc).__name__}; no internet?); "
            f"download the file on a connected machine and put it at "
            f"{settings.models_path / (spec.name + '.model')}, or use mace:<path>"
        ) from None
    return model.to(device)
