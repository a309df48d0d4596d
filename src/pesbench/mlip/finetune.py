"""Fine-tuning CHGNet on DFT references with its own trainer (``chgnet.trainer.Trainer``).

The transfer paper (Huang, Deng et al., npj Comput. Mater. 11, 313, 2025) moves CHGNet from
GGA to r2SCAN. Total energies of the two functionals differ by large per-element shifts,
which CHGNet's elemental reference energies (its AtomRef, ``model.composition_model``)
absorb best when they are refitted by least squares on the new references before training
and then frozen (:func:`refit_atomref`). The alternatives are options of
:func:`finetune_chgnet` (:data:`~pesbench.schemas.correction.AtomRefMode`).

Everything here is pure torch and pymatgen: the data come in as lists, the database is the
Maker's business (:mod:`pesbench.makers.finetune`).
"""

from __future__ import annotations

import contextlib
import copy
import io
import random
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from pymatgen.core import Composition, Element, Structure

from pesbench.analysis.referencing import (
    AtomRef,
    CompositionLike,
    UnderdeterminedFitError,
    composition_matrix,
    fit_atomref,
)
from pesbench.mlip.base import state_dict_checksum
from pesbench.schemas.correction import AtomRefMode, Selection

__all__ = [
    "TrainingSet",
    "atomref_of",
    "finetune_chgnet",
    "refit_atomref",
    "save_chgnet",
    "set_atomref",
    "span_notes",
    "split_by_material",
]


@dataclass
class TrainingSet:
    """Structures with their DFT labels, index-aligned.

    Attributes
    ----------
    structures
        The cells.
    energies
        Total energies, eV.
    forces
        (n_atoms, 3) arrays, eV/Å.
    stresses
        3x3 arrays, GPa, positive = tensile (ASE sign, as CHGNet predicts), or None.
    ids
        An id per structure (the reference_id).
    materials
        The material (reduced formula of the parent bulk) of each structure.
    """

    structures: list[Structure] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    forces: list[np.ndarray] = field(default_factory=list)
    stresses: list[np.ndarray | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.structures)

    def subset(self, materials: Sequence[str]) -> TrainingSet:
        """The structures of ``materials`` only."""
        return self.take([i for i, m in enumerate(self.materials) if m in set(materials)])

    def take(self, keep: Sequence[int]) -> TrainingSet:
        """The structures at the positions ``keep``, in that order."""
        return TrainingSet(
            [self.structures[i] for i in keep],
            [self.energies[i] for i in keep],
            [self.forces[i] for i in keep],
            [self.stresses[i] for i in keep],
            [self.ids[i] for i in keep],
            [self.materials[i] for i in keep],
        )

    def energies_per_atom(self) -> np.ndarray:
        """Energies divided by the number of atoms, eV/atom."""
        return np.array([e / len(s) for e, s in zip(self.energies, self.structures, strict=True)])


def split_by_material(
    materials: Sequence[str],
    *,
    seed: int = 0,
    fractions: tuple[float, float] = (0.2, 0.2),
    val: Sequence[str] | None = None,
    test: Sequence[str] | None = None,
) -> dict[str, list[str]]:
    """Split materials (never structures) into train, val and test.

    Parameters
    ----------
    materials
        Material of each structure (repeats allowed).
    seed
        Seed of the shuffle of the materials (``random.Random(seed)``).
    fractions
        Fractions of the materials for val and test (each at least one material when
        there are three or more), used for the splits not given explicitly.
    val, test
        Explicit materials of those splits.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``, sorted names, disjoint.
    """
    unique = sorted(set(materials))
    fixed = {"val": list(val or []), "test": list(test or [])}
    unknown = sorted(set(fixed["val"] + fixed["test"]) - set(unique))
    if unknown:
        raise ValueError(f"material(s) {', '.join(unknown)} have no structures")
    if set(fixed["val"]) & set(fixed["test"]):
        raise ValueError("a material cannot be in both val and test")
    rest = [m for m in unique if m not in fixed["val"] + fixed["test"]]
    random.Random(seed).shuffle(rest)
    for name, fraction in (("test", fractions[1]), ("val", fractions[0])):
        if (name == "test" and test is not None) or (name == "val" and val is not None):
            continue
        n = max(1, round(fraction * len(unique))) if len(unique) >= 3 and fraction > 0 else 0
        fixed[name], rest = rest[:n], rest[n:]
    if not rest:
        raise ValueError(f"no material left to train on ({', '.join(unique)})")
    return {"train": sorted(rest), "val": sorted(fixed["val"]), "test": sorted(fixed["test"])}


