"""Everything the report reads from MongoDB, as frames, arrays and documents.

:func:`load_report_inputs` gathers it in one :class:`~pesbench.report.inputs.ReportInputs`;
nothing here draws or writes HTML (:mod:`pesbench.report.assemble` and
:mod:`pesbench.report.render` do).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from pesbench.errors import PesbenchError
from pesbench.memory import gc_paused
from pesbench.report.inputs import ForcePairs, ReportInputs
from pesbench.report.relaxed import load_relaxed_properties
from pesbench.schemas.correction import FineTuneDoc, ScaleFitDoc
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import collection_store
from pesbench.stores.collections import CAMPAIGNS, PREDICTIONS, REFERENCES, STRUCTURES
from pesbench.stores.connection import open_collection
from pesbench.stores.corrections import load_corrections
from pesbench.stores.mongo import query_in
from pesbench.stores.query import query_comparisons
from pesbench.stores.references import in_campaign
from pesbench.stores.site_alignment import SiteAligner

COLLECTIONS = (REFERENCES, PREDICTIONS, STRUCTURES)

__all__ = [
    "load_corrections_frames",
    "load_force_pairs",
    "load_gga_r2scan_references",
    "load_report_inputs",
    "unfinished_run",
    "why_no_comparisons",
]


_FORCE_FIELDS = ["structure_id", "forces", "n_atoms", "site_order"]


def _fetch(store: Any, key: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The forces of the documents of ``store`` whose ``key`` is in ``ids``, by key."""
    return {d[key]: d for d in query_in(store, key, ids, [key, *_FORCE_FIELDS])}


def load_force_pairs(structure: pd.DataFrame, settings: PesbenchSettings) -> list[ForcePairs]:
    """The force components of each (model, functional, reference code) of ``structure``.

    A prediction whose atoms are listed in another order than its reference's is lined up
    with it first (:class:`~pesbench.stores.site_alignment.SiteAligner`).

    Parameters
    ----------
    structure
        The structure-level comparisons (``reference_id`` and ``prediction_id`` per row).
    settings
        Which database.
    """
    stores = {name: collection_store(name, settings) for name in COLLECTIONS}
    for store in stores.values():
        store.connect()
    try:
        with gc_paused():  # no cycles in the decoded forces
            return _force_pairs(structure, stores)
    finally:
        for store in stores.values():
            store.close()


def _force_pairs(structure: pd.DataFrame, stores: dict[str, Any]) -> list[ForcePairs]:
    """One panel per (model, functional, code): every atom's force, aligned site by site."""
    pairs = []
    aligner = SiteAligner(stores["references"], stores["structures"])
    for (model, functional, code), rows in structure.groupby(
        ["model_id", "functional", "reference_code"]
    ):
        refs = _fetch(stores[REFERENCES], "reference_id", list(rows["reference_id"]))
        preds = _fetch(stores[PREDICTIONS], "prediction_id", list(rows["prediction_id"]))
        ref_f: list[Any] = []  # one force vector per atom, every structure's in turn
        pred_f: list[Any] = []
        for rid, pid in zip(rows["reference_id"], rows["prediction_id"], strict=True):
            if rid not in refs or pid not in preds:
                continue
            r, p = refs[rid]["forces"], aligner.align(preds[pid], refs[rid])["forces"]
            if r is not None and p is not None:
                ref_f.extend(r)
                pred_f.extend(p)
        if ref_f:  # one array each, not one per structure: 10^5 structures
            title = f"{model} vs {functional} ({code})"
            pairs.append(ForcePairs(title, np.asarray(ref_f).ravel(), np.asarray(pred_f).ravel()))
    return pairs


def load_gga_r2scan_references(campaign: str, settings: PesbenchSettings) -> list[dict]:
    """The campaign's successful references: structure, functional, energy, atoms, code."""
    store = collection_store(REFERENCES, settings)
    store.connect()
    try:
        return list(
            store.query(
                {**in_campaign(campaign), "status": "success"},
                properties=["structure_id", "functional", "energy", "n_atoms", "code"],
            )
        )
    finally:
        store.close()


def why_no_comparisons(campaign: str, settings: PesbenchSettings) -> str:
    """The error of a report with nothing to show, with what to do about it."""
    with open_collection(REFERENCES, settings) as refs:
        functionals = sorted(
            refs.distinct("functional", {**in_campaign(campaign), "status": "success"})
        )
    with open_collection(PREDICTIONS, settings) as preds:
        trained = sorted(
            preds.distinct("model.functional", {**in_campaign(campaign), "status": "success"})
        )
    if not functionals or not trained:
        return (
            f"no comparisons for campaign {campaign!r}: it has "
            f"{'no successful references' if not functionals else 'no successful predictions'}"
            " stored (see `pesbench status`)"
        )
    return (
        f"no comparisons for campaign {campaign!r}: its references are {', '.join(functionals)}"
        f" and its models were trained on {', '.join(trained)}; compare across functionals "
        "with `pesbench report --cross`"
    )


