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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pymatgen.core import Element, Structure

from pesbench.mlip.atomref import atomref_of, refit_atomref, set_atomref
from pesbench.mlip.base import state_dict_checksum
from pesbench.mlip.training_set import TrainingSet
from pesbench.schemas.correction import AtomRefMode, Selection

__all__ = ["finetune_chgnet", "save_chgnet"]


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
    base: str = "0.3.0",
    atomref_mode: AtomRefMode = "refit",
    epochs: int = 30,
    learning_rate: float = 1e-3,
    batch_size: int = 8,
    loss_weights: Mapping[str, float] | None = None,
    seed: int = 0,
    device: str = "cpu",
    freeze: bool = False,
    selection: Selection = "best_val",
) -> tuple[Any, dict[str, Any]]:
    """Fine-tune CHGNet on ``train`` (validated on ``val``) with ``chgnet.trainer.Trainer``.

    Parameters
    ----------
    train, val
        Training and validation structures (split by material beforehand); ``val`` may be
        empty, then ``train`` is used for the trainer's per-epoch validation.
    base
        CHGNet weights of the wheel to start from (``0.3.0``, ``0.2.0``, ``r2scan``).
    atomref_mode
        ``refit``: AtomRef refitted on ``train`` (:func:`refit_atomref`, prior the base
        model's values) on the energies minus what the pretrained graph part predicts
        (so that the pretrained model, re-referenced, fits them best), then frozen;
        ``frozen``: the base values kept; ``trainable``: base values trained with the
        rest; ``scratch``: random weights, AtomRef refitted on the energies.
    epochs, learning_rate, batch_size
        Adam with CHGNet's cosine schedule.
    loss_weights
        Weights of the energy, force and stress losses (``e``, ``f``, ``s``); default
        1, 1, 0.1 (CHGNet's).
    seed
        Seeds torch (weights of ``scratch``, dropout) and the batch order.
    device
        ``cpu`` or ``cuda:0``.
    freeze
        Freeze the embeddings and all but the last interaction block (CHGNet's fine-tuning
        recipe for small data sets); the last block and the readout train.
    selection
        ``best_val``: keep the weights with the lowest validation energy MAE among the
        starting weights (after the AtomRef refit) and every epoch's; ``last``: the final
        epoch's. Without a validation set, always the final epoch's.

    Returns
    -------
    model, record
        The trained CHGNet (eval mode, on ``device``) and what was done: AtomRef before
        and after, training history, validation energy MAE per epoch, the epoch kept,
        seconds.
    """
    from chgnet.model import CHGNet
    from chgnet.trainer import Trainer

    weights = {"e": 1.0, "f": 1.0, "s": 0.1, **(loss_weights or {})}
    torch.manual_seed(seed)
    with contextlib.redirect_stdout(io.StringIO()):
        pretrained = CHGNet.load(model_name=base, use_device="cpu", verbose=False)
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
    if freeze:
        _freeze_graph(model)
    val_start = _energy_mae(model, val) if len(val) and selection == "best_val" else None
    start_state = copy.deepcopy(model.state_dict()) if val_start is not None else None
    with_stress = all(s is not None for s in train.stresses + val.stresses)
    trainer = Trainer(
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
    train_loader = _loader(train, batch_size, True, seed)
    val_loader = _loader(val if len(val) else train, batch_size, False, seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        trainer.train(
            train_loader,
            val_loader,
            save_dir=tmp,
            train_composition_model=atomref_mode == "trainable",
        )
        trained = trainer.model
        assert trained is not None  # set by the constructor
        val_curve = [float(x) for x in trainer.training_history["e"]["val"]]
        selected = len(val_curve)
        if val_start is not None:
            val_curve = [val_start, *val_curve]
            selected = int(np.argmin(val_curve))  # the first of equals: fewer epochs
            if selected == 0 and start_state is not None:
                trained.load_state_dict(start_state)
            elif selected < len(val_curve) - 1:
                best = next(Path(tmp).glob("bestE_*"))  # the trainer's best-val checkpoint
                state = torch.load(best, map_location="cpu", weights_only=False)
                trained.load_state_dict(state["model"]["state_dict"])
        elif not len(val):
            val_curve = []  # the trainer validated on the training set: not a validation
    seconds = time.perf_counter() - start
    trained.eval()
    record = {
        "atomref_before": before,
        "atomref_after": atomref_of(trained, elements),
        "history": {k: dict(v) for k, v in trainer.training_history.items()},
        "train_seconds": seconds,
        "loss_weights": weights,
        "val_energy_mae": val_curve,
        "selected_epoch": selected,
    }
    return trained, record


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
