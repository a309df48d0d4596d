"""Universal ML interatomic potentials behind one interface: load a model, predict a batch.

``load_model(model_id)`` (ids: :mod:`pesbench.mlip.ids`) returns a sanity-checked
:class:`Predictor`; ``predictor.predict(structures)`` returns :class:`Predictions`.
"""

from __future__ import annotations

from pesbench.mlip.base import Predictions, Predictor, batches_by_atoms, select_device
from pesbench.mlip.errors import ModelSanityError, ModelUnavailableError, UnknownModelError
from pesbench.mlip.ids import ModelSpec, parse_model_id
from pesbench.mlip.registry import (
    ModelStatus,
    known_model_ids,
    load_model,
    model_info,
    model_status,
    worker_model,
)
from pesbench.mlip.sanity import reference_cells, sanity_check
from pesbench.mlip.scaled import ScaledPredictor, fit_scale

__all__ = [
    "ModelSanityError",
    "ModelSpec",
    "ModelStatus",
    "ModelUnavailableError",
    "Predictions",
    "Predictor",
    "ScaledPredictor",
    "UnknownModelError",
    "batches_by_atoms",
    "fit_scale",
    "known_model_ids",
    "load_model",
    "model_info",
    "model_status",
    "parse_model_id",
    "reference_cells",
    "sanity_check",
    "select_device",
    "worker_model",
]
