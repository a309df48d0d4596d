"""Fine-tuning CHGNet on DFT references with its own trainer (``chgnet.trainer.Trainer``).

The transfer paper (Huang, Deng et al., npj Comput. Mater. 11, 313, 2025) moves CHGNet from
GGA to r2SCAN. Total energies of the two functionals differ by large per-element shifts,
which CHGNet's elemental reference energies (its AtomRef, ``model.composition_model``)
absorb best when they are refitted by least squares on the new references before training
and then frozen (:func:`~pesbench.mlip.atomref.refit_atomref`). The alternatives are options
of :func:`finetune_chgnet` (:data:`~pesbench.schemas.correction.AtomRefMode`).

Everything here is pure torch and pymatgen: the data come in as
:class:`~pesbench.mlip.training_set.TrainingSet`, the database is the Maker's business
(:mod:`pesbench.makers.finetune`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from pymatgen.core import Element, Structure

from pesbench.mlip.atomref import atomref_of, refit_atomref, set_atomref
from pesbench.mlip.base import state_dict_checksum
from pesbench.mlip.ids import parse_model_id
from pesbench.mlip.training_set import TrainingSet
from pesbench.schemas.correction import AtomRefMode, Selection

__all__ = [
    "LOSS_WEIGHTS",
    "EpochErrors",
    "FinetuneParams",
    "FinetuneResult",
    "chgnet_version",
    "finetune_chgnet",
    "save_chgnet",
]

LOSS_WEIGHTS: Mapping[str, float] = {"e": 1.0, "f": 1.0, "s": 0.1}
"""Default weights of the energy, force and stress losses (CHGNet's)."""


@dataclass
class FinetuneParams:
    """How CHGNet is fine-tuned: the one place of the defaults.

    :class:`~pesbench.makers.finetune.FineTuneMaker` is one (these are its fields),
    :func:`finetune_chgnet` takes its keyword defaults from here, and ``pesbench finetune``
    its option defaults from the Maker.

    Parameters
    ----------
    base_model
        ``chgnet-<version>`` to start from (:func:`chgnet_version`).
    atomref_mode
        ``refit``: AtomRef refitted by least squares (prior the base model's values) on the
        training energies minus what the pretrained graph part predicts (so that the
        pretrained model, re-referenced, fits them best), then frozen; ``frozen``: the base
        values kept; ``trainable``: the base values trained with the rest; ``scratch``:
        random weights, AtomRef refitted on the energies
        (:data:`~pesbench.schemas.correction.AtomRefMode`).
    epochs, learning_rate, batch_size
        Training: Adam with CHGNet's cosine schedule. The rate, 1e-4, is the better of 1e-3
        and 1e-4 on a small set (benchmarks/finetune/RESULTS.md).
    loss_weights
        Energy, force, stress loss weights (``e``, ``f``, ``s``); default :data:`LOSS_WEIGHTS`.
    seed
        Seed of torch (weights of ``scratch``, dropout), of the batch order and, in the
        Maker, of the material split.
    freeze
        Train only the last interaction block and the readout (CHGNet's small-data recipe).
    selection
        ``best_val``: keep the weights, starting ones included, with the lowest validation
        energy MAE; ``last``: the final epoch's. Without validation structures the final
        epoch's.
    """

    base_model: str = "chgnet-0.3.0"
    atomref_mode: AtomRefMode = "refit"
    epochs: int = 30
    learning_rate: float = 1e-4
    batch_size: int = 8
    loss_weights: dict[str, float] = field(default_factory=lambda: dict(LOSS_WEIGHTS))
    seed: int = 0
    freeze: bool = False
    selection: Selection = "best_val"


class EpochErrors(BaseModel):
    """Mean absolute errors after each epoch, as ``chgnet.trainer.Trainer`` logs them."""

    model_config = ConfigDict(extra="forbid")

    energy: list[float] = Field(description="Energy MAE after each epoch, eV/atom.")
    force: list[float] = Field(description="Force component MAE after each epoch, eV/Å.")
    stress: list[float] = Field(
        default_factory=list, description="Stress MAE after each epoch, GPa; [] if not trained."
    )

    @classmethod
    def from_history(
        cls, history: Mapping[str, Mapping[str, Sequence[float]]], split: str
    ) -> EpochErrors:
        """The ``split`` (``train``, ``val``) errors of a trainer's ``training_history``."""
        per_target = {key: [float(x) for x in history.get(key, {}).get(split, [])] for key in "efs"}
        return cls(energy=per_target["e"], force=per_target["f"], stress=per_target["s"])


class FinetuneResult(BaseModel):
    """What :func:`finetune_chgnet` did: AtomRef, errors per epoch, the weights kept, time."""

    model_config = ConfigDict(extra="forbid")

    base_model: str = Field(description="Model id it started from (chgnet-<version>).")
    atomref_mode: AtomRefMode = Field(description="AtomRef treatment (AtomRefMode).")
    device: str = Field(description="Torch device trained on.")
    n_structures: dict[str, int] = Field(description="Structures in train and val.")
    loss_weights: dict[str, float] = Field(description="Loss weights e, f, s used.")
    atomref_before: dict[str, float] = Field(
        description="AtomRef of the base model for the training elements, eV/atom."
    )
    atomref_after: dict[str, float] = Field(
        description="AtomRef of the returned model for the training elements, eV/atom."
    )
    train_mae: EpochErrors = Field(description="Errors on the training set after each epoch.")
    val_mae: EpochErrors | None = Field(None, description="The same on val; None without val.")
    val_energy_mae: list[float] = Field(
        default_factory=list,
        description="Validation energy MAE (eV/atom) the weights were selected on: of the "
        "starting weights (best_val only), then after each epoch; empty without a "
        "validation set.",
    )
    selection: Selection = Field(
        description="Rule that chose the weights kept (last when there was no validation set)."
    )
    selected_epoch: int = Field(
        description="Epoch whose weights were kept (1-based); 0: the starting weights (after "
        "the AtomRef refit)."
    )
    train_seconds: float = Field(description="Wall time of the training, s.")
    checksum: str = Field(description="state_dict_checksum of the weights (as save_chgnet's).")


def chgnet_version(base_model: str) -> str:
    """The CHGNet weights of the wheel ``base_model`` names (``chgnet-0.3.0`` -> ``0.3.0``).

    Raises
    ------
    ValueError
        ``base_model`` is not ``chgnet-<version>`` (a file, another family, a scale fit).
    """
    spec = parse_model_id(base_model)
    if spec.family != "chgnet" or spec.path is not None or spec.scale_fit is not None:
        raise ValueError(f"a fine-tune starts from chgnet-<version>, not {base_model}")
    return spec.name


def _loader(data: TrainingSet, batch_size: int, shuffle: bool, seed: int) -> Any:
    from chgnet.data.dataset import StructureData, collate_graphs
    from torch.utils.data import DataLoader

    with contextlib.redirect_stdout(io.StringIO()):
        dataset = StructureData(
            structures=list(data.structures),
            energies=list(data.energies_per_atom()),
            forces=[np.asarray(f).tolist() for f in data.forces],
            stresses=[np.asarray(s).tolist() for s in data.stresses]
            if all(s is not None for s in data.stresses)
            else None,
            shuffle=False,
        )
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        collate_fn=collate_graphs,
        generator=generator,
    )