def refit_atomref(
    compositions: Sequence[CompositionLike],
    energies: ArrayLike,
    prior: Mapping[str, float],
) -> AtomRef:
    """Refit elemental reference energies on ``energies``, as a shift from ``prior``.

    The shift ``mu - prior`` is fitted by least squares on ``E - sum n_el prior_el``
    (per atom, :func:`~pesbench.analysis.referencing.fit_atomref`); when the compositions
    do not fix every element (few stoichiometries), the minimum-norm shift is taken, so
    that an element's value moves from ``prior`` only as far as the data ask. With enough
    stoichiometries the result is the plain least-squares AtomRef, whatever the prior.

    Parameters
    ----------
    compositions
        One composition per structure.
    energies
        Total energies, eV.
    prior
        Element -> reference energy, eV/atom, for every element present (e.g. the
        pretrained model's AtomRef).

    Returns
    -------
    AtomRef
        The refitted values of the elements present.
    """
    matrix, elements = composition_matrix(compositions)
    missing = [el for el in elements if el not in prior]
    if missing:
        raise ValueError(f"no prior reference energy for {', '.join(missing)}")
    mu0 = np.array([prior[el] for el in elements])
    residual = np.asarray(energies, dtype=float) - matrix @ mu0
    try:
        shift = fit_atomref(compositions, residual, elements)
        delta = np.array([shift.energies[el] for el in elements])
        rmse = shift.rmse_per_atom
    except UnderdeterminedFitError:
        n_atoms = matrix.sum(axis=1)
        a, b = matrix / n_atoms[:, None], residual / n_atoms
        delta = np.linalg.lstsq(a, b, rcond=None)[0]  # minimum norm
        rmse = float(np.sqrt(np.mean((b - a @ delta) ** 2)))
    return AtomRef(
        energies={el: float(m) for el, m in zip(elements, mu0 + delta, strict=True)},
        rmse_per_atom=rmse,
        n_structures=len(residual),
    )


def atomref_of(model: Any, elements: Sequence[str]) -> dict[str, float]:
    """A CHGNet's AtomRef values (eV/atom) of ``elements``."""
    weight = model.composition_model.fc.weight.detach().cpu().numpy().reshape(-1)
    return {el: float(weight[Element(el).Z - 1]) for el in elements}


def span_notes(train: Sequence[CompositionLike], others: Mapping[str, str]) -> list[str]:
    """Warnings for the materials whose reference energy the training set does not fix.

    A refitted AtomRef fixes the reference energy of exactly the compositions in the span
    of the training compositions; for any other, part of its reference energy stays at
    the base model's values (the minimum-norm shift), an offset training cannot see.

    Parameters
    ----------
    train
        Compositions of the training structures.
    others
        Material (reduced formula) -> the split it is in (``val``, ``test``).
    """
    elements = sorted(
        {str(el) for c in train for el in Composition(c).elements}
        | {str(el) for m in others for el in Composition(m).elements}
    )
    matrix, _ = composition_matrix(list(train), elements)
    trained = {el for el, n in zip(elements, matrix.sum(axis=0), strict=True) if n > 0}
    notes = []
    for material, split in sorted(others.items()):
        target, _ = composition_matrix([material], elements)
        coef, *_ = np.linalg.lstsq(matrix.T, target[0], rcond=None)
        residual = float(np.linalg.norm(matrix.T @ coef - target[0]))
        if residual > 1e-8 * float(np.linalg.norm(target[0])):
            missing = sorted(
                str(el) for el in Composition(material).elements if str(el) not in trained
            )
            why = f"{', '.join(missing)} not in training" if missing else "not in their span"
            notes.append(
                f"{material} ({split}) is not a combination of the training compositions "
                f"({why}): part of its reference energy stays at the base model's AtomRef"
            )
    return notes


def set_atomref(model: Any, energies: Mapping[str, float]) -> None:
    """Write AtomRef values (eV/atom) into a CHGNet's composition model."""
    with torch.no_grad():
        weight = model.composition_model.fc.weight
        for el, value in energies.items():
            weight[0, Element(el).Z - 1] = value


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