def unfinished_run(campaign: str, settings: PesbenchSettings) -> tuple[bool, datetime | None]:
    """Whether the campaign's last run has not finished, and when it was planned."""
    with open_collection(CAMPAIGNS, settings) as campaigns:
        record = campaigns.find_one({"name": campaign}, {"runs": 1})
    runs = (record or {}).get("runs") or []
    if not runs or runs[-1].get("finished"):
        return False, None
    planned = runs[-1].get("planned_at")
    return True, planned if isinstance(planned, datetime) else None


def _finetune_row(doc: FineTuneDoc) -> dict[str, Any]:
    """One fine-tune: its split, training and held-out errors (energies in meV/atom)."""
    before, after = doc.before, doc.after
    return {
        "model_id": doc.model_id,
        "base_model": doc.base_model,
        "functional": doc.functional,
        "atomref": doc.atomref_mode,
        "freeze": doc.freeze,
        "train": ", ".join(doc.split.get("train", [])),
        "val": ", ".join(doc.split.get("val", [])),
        "test": ", ".join(doc.split.get("test", [])),
        "n_train": doc.n_structures.get("train", 0),
        "n_test": doc.n_structures.get("test", 0),
        "seed": doc.seed,
        "learning_rate": doc.learning_rate,
        "epoch_kept": f"{doc.selected_epoch}/{doc.epochs}",
        "energy_mae_before": before.energy_mae_per_atom * 1000 if before else None,
        "energy_mae_after": after.energy_mae_per_atom * 1000 if after else None,
        "force_mae_before": before.force_mae if before else None,
        "force_mae_after": after.force_mae if after else None,
        "notes": "; ".join(doc.notes),
    }


def _scale_fit_row(doc: ScaleFitDoc) -> dict[str, Any]:
    """One softening-scale fit: the scale, where it was fitted, force MAE before and after."""
    return {
        "model_id": doc.model_id,
        "base_model": doc.base_model,
        "functional": doc.functional,
        "scale": doc.scale,
        "materials": ", ".join(sorted(set(doc.materials))),
        "n_structures": len(doc.structure_ids),
        "force_mae_before": doc.force_mae_before,
        "force_mae_after": doc.force_mae_after,
    }


def load_corrections_frames(
    campaign: str, models: list[str], settings: PesbenchSettings
) -> tuple[pd.DataFrame, pd.DataFrame, list[tuple[str, str]]]:
    """Tables of the fine-tunes and scale fits of ``campaign`` or its ``models``.

    Returns
    -------
    tuple
        (fine-tunes, scale fits, the fine-tunes' warnings as (model id, note)).
    """
    tuned, fits, warnings = [], [], []
    for doc in load_corrections(settings, campaign=campaign, model_ids=models):
        if isinstance(doc, FineTuneDoc):
            warnings += [(doc.model_id, note) for note in doc.notes]
            tuned.append(_finetune_row(doc))
        elif isinstance(doc, ScaleFitDoc):
            fits.append(_scale_fit_row(doc))
    return pd.DataFrame(tuned), pd.DataFrame(fits), warnings


def load_report_inputs(campaign: str, settings: PesbenchSettings) -> ReportInputs:
    """Read everything the report of ``campaign`` shows (the comparisons as they are).

    Raises
    ------
    PesbenchError
        When the campaign has neither comparisons nor properties.
    """
    material = query_comparisons(settings, "material", campaign=campaign)
    relaxed = load_relaxed_properties(campaign, settings)
    if material.empty and relaxed.empty:
        raise PesbenchError(why_no_comparisons(campaign, settings))
    structure = query_comparisons(settings, "structure", campaign=campaign)
    models = sorted(set(material.get("model_id", [])) | {p.model.side for p in relaxed.pairs})
    tuned, fits, warnings = load_corrections_frames(campaign, models, settings)
    unfinished, planned = unfinished_run(campaign, settings)
    return ReportInputs(
        campaign=campaign,
        material=material,
        structure=structure,
        relaxed=relaxed,
        forces=load_force_pairs(structure, settings) if len(material) else [],
        gga_r2scan=load_gga_r2scan_references(campaign, settings),
        finetunes=tuned,
        scale_fits=fits,
        warnings=warnings,
        unfinished=unfinished,
        planned_at=planned,
    )
