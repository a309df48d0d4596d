"""``PredictionDoc``: one uMLIP prediction (energy, forces, stress) of one structure."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pesbench.schemas.base import Functional, PesResultDoc

__all__ = ["ModelInfo", "PredictionDoc", "prediction_id"]


class ModelInfo(BaseModel):
    """What identifies a uMLIP: the analysis pairs it with references of ``functional``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_id: str = Field(description="Id used everywhere, e.g. 'chgnet-0.3.0'.")
    name: str = Field(description="Family: 'chgnet', 'm3gnet', 'tensornet', 'mace', 'ase'.")
    version: str = Field(description="Version of the weights, e.g. '0.3.0'.")
    checksum: str = Field(description="sha256 of the weights (first 16 hex digits).")
    functional: Functional = Field(description="Functional of the training data.")
    framework: str | None = Field(None, description="Library and version, e.g. 'chgnet 0.4.2'.")


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
