"""The ``predictions`` collection: PredictionDocs, one per ``prediction_id``."""

from __future__ import annotations

from pesbench.schemas.prediction import PredictionDoc
from pesbench.stores.collections import PREDICTIONS
from pesbench.stores.typed import TypedStore

__all__ = ["PREDICTIONS_COLLECTION", "PredictionStore"]

PREDICTIONS_COLLECTION = PREDICTIONS
"""Collection of the uMLIP predictions (DESIGN.md's data model)."""


class PredictionStore(TypedStore[PredictionDoc]):
    """The ``predictions`` collection: one PredictionDoc per (structure, model weights)."""

    doc_type = PredictionDoc
    collection = PREDICTIONS_COLLECTION
    key = "prediction_id"
    indexes = ("structure_id",)
