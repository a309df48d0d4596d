"""Corrected models: a one-parameter softening scale fit, and a fine-tuned CHGNet.

Both documents are written as JSON into the model folder (setting ``model_dir``) next to
what they describe, so that :func:`pesbench.mlip.load_model` finds them by model id
without a database; they are also upserted into the ``corrections`` collection (key
``model_id``, :mod:`pesbench.stores.corrections`), which the campaign report reads, and
returned by their Makers (so they land in the JobStore too).
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field

from pesbench.schemas.base import Functional, PesbenchDoc

__all__ = [
    "AtomRefMode",
    "FineTuneDoc",
    "HeldOutMetrics",
    "ScaleFitDoc",
    "Selection",
    "scale_fit_id",
]

AtomRefMode = Literal["refit", "frozen", "trainable", "scratch"]
"""How a fine-tune treats CHGNet's elemental reference energies (AtomRef):
``refit`` least squares on the training references, then frozen (the transfer paper's best);
``frozen`` the pretrained (GGA) values kept; ``trainable`` the pretrained values trained
with the rest; ``scratch`` a randomly initialised CHGNet with a refitted frozen AtomRef."""

Selection = Literal["best_val", "last"]
"""Which weights a fine-tune keeps: ``best_val`` the epoch (or the starting weights) with the
lowest validation energy MAE, ``last`` the final epoch's."""


def scale_fit_id(base_model: str, scale: float, reference_ids: list[str]) -> str:
    """Content hash (12 hex digits) of a scale fit: base model, scale, references."""
    text = json.dumps([base_model, round(scale, 10), sorted(reference_ids)])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class ScaleFitDoc(PesbenchDoc):
    """A one-parameter softening correction of one model, fitted on DFT references.

    The corrected model multiplies the model's forces and stress by ``factor`` and scales
    its energy by the same factor about ``anchor_energy_per_atom`` (``E' = N e0 +
    factor (E - N e0)``), so that forces stay the derivatives of the energy and energy
    differences near the fitted material scale like the forces.
    """

    fit_id: str = Field(description="scale_fit_id(base_model, scale, reference_ids).")
    base_model: str = Field(description="Model id of the model corrected.")
    functional: Functional = Field(description="Functional of the references fitted.")
    scale: float = Field(
        description="Softening scale: least-squares slope of predicted vs DFT force "
        "components through the origin (dimensionless; < 1 = soft)."
    )
    factor: float = Field(description="1 / scale: what forces and stress are multiplied by.")
    anchor_energy_per_atom: float = Field(
        description="Mean predicted energy per atom of the fitted structures, eV/atom."
    )
    reference_ids: list[str] = Field(description="reference_id of every reference fitted.")
    structure_ids: list[str] = Field(description="structure_id of every structure fitted.")
    materials: list[str] = Field(
        default_factory=list, description="Reduced formulas of the fitted structures' bulks."
    )
    campaign: str | None = Field(
        default=None, description="Campaign whose references were fitted, when one."
    )
    n_components: int = Field(description="Force components in the fit.")
    force_mae_before: float = Field(description="Force MAE on the fitted structures, eV/Å.")
    force_mae_after: float = Field(
        description="Force MAE on the fitted structures after the correction, eV/Å."
    )

    @property
    def model_id(self) -> str:
        """The model id of the corrected model: ``<base_model>+scale@<fit_id>``."""
        return f"{self.base_model}+scale@{self.fit_id}"


class HeldOutMetrics(PesbenchDoc):
    """Errors of one model on the held-out (test) structures."""

    model: str = Field(description="Model id, or a label of the model state.")
    n_structures: int = Field(description="Structures evaluated.")
    energy_mae_per_atom: float = Field(description="Energy MAE, eV/atom.")
    force_mae: float = Field(description="Force component MAE, eV/Å.")
    stress_mae: float | None = Field(default=None, description="Stress component MAE, GPa.")


class FineTuneDoc(PesbenchDoc):
    """A CHGNet fine-tuned on stored references: how, on what, and how well."""

    model_id: str = Field(description="Model id of the fine-tuned model (chgnet:<file>).")
    base_model: str = Field(description="Model id it started from.")
    functional: Functional = Field(description="Functional of the training references.")
    atomref_mode: AtomRefMode = Field(description="AtomRef treatment (AtomRefMode).")
    atomref_before: dict[str, float] = Field(
        description="AtomRef of the base model for the training elements, eV/atom."
    )
    atomref_after: dict[str, float] = Field(
        description="AtomRef of the fine-tuned model for the training elements, eV/atom."
    )
    split: dict[str, list[str]] = Field(
        description="Materials (reduced formulas) of the train, val and test sets."
    )
    n_structures: dict[str, int] = Field(description="Structures in each split.")
    reference_ids: list[str] = Field(description="reference_id of every reference used.")
    campaign: str | None = Field(
        default=None, description="Campaign whose references it was trained on, when one."
    )
    seed: int = Field(description="Seed of the split and of torch (weights and batches).")
    epochs: int = Field(description="Training epochs.")
    learning_rate: float = Field(description="Adam learning rate.")
    batch_size: int = Field(description="Structures per batch.")
    loss_weights: dict[str, float] = Field(description="Loss weights e, f, s.")
    freeze: bool = Field(
        default=False,
        description="Embeddings and all but the last interaction block frozen (CHGNet's "
        "fine-tuning recipe for small data); only the last block and the readout train.",
    )
    selection: Selection = Field(default="last", description="Which weights were kept.")
    selected_epoch: int = Field(
        default=-1,
        description="Epoch whose weights were kept (1-based); 0: the starting weights (after "
        "the AtomRef refit) validated best; -1: not recorded.",
    )
    val_energy_mae: list[float] = Field(
        default_factory=list,
        description="Validation energy MAE (eV/atom) of the starting weights, then after each "
        "epoch; empty without a validation set.",
    )
    device: str = Field(description="Torch device trained on.")
    train_seconds: float = Field(description="Wall time of the training, s.")
    checkpoint: str = Field(description="File name of the checkpoint in the model folder.")
    checksum: str = Field(description="state_dict_checksum of the saved model.")
    sanity_energies: dict[str, float] = Field(
        description="Energy per atom of the sanity-check cells predicted after saving, "
        "eV/atom: the recorded expectation the saved model is checked against on load."
    )
    energy_convention: Literal["raw"] = Field(
        default="raw",
        description="Energies it learned: pesbench's references are raw DFT total energies "
        "(the base model's MP2020 corrections are trained away with the refitted AtomRef).",
    )
    training_data: str | None = Field(None, description="What it was fine-tuned on, in words.")
    notes: list[str] = Field(
        default_factory=list,
        description="Warnings: validation or test materials outside the span of the "
        "training compositions (their reference energies are not refitted).",
    )
    before: HeldOutMetrics | None = Field(default=None, description="Base model on the test set.")
    after: HeldOutMetrics | None = Field(
        default=None, description="Fine-tuned model on the test set."
    )
