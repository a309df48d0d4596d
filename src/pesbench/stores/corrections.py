"""The ``corrections`` collection: fine-tuned models and softening-scale fits, by model id.

One document per corrected model (key ``model_id``): the
:class:`~pesbench.schemas.correction.FineTuneDoc` or
:class:`~pesbench.schemas.correction.ScaleFitDoc` as written next to the model file, plus
``kind`` (``finetune`` or ``scale_fit``). Saving the same model again replaces its document.
The campaign report shows those trained or fitted on the campaign's references and those
of the models it predicted with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pesbench.schemas.correction import FineTuneDoc, ScaleFitDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import CORRECTIONS
from pesbench.stores.connection import open_collection

__all__ = ["CORRECTIONS", "Correction", "load_corrections", "save_correction"]

"""Name of the collection."""

Correction = FineTuneDoc | ScaleFitDoc

_KINDS: dict[str, type[FineTuneDoc] | type[ScaleFitDoc]] = {
    "finetune": FineTuneDoc,
    "scale_fit": ScaleFitDoc,
}


def _kind(doc: Correction) -> Literal["finetune", "scale_fit"]:
    return "finetune" if isinstance(doc, FineTuneDoc) else "scale_fit"


def save_correction(doc: Correction, settings: PesbenchSettings | None = None) -> None:
    """Upsert ``doc`` into ``corrections`` under its model id."""
    settings = settings or get_settings()
    record = {**doc.model_dump(mode="json"), "model_id": doc.model_id, "kind": _kind(doc)}
    with open_collection(CORRECTIONS, settings) as coll:
        coll.create_index("model_id", unique=True)
        coll.replace_one({"model_id": doc.model_id}, record, upsert=True)


def load_corrections(
    settings: PesbenchSettings | None = None,
    *,
    campaign: str | None = None,
    model_ids: Sequence[str] = (),
) -> list[Correction]:
    """Stored corrections, oldest first.

    Parameters
    ----------
    settings
        Which database.
    campaign, model_ids
        When either is given: only corrections trained or fitted on ``campaign``'s
        references, or whose model id is in ``model_ids``; neither: all.
    """
    settings = settings or get_settings()
    criteria: dict[str, Any] = {}
    if campaign is not None or model_ids:
        either: list[dict[str, Any]] = [{"model_id": {"$in": list(model_ids)}}]
        if campaign is not None:
            either.append({"campaign": campaign})
        criteria = {"$or": either}
    with open_collection(CORRECTIONS, settings) as coll:
        raw = list(coll.find(criteria, {"_id": 0}).sort("created_at", 1))
    docs: list[Correction] = []
    for record in raw:
        cls = _KINDS[record.pop("kind")]
        if cls is ScaleFitDoc:
            record.pop("model_id")  # a property of the fit
        docs.append(cls.model_validate(record))
    return docs