def finetune_chgnet(
    train: TrainingSet,
    val: TrainingSet,
    *,
    base_model: str = FinetuneParams.base_model,
    atomref_mode: AtomRefMode = FinetuneParams.atomref_mode,
    epochs: int = FinetuneParams.epochs,
    learning_rate: float = FinetuneParams.learning_rate,
    batch_size: int = FinetuneParams.batch_size,
    loss_weights: Mapping[str, float] | None = None,
    seed: int = FinetuneParams.seed,
    device: str = "cpu",
    freeze: bool = FinetuneParams.freeze,
    selection: Selection = FinetuneParams.selection,
) -> tuple[Any, FinetuneResult]:
    """Fine-tune CHGNet on ``train`` (validated on ``val``) with ``chgnet.trainer.Trainer``.

    The options and their defaults are :class:`FinetuneParams`'; ``loss_weights`` changes
    :data:`LOSS_WEIGHTS`. ``train`` and ``val`` are split by material beforehand; ``val``
    may be empty, then the trainer validates on ``train`` and the last epoch is kept.
    ``device``: ``cpu`` or ``cuda:0``.

    Returns
    -------
    model, result
        The trained CHGNet (eval mode, on ``device``) and :class:`FinetuneResult`.
    """
    weights = {**LOSS_WEIGHTS, **(loss_weights or {})}
    torch.manual_seed(seed)
    model, before = _starting_model(train, chgnet_version(base_model), atomref_mode)
    if freeze:
        _freeze_graph(model)
    has_val = bool(len(val))
    start = None
    if has_val and selection == "best_val":  # the starting weights compete with every epoch
        start = (_energy_mae(model, val), copy.deepcopy(model.state_dict()))
    with_stress = all(s is not None for s in train.stresses + val.stresses)
    trainer = _trainer(model, with_stress, weights, epochs, learning_rate, seed, device)
    loaders = (
        _loader(train, batch_size, True, seed),
        _loader(val or train, batch_size, False, seed),
    )
    trained, curve, selected, seconds = _train(trainer, loaders, atomref_mode == "trainable", start)
    history = trainer.training_history
    return trained, FinetuneResult(
        base_model=base_model,
        atomref_mode=atomref_mode,
        device=device,
        n_structures={"train": len(train), "val": len(val)},
        loss_weights=weights,
        atomref_before=before,
        atomref_after=atomref_of(trained, sorted(before)),
        train_mae=EpochErrors.from_history(history, "train"),
        val_mae=EpochErrors.from_history(history, "val") if has_val else None,
        val_energy_mae=curve if has_val else [],  # else the trainer validated on train
        selection=selection if has_val else "last",
        selected_epoch=selected,
        train_seconds=seconds,
        checksum=state_dict_checksum(trained),
    )


