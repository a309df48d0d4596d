"""CHGNet: weights from its wheel (``chgnet-0.3.0``, ``-0.2.0``, ``-r2scan``) or a file."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from pymatgen.core import Element, Structure

from pesbench.analysis.conventions import KNOWN_CONVENTIONS
from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor, RawResult, state_dict_checksum
from pesbench.mlip.errors import ModelUnavailableError
from pesbench.mlip.ids import CHGNET_VERSIONS, ModelSpec, find_local
from pesbench.schemas.base import Functional
from pesbench.schemas.prediction import EnergyConvention, ModelInfo
from pesbench.settings import PesbenchSettings

__all__ = [
    "CHGNetPredictor",
    "SiLUStockDerivative",
    "forward_without_graph",
    "load_chgnet",
    "model_card_path",
    "recorded_convention",
    "recorded_energies",
    "use_stock_silu_derivative",
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


class _SiLUStockDerivative(torch.autograd.Function):
    """SiLU whose derivative is the formula torch uses when the gradient graph is kept.

    Under ``create_graph=True`` (CHGNet's own path) torch differentiates SiLU as
    ``g * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``, a composite it can differentiate
    again; without it, the fused ``silu_backward`` kernel, which rounds differently in float32
    by up to one unit in the last place. Summed over CHGNet's layers that is ~2e-5 eV/Å of the
    forces. With this derivative the pass without the graph gives the stock numbers bit for
    bit (``tests/mlip/test_chgnet_inference.py``). Its backward is made of differentiable
    operations, so a training step can still differentiate it twice.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.nn.functional.silu(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        sigmoid = torch.sigmoid(x)
        return grad * sigmoid * (1.0 + x * (1.0 - sigmoid))


class SiLUStockDerivative(torch.nn.SiLU):
    """:class:`torch.nn.SiLU` with the derivative of :class:`_SiLUStockDerivative`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``silu(x)``."""
        return _SiLUStockDerivative.apply(x)


def use_stock_silu_derivative(model: torch.nn.Module) -> int:
    """Replace every :class:`torch.nn.SiLU` of ``model`` by :class:`SiLUStockDerivative`.

    Same values and derivatives as CHGNet's own ``predict_structure`` (which keeps the
    gradient graph); returns how many modules were replaced.
    """
    replaced = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.SiLU:
                setattr(module, name, SiLUStockDerivative())
                replaced += 1
    return replaced


def forward_without_graph(model: Any, structures: Sequence[Structure]) -> list[RawResult]:
    """CHGNet's forward pass, with forces and stress taken without the gradient graph.

    CHGNet's ``predict_structure`` differentiates the energy with ``create_graph=True`` so
    that a training loss can differentiate forces and stress again; inference never does,
    and that graph is most of a pass's memory (issue 14). This is CHGNet's ``forward``
    (graphs, composition energy, ``_compute``) with the two derivatives taken here, in one
    ``torch.autograd.grad`` call without the graph. Local to the call: nothing global is
    patched. Numbers equal the stock path's once :func:`use_stock_silu_derivative` is applied.
    """
    from chgnet.model.model import BatchedGraph

    device = next(model.parameters()).device
    graphs = [model.graph_converter(s).to(device) for s in structures]
    with torch.no_grad():  # depends on the composition only: no derivative
        composition = 0 if model.composition_model is None else model.composition_model(graphs)
    batch = BatchedGraph.from_graphs(
        graphs,
        bond_basis_expansion=model.bond_basis_expansion,
        angle_basis_expansion=model.angle_basis_expansion,
        compute_stress=True,
    )
    out = model._compute(batch)
    energy, n_atoms = out["e"], out["atoms_per_graph"]
    positions, strains = list(batch.atom_positions), list(batch.strains)
    # CHGNet differentiates the total energy; _compute has divided it by the number of atoms
    # (an intensive model): weighting by n restores the same derivative exactly (n / n = 1)
    weights = n_atoms.to(energy.dtype) if model.is_intensive else torch.ones_like(energy)
    # a scalar, not ``grad_outputs=weights``: same numbers (its backward hands exactly
    # ``weights`` on), and a tensor ``grad_outputs`` makes torch import sympy (+34 MB)
    grads = torch.autograd.grad((energy * weights).sum(), positions + strains)
    per_atom = (energy.detach() + composition).cpu().numpy()
    results = []
    for k, structure in enumerate(structures):
        forces = -grads[k]
        stress = grads[len(positions) + k] * (1 / batch.volumes[k] * EV_PER_A3_TO_GPA)
        results.append(
            RawResult(
                energy=float(per_atom[k]) * len(structure),  # CHGNet gives eV/atom
                forces=forces.cpu().numpy().astype(float),
                stress=stress.cpu().numpy().astype(float),  # GPa, ASE sign
            )
        )
    return results


class CHGNetPredictor(Predictor):
    """CHGNet: its forward pass, forces and stress without the gradient graph.

    :func:`forward_without_graph`, on a model whose SiLU layers differentiate as in
    CHGNet's own path (:func:`use_stock_silu_derivative`, applied here) and whose weights
    need no gradient (the model is for inference; fine-tuning loads its own).
    """

    def __init__(self, model: torch.nn.Module, info: ModelInfo, device: str) -> None:
        elements = frozenset(Element.from_Z(z).symbol for z in range(1, N_ELEMENTS + 1))
        super().__init__(info, device, elements)
        use_stock_silu_derivative(model)
        # inference only: no weight gradients, so the pass keeps fewer tensors (~10 MB for
        # 64 atoms); the derivatives by positions and strain are the same
        model.requires_grad_(False)
        self.model = model

    def _forward(self, structures: Sequence[Structure]) -> list[RawResult]:
        return forward_without_graph(self.model, structures)


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
