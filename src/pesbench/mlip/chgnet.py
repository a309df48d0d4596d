"""CHGNet: weights from its wheel (``chgnet-0.3.0``, ``-0.2.0``, ``-r2scan``) or a file."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Element, Structure

from pesbench.analysis.conventions import KNOWN_CONVENTIONS
from pesbench.mlip.base import Predictor, RawResult, state_dict_checksum
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import CHGNET_VERSIONS, ModelSpec, find_local
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import EnergyConvention, ModelInfo
from pesbench.settings import PesbenchSettings

__all__ = [
    "CHGNetPredictor",
    "inference_gradients",
    "load_chgnet",
    "model_card_path",
    "recorded_convention",
    "recorded_energies",
]

N_ELEMENTS = 94
"""CHGNet embeds atomic numbers 1 to 94 (H to Pu)."""

TRAINING_DATA = {
    "0.3.0": "MPtrj (PBE/PBE+U, MP2020-corrected energies)",
    "0.2.0": "MPtrj (PBE/PBE+U, MP2020-corrected energies)",
    "r2scan": "MP r2SCAN (transfer-learned from CHGNet 0.3.0)",
}
"""Training data of the weights in the wheel; their energy conventions:
:data:`pesbench.analysis.conventions.KNOWN_CONVENTIONS`."""


@contextlib.contextmanager
def inference_gradients() -> Iterator[None]:
    """Inside the block, ``torch.autograd.grad`` builds no graph of the gradients.

    CHGNet computes forces and stress with ``create_graph=True`` so that a training loss can
    differentiate them again; inference never does. Without it the numbers are the same
    (``tests/mlip/test_chgnet_inference.py``: to 1e-5 on the wheel's weights) and a forward
    pass keeps far less memory (issue 14). Only the calling thread's pass is meant: pesbench
    predicts with one model at a time per process.
    """
    original = torch.autograd.grad

    def grad(*args: Any, **kwargs: Any) -> Any:
        kwargs["create_graph"] = False
        return original(*args, **kwargs)

    torch.autograd.grad = grad
    try:
        yield
    finally:
        torch.autograd.grad = original


class CHGNetPredictor(Predictor):
    """CHGNet through ``CHGNet.predict_structure(list, batch_size=len(list))``.

    Forces and stress are computed without the double-backward graph
    (:func:`inference_gradients`); ``stock=True`` keeps CHGNet's own path.
    """

    def __init__(self, model: object, info: ModelInfo, device: str, stock: bool = False) -> None:
        elements = frozenset(Element.from_Z(z).symbol for z in range(1, N_ELEMENTS + 1))
        super().__init__(info, device, elements)
        self.model = model
        self.stock = stock

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        with contextlib.nullcontext() if self.stock else inference_gradients():
            preds = self.model.predict_structure(  # type: ignore[attr-defined]
                list(structures), task="efs", batch_size=len(structures)
            )
        if isinstance(preds, dict):
            preds = [preds]
        return [
            RawResult(
                energy=float(np.asarray(p["e"]).item()) * len(s),  # CHGNet gives eV/atom
                forces=np.asarray(p["f"], dtype=float),
                stress=np.asarray(p["s"], dtype=float),  # GPa, ASE sign
            )
            for p, s in zip(preds, structures, strict=True)
        ]


def load_chgnet(
    spec: ModelSpec, device: str, functional: Functional, settings: PesbenchSettings
) -> CHGNetPredictor:
    """Load CHGNet weights shipped in the wheel, or a checkpoint file (``chgnet:<path>``)."""
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints on load
        if spec.path is None:
            if spec.name not in CHGNET_VERSIONS:
                raise ModelUnavailableError(
                    f"{spec.model_id}: the chgnet wheel ships {', '.join(CHGNET_VERSIONS)}; "
                    "for other weights use chgnet:<path to .pth.tar>"
                )
            model = CHGNet.load(model_name=spec.name, use_device=device, verbose=False)
        else:
            path = find_local(spec, ("",), settings)
            if path is None or not path.is_file():
                raise ModelUnavailableError(
                    f"{spec.model_id}: no CHGNet checkpoint at {spec.path} "
                    f"(nor under {settings.models_path})"
                )
            model = CHGNet.from_file(str(path)).to(device)
    model.eval()
    convention = KNOWN_CONVENTIONS.get(spec.model_id, "unknown")
    training = TRAINING_DATA.get(spec.name)
    if spec.path is not None:
        convention, training = recorded_convention(path) if path is not None else ("unknown", None)
    info = ModelInfo(
        model_id=spec.model_id,
        name="chgnet",
        version=spec.name,
        checksum=state_dict_checksum(model),
        functional=functional,
        framework=f"chgnet {version('chgnet')}",
        energy_convention=convention,
        training_data=training,
    )
    predictor = CHGNetPredictor(model, info, device)
    if spec.path is not None:
        predictor.expected_energies = recorded_energies(path) if path is not None else None
    return predictor


def model_card_path(checkpoint: Path) -> Path:
    """The JSON card written next to a fine-tuned checkpoint: ``<name>.json``."""
    return checkpoint.with_name(checkpoint.name.removesuffix(".pth.tar") + ".json")


def recorded_energies(checkpoint: Path) -> dict[str, float] | None:
    """The sanity-check energies recorded in a checkpoint's card, if it has one."""
    card = model_card_path(checkpoint)
    if not card.is_file():
        return None
    values = json.loads(card.read_text()).get("sanity_energies")
    return {str(k): float(v) for k, v in values.items()} if values else None


def recorded_convention(checkpoint: Path) -> tuple[EnergyConvention, str | None]:
    """The energy convention and training data recorded in a checkpoint's card, if any."""
    card = model_card_path(checkpoint)
    if not card.is_file():
        return "unknown", None
    data = json.loads(card.read_text())
    convention = data.get("energy_convention")
    if convention not in ("mp2020", "raw"):
        convention = "unknown"
    return convention, data.get("training_data")