def _starting_model(
    train: TrainingSet, version: str, atomref_mode: AtomRefMode
) -> tuple[Any, dict[str, float]]:
    """The CHGNet to train (its AtomRef set), and the base AtomRef of ``train``'s elements."""
    from chgnet.model import CHGNet

    with contextlib.redirect_stdout(io.StringIO()):
        pretrained = CHGNet.load(model_name=version, use_device="cpu", verbose=False)
        model = CHGNet() if atomref_mode == "scratch" else pretrained
    elements = sorted({el.symbol for s in train.structures for el in s.composition})
    before = atomref_of(pretrained, elements)
    if atomref_mode == "scratch":
        set_atomref(model, atomref_of(pretrained, [Element.from_Z(z).symbol for z in range(1, 95)]))
    if atomref_mode in ("refit", "scratch"):
        target = np.asarray(train.energies, dtype=float)
        if atomref_mode == "refit":  # what the pretrained graph part keeps predicting
            target = target - _graph_energies(model, train.structures)
        fit = refit_atomref([s.composition for s in train.structures], target, before)
        set_atomref(model, fit.energies)
    return model, before


def _trainer(
    model: Any,
    with_stress: bool,
    weights: Mapping[str, float],
    epochs: int,
    learning_rate: float,
    seed: int,
    device: str,
) -> Any:
    """CHGNet's trainer: Adam, cosine schedule, MSE losses, silent; on stress too if given."""
    from chgnet.trainer import Trainer

    return Trainer(
        model=model,
        targets="efs" if with_stress else "ef",
        energy_loss_ratio=weights["e"],
        force_loss_ratio=weights["f"],
        stress_loss_ratio=weights["s"],
        optimizer="Adam",
        scheduler="CosLR",
        criterion="MSE",
        epochs=epochs,
        learning_rate=learning_rate,
        print_freq=10**6,
        torch_seed=seed,
        data_seed=seed,
        use_device=device,
    )


def _train(
    trainer: Any,
    loaders: tuple[Any, Any],
    train_atomref: bool,
    start: tuple[float, dict[str, Any]] | None,
) -> tuple[Any, list[float], int, float]:
    """Train; return the model with the weights kept, the validation curve, the epoch kept, s.

    ``start`` (validation energy MAE and weights before training) selects the best of the
    starting weights and every epoch's; without it the final epoch's weights are kept.
    """
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        clock = time.perf_counter()
        trainer.train(*loaders, save_dir=tmp, train_composition_model=train_atomref)
        trained = trainer.model
        assert trained is not None  # set by the constructor
        trained.eval()
        curve = [float(x) for x in trainer.training_history["e"]["val"]]
        if start is None:
            return trained, curve, len(curve), time.perf_counter() - clock
        curve = [start[0], *curve]
        selected = int(np.argmin(curve))  # the first of equals: fewer epochs
        if selected == 0:
            trained.load_state_dict(start[1])
        elif selected < len(curve) - 1:
            best = next(Path(tmp).glob("bestE_*"))  # the trainer's best-val checkpoint
            state = torch.load(best, map_location="cpu", weights_only=False)
            trained.load_state_dict(state["model"]["state_dict"])
    return trained, curve, selected, time.perf_counter() - clock


_FROZEN = (
    "atom_embedding",
    "bond_embedding",
    "angle_embedding",
    "bond_basis_expansion",
    "angle_basis_expansion",
    "bond_conv_layers",
    "angle_layers",
)


def _freeze_graph(model: Any) -> None:
    """Stop gradients of the embeddings and of all but the last interaction block."""
    modules = [getattr(model, name) for name in _FROZEN] + list(model.atom_conv_layers[:-1])
    for module in modules:
        for param in getattr(module, "parameters", lambda: [])():
            param.requires_grad = False


def _energies_per_atom(model: Any, structures: Sequence[Structure]) -> np.ndarray:
    """Energies per atom (eV/atom) a CHGNet predicts, in eval mode, one batch."""
    model.eval()
    preds = model.predict_structure(list(structures), task="e", batch_size=len(structures))
    preds = [preds] if isinstance(preds, dict) else preds
    return np.array([float(np.asarray(p["e"]).item()) for p in preds])


def _energy_mae(model: Any, data: TrainingSet) -> float:
    """Energy MAE per atom (eV/atom) of a CHGNet on ``data``, as the trainer validates it."""
    energies = _energies_per_atom(model, data.structures)
    return float(np.mean(np.abs(energies - data.energies_per_atom())))


def _graph_energies(model: Any, structures: Sequence[Structure]) -> np.ndarray:
    """Total energies (eV) a CHGNet predicts minus its AtomRef part: the graph's share."""
    per_atom = _energies_per_atom(model, structures)
    mu = atomref_of(model, [Element.from_Z(z).symbol for z in range(1, 95)])
    return np.array(
        [
            len(s) * e - sum(n * mu[el] for el, n in s.composition.get_el_amt_dict().items())
            for e, s in zip(per_atom, structures, strict=True)
        ]
    )


def save_chgnet(model: Any, path: Path) -> str:
    """Save a CHGNet where ``CHGNet.from_file`` reads it; return its weights checksum."""
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu")
    torch.save({"model": model.as_dict()}, path)
    return state_dict_checksum(model)
