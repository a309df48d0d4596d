"""``PredictionDoc``: one uMLIP prediction (energy, forces, stress) of one structure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymatgen.core import Structure

from pesbench.schemas.base import Functional, PesbenchDoc, PesResultDoc
from pesbench.schemas.ids import site_order as order_hash
from pesbench.schemas.ids import structure_id as content_id

__all__ = ["EnergyConvention", "ModelInfo", "PredictionChunkDoc", "PredictionDoc", "prediction_id"]


EnergyConvention = Literal["mp2020", "raw", "unknown"]
"""What a model's energies are (:mod:`pesbench.analysis.conventions`): DFT total energies with
the MP2020 corrections added (CHGNet on MPtrj), raw DFT total energies (SevenNet, MACE-MP,
MatPES models, ASE calculators), or not known (a user's model file)."""


class ModelInfo(BaseModel):
    """What identifies a uMLIP: the analysis pairs it with references of ``functional``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str = Field(description="Id used everywhere, e.g. 'chgnet-0.3.0'.")
    name: str = Field(description="Family: 'chgnet', 'm3gnet', 'tensornet', 'mace', 'ase'.")
    version: str = Field(description="Version of the weights, e.g. '0.3.0'.")
    checksum: str = Field(description="sha256 of the weights (first 16 hex digits).")
    functional: Functional = Field(description="Functional of the training data.")
    framework: str | None = Field(None, description="Library and version, e.g. 'chgnet 0.4.2'.")
    energy_convention: EnergyConvention = Field(
        default="unknown",
        description="'mp2020' (MP2020-corrected energies), 'raw' (DFT total energies) or "
        "'unknown'; comparisons with DFT remove the MP2020 correction of an 'mp2020' model.",
    )
    training_data: str | None = Field(
        default=None, description="Training set, e.g. 'MPtrj (PBE/PBE+U)'."
    )


def prediction_id(structure_id: str, checksum: str) -> str:
    """The dedupe key of a prediction: one per (structure, model weights)."""
    return f"{structure_id}:{checksum}"


class PredictionDoc(PesResultDoc):
    """A uMLIP prediction of one structure, with how it was run."""

    model_config = ConfigDict(protected_namespaces=())

    prediction_id: str = Field("", description="structure_id:model checksum (set automatically).")
    model: ModelInfo = Field(description="The model that predicted.")
    device: str = Field(description="Where it ran: 'cpu', 'cuda:0', ...")
    batch_size: int = Field(ge=1, description="Structures in the forward pass it was part of.")
    seconds: float = Field(ge=0, description="Wall time of that batch divided by its size, s.")

    @model_validator(mode="after")
    def _set_prediction_id(self) -> PredictionDoc:
        expected = prediction_id(self.structure_id, self.model.checksum)
        if self.prediction_id != expected:
            object.__setattr__(self, "prediction_id", expected)
        return self

    @classmethod
    def from_prediction(
        cls,
        structure: Structure,
        *,
        model: ModelInfo,
        device: str,
        batch_size: int,
        seconds: float,
        energy: float | None,
        forces: Any = None,
        stress: Any = None,
        failure_reason: str | None = None,
        structure_id: str | None = None,
        **extra: Any,
    ) -> PredictionDoc:
        """Build the document of one structure from a predictor's output.

        ``energy`` in eV, ``forces`` (n, 3) in eV/Å, ``stress`` 3x3 in GPa (positive =
        tensile); ``failure_reason`` set (and the rest None) for a failed prediction.
        ``structure_id`` defaults to the content hash of ``structure``.
        """
        n_atoms = len(structure)
        failed = failure_reason is not None or energy is None
        return cls(
            structure_id=structure_id or content_id(structure),
            n_atoms=n_atoms,
            site_order=order_hash(structure),
            status="failed" if failed else "success",
            failure_reason=(failure_reason or "no energy predicted") if failed else None,
            energy=None if failed else float(energy),  # type: ignore[arg-type]
            energy_per_atom=None if failed else float(energy) / n_atoms,  # type: ignore[arg-type]
            forces=None if failed else np.asarray(forces, dtype=float).reshape(-1, 3).tolist(),
            stress=None if failed else np.asarray(stress, dtype=float).reshape(3, 3).tolist(),
            model=model,
            device=device,
            batch_size=batch_size,
            seconds=seconds,
            **extra,
        )


class PredictionChunkDoc(PesbenchDoc):
    """What one prediction job returns: a summary, and the documents of a chunk.

    The documents are under ``large_arrays``, which the job store sends to its GridFS
    store ``data`` as one object (forces of many structures stay out of the docs store).
    """

    model_config = ConfigDict(protected_namespaces=())

    model: ModelInfo = Field(description="The model that predicted.")
    device: str = Field(description="Where it ran: 'cpu', 'cuda:0', ...")
    n_structures: int = Field(ge=0, description="Structures in the chunk.")
    n_failed: int = Field(ge=0, description="Structures without a prediction.")
    structure_ids: list[str] = Field(description="Content hashes, in the chunk's order.")
    prediction_ids: list[str] = Field(description="structure_id:checksum, same order.")
    failures: dict[str, str] = Field(
        default_factory=dict, description="Failure reason by structure_id."
    )
    load_seconds: float = Field(ge=0, description="Wall time of loading the model, s.")
    predict_seconds: float = Field(ge=0, description="Wall time of predicting the chunk, s.")
    stored: bool = Field(
        default=False,
        description="The job stored the documents in ``predictions`` as they were "
        "predicted; ``large_arrays`` then holds them only if the maker keeps them.",
    )
    large_arrays: list[PredictionDoc] = Field(
        description="One PredictionDoc per structure (stored in GridFS); empty when they "
        "are in ``predictions`` and the maker does not keep them in the output."
    )

    @classmethod
    def from_docs(
        cls,
        docs: Sequence[PredictionDoc],
        *,
        model: ModelInfo,
        device: str,
        load_seconds: float,
        predict_seconds: float,
        stored: bool = False,
        keep_documents: bool = True,
    ) -> PredictionChunkDoc:
        """Summarise ``docs`` (all by ``model`` on ``device``).

        ``stored``: they are in ``predictions`` already; then ``keep_documents=False``
        leaves them out of the output (``large_arrays`` empty).
        """
        return cls(
            model=model,
            device=device,
            n_structures=len(docs),
            n_failed=sum(d.status == "failed" for d in docs),
            structure_ids=[d.structure_id for d in docs],
            prediction_ids=[d.prediction_id for d in docs],
            failures={d.structure_id: d.failure_reason or "" for d in docs if d.status == "failed"},
            load_seconds=load_seconds,
            predict_seconds=predict_seconds,
            stored=stored,
            large_arrays=list(docs) if keep_documents or not stored else [],
        )
