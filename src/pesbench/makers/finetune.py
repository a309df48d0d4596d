"""Correcting a model from stored references: a softening-scale fit, and a CHGNet fine-tune.

:class:`ScaleFitMaker` fits the one-parameter softening correction of a model on one or a
few stored references (``<model>+scale@<fit-id>``, :mod:`pesbench.mlip.scaled`).
:class:`FineTuneMaker` fine-tunes CHGNet on the stored references of one functional
(:mod:`pesbench.mlip.finetune`), split by material, saves the model in the model folder and
registers it as ``chgnet:<file>``; its :class:`~pesbench.schemas.correction.FineTuneDoc`
(held-out errors before and after, seeds, AtomRef, split) is written next to the file,
upserted into the ``corrections`` collection (which the campaign report reads) and
returned, so it lands in the JobStore. Scale fits are stored the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Maker

from pesbench.makers.base import pesbench_job
from pesbench.mlip import load_model, sanity_check, select_device
from pesbench.mlip.atomref import span_notes
from pesbench.mlip.base import Predictor
from pesbench.mlip.chgnet import model_card_path
from pesbench.mlip.finetune import (
    FinetuneParams,
    FinetuneResult,
    chgnet_version,
    finetune_chgnet,
    save_chgnet,
)
from pesbench.mlip.scaled import fit_scale, save_scale_fit
from pesbench.mlip.training_set import TrainingSet, split_by_material
from pesbench.schemas.base import Functional
from pesbench.schemas.correction import FineTuneDoc, HeldOutMetrics, ScaleFitDoc
from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import StructureDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.builders import collection_store
from pesbench.stores.collections import STRUCTURES
from pesbench.stores.corrections import save_correction
from pesbench.stores.references import ReferenceStore, in_campaign

__all__ = [
    "FineTuneMaker",
    "ScaleFitMaker",
    "evaluate",
    "load_training_set",
    "run_finetune",
    "run_scale_fit",
]


def load_training_set(
    functional: Functional,
    *,
    settings: PesbenchSettings | None = None,
    structure_ids: Sequence[str] | None = None,
    campaign: str | Sequence[str] | None = None,
) -> TrainingSet:
    """The successful stored references of ``functional``, with their materials.

    Parameters
    ----------
    functional
        Level of theory of the references.
    settings
        Where the database is.
    structure_ids
        Only these structures (default: all).
    campaign
        Only references this campaign (or these campaigns) computed or reused.

    Returns
    -------
    TrainingSet
        Ordered by reference_id; the material of a structure is its parent's reduced
        formula (``structures`` collection), or its own when it was never generated.
    """
    settings = settings or get_settings()
    criteria: dict[str, Any] = {"functional": functional, "status": "success"}
    if structure_ids is not None:
        criteria["structure_id"] = {"$in": list(structure_ids)}
    if campaign is not None:
        criteria.update(in_campaign(campaign))
    with ReferenceStore(settings) as refs:
        docs = sorted(refs.query(criteria), key=lambda d: d.reference_id)
    store = collection_store(STRUCTURES, settings)
    store.connect()
    try:
        wanted = {"structure_id": {"$in": [d.structure_id for d in docs]}}
        generated = {
            raw["structure_id"]: StructureDoc.model_validate(
                {k: v for k, v in raw.items() if k not in ("_id", store.last_updated_field)}
            )
            for raw in store.query(wanted)
        }
    finally:
        store.close()
    data = TrainingSet()
    for doc in docs:
        gen = generated.get(doc.structure_id)
        structure = doc.structure or (gen.structure if gen else None)
        if structure is None or doc.energy is None or doc.forces is None:
            continue
        data.structures.append(structure)
        data.energies.append(float(doc.energy))
        data.forces.append(np.asarray(doc.forces, dtype=float))
        data.stresses.append(None if doc.stress is None else np.asarray(doc.stress, dtype=float))
        data.ids.append(doc.reference_id)
        data.materials.append(gen.parent_formula if gen else structure.composition.reduced_formula)
    return data


def evaluate(predictor: Predictor, data: TrainingSet, label: str | None = None) -> HeldOutMetrics:
    """Energy, force and stress MAE of ``predictor`` on ``data`` (failures raise)."""
    preds = predictor.predict(data.structures)
    if preds.n_failed:
        reason = next(r for r in preds.failures if r)
        raise ValueError(f"{predictor.model_id} failed on {preds.n_failed} structures: {reason}")
    n = np.array([len(s) for s in data.structures])
    energy = np.array(preds.energies, dtype=float) / n
    forces = np.concatenate([np.ravel(f) for f in preds.forces])  # type: ignore[arg-type]
    ref_forces = np.concatenate([np.ravel(f) for f in data.forces])
    stress_mae = None
    if all(s is not None for s in data.stresses):
        pred_s = np.concatenate([np.ravel(s) for s in preds.stresses])  # type: ignore[arg-type]
        ref_s = np.concatenate([np.ravel(s) for s in data.stresses])  # type: ignore[arg-type]
        stress_mae = float(np.mean(np.abs(pred_s - ref_s)))
    return HeldOutMetrics(
        model=label or predictor.model_id,
        n_structures=len(data),
        energy_mae_per_atom=float(np.mean(np.abs(energy - data.energies_per_atom()))),
        force_mae=float(np.mean(np.abs(forces - ref_forces))),
        stress_mae=stress_mae,
    )


@dataclass
class FineTuneMaker(FinetuneParams, Maker):
    """Fine-tune CHGNet on the stored references of one functional.

    The training fields and their defaults are :class:`~pesbench.mlip.finetune.FinetuneParams`'
    (the one place of them: ``pesbench finetune`` reads its defaults from this Maker); here
    what the Maker adds.

    Parameters
    ----------
    name
        Job name.
    functional
        Functional of the training references (typically r2SCAN).
    val_materials, test_materials
        Explicit splits (reduced formulas of the bulks); default a seeded (``seed``) draw of
        ``fractions`` of the materials.
    fractions
        Val and test fractions of the materials when not explicit.
    campaign
        Only this campaign's references.
    device
        ``cpu``/``cuda``; default the ``device`` setting (``auto``: CUDA when present).
    """

    name: str = "finetune"
    functional: Functional = "r2SCAN"
    val_materials: list[str] | None = None
    test_materials: list[str] | None = None
    fractions: tuple[float, float] = (0.2, 0.2)
    campaign: str | None = None
    device: str | None = None

    @pesbench_job
    def make(self, structure_ids: Sequence[str] | None = None) -> FineTuneDoc:
        """Fine-tune on the stored references (of ``structure_ids`` only, when given)."""
        return run_finetune(self, structure_ids=structure_ids)


def run_finetune(
    maker: FineTuneMaker,
    *,
    structure_ids: Sequence[str] | None = None,
    data: TrainingSet | None = None,
    settings: PesbenchSettings | None = None,
) -> FineTuneDoc:
    """What :meth:`FineTuneMaker.make` does, callable without jobflow.

    Reads the references (``data`` replaces them: benchmarks, tests), splits them by
    material, trains (:func:`~pesbench.mlip.finetune.finetune_chgnet`), saves the model and
    loads it once from its file: its energies of the sanity cells become the expectation
    recorded for later loads, and it is evaluated on the test materials beside the base
    model. The model card is written once, complete; the document goes to ``corrections``.
    """
    settings = settings or get_settings()
    chgnet_version(maker.base_model)  # a wrong base model fails before any work
    if data is None:
        data = load_training_set(
            maker.functional,
            settings=settings,
            structure_ids=structure_ids,
            campaign=maker.campaign,
        )
    if not len(data):
        raise ValueError(f"no successful {maker.functional} references to fine-tune on")
    split = split_by_material(
        data.materials,
        seed=maker.seed,
        fractions=maker.fractions,
        val=maker.val_materials,
        test=maker.test_materials,
    )
    parts = {name: data.subset(mats) for name, mats in split.items()}
    params = {f.name: getattr(maker, f.name) for f in fields(FinetuneParams)}
    device = select_device(settings, maker.device)
    model, result = finetune_chgnet(parts["train"], parts["val"], device=device, **params)
    checkpoint = _save(model, maker, settings)
    tuned = load_model(f"chgnet:{checkpoint.name}", device=device, check=False, settings=settings)
    # load_model's checks (forces, failures) but of no energy: these become the expectation
    sanity = sanity_check(tuned, expected={})
    doc = _finetune_doc(maker, result, parts, split, data.ids, checkpoint.name, tuned, sanity)
    if len(parts["test"]):
        base = load_model(maker.base_model, device=device, settings=settings)
        doc.before = evaluate(base, parts["test"])
        doc.after = evaluate(tuned, parts["test"])
    model_card_path(checkpoint).write_text(doc.model_dump_json(indent=1))
    save_correction(doc, settings)
    return doc


def _save(model: Any, maker: FineTuneMaker, settings: PesbenchSettings) -> Path:
    """Save ``model`` in the model folder as ``chgnet-ft-<functional>-<mode>-<checksum>``."""
    tag = f"{maker.functional.lower().replace('+', '')}-{maker.atomref_mode}"
    partial = settings.models_path / f"chgnet-ft-{tag}.partial.pth.tar"
    checksum = save_chgnet(model, partial)
    checkpoint = settings.models_path / f"chgnet-ft-{tag}-{checksum[:10]}.pth.tar"
    partial.replace(checkpoint)  # a complete file or none under the final name
    return checkpoint


def _finetune_doc(
    maker: FineTuneMaker,
    result: FinetuneResult,
    parts: dict[str, TrainingSet],
    split: dict[str, list[str]],
    reference_ids: list[str],
    checkpoint: str,
    tuned: Predictor,
    sanity: dict[str, float],
) -> FineTuneDoc:
    """The document of a fine-tune, without its held-out metrics."""
    return FineTuneDoc(
        model_id=tuned.model_id,
        base_model=maker.base_model,
        functional=maker.functional,
        atomref_mode=maker.atomref_mode,
        atomref_before=result.atomref_before,
        atomref_after=result.atomref_after,
        split=split,
        n_structures={name: len(part) for name, part in parts.items()},
        reference_ids=list(reference_ids),
        campaign=maker.campaign,
        seed=maker.seed,
        epochs=maker.epochs,
        learning_rate=maker.learning_rate,
        batch_size=maker.batch_size,
        loss_weights=result.loss_weights,
        freeze=maker.freeze,
        selection=result.selection,
        selected_epoch=result.selected_epoch,
        val_energy_mae=result.val_energy_mae,
        device=result.device,
        train_seconds=result.train_seconds,
        checkpoint=checkpoint,
        checksum=tuned.info.checksum,
        sanity_energies=sanity,
        training_data=f"{len(parts['train'])} {maker.functional} references of pesbench"
        + (f" (campaign {maker.campaign})" if maker.campaign else "")
        + f", fine-tuned from {maker.base_model}",
        notes=span_notes(
            [s.composition for s in parts["train"].structures],
            {m: name for name in ("val", "test") for m in split[name]},
        ),
    )


@dataclass
class ScaleFitMaker(Maker):
    """Fit the one-parameter softening correction of a model on stored references.

    Parameters
    ----------
    name
        Job name.
    model
        Model id to correct.
    functional
        Functional of the references fitted.
    device
        ``cpu``/``cuda``; default the ``device`` setting.
    campaign
        Campaign the fitted references belong to (recorded; the report shows the fit).
    """

    name: str = "scale_fit"
    model: str = "chgnet-0.3.0"
    functional: Functional = "PBE"
    device: str | None = None
    campaign: str | None = None

    @pesbench_job
    def make(self, structure_ids: Sequence[str]) -> ScaleFitDoc:
        """Fit on the references of ``structure_ids`` (one high-energy structure or a few)."""
        data = load_training_set(self.functional, structure_ids=structure_ids)
        return run_scale_fit(
            self.model, self.functional, data, device=self.device, campaign=self.campaign
        )


def run_scale_fit(
    model: str,
    functional: Functional,
    data: TrainingSet,
    *,
    device: str | None = None,
    settings: PesbenchSettings | None = None,
    campaign: str | None = None,
) -> ScaleFitDoc:
    """Predict ``data`` with ``model``, fit the scale, save the fit; return it.

    The corrected model is then ``fit.model_id`` (``<model>+scale@<fit-id>``); the fit is
    written to the model folder and to the ``corrections`` collection (with ``campaign``).
    """
    if not len(data):
        raise ValueError("no references to fit the softening scale on")
    predictor = load_model(model, device=device, settings=settings)
    preds = predictor.predict(data.structures)
    if preds.n_failed:
        raise ValueError(f"{model} failed on a fitted structure: {preds.failures}")
    fit = fit_scale(
        model,
        functional,
        data.forces,
        preds.forces,  # type: ignore[arg-type]
        [e / len(s) for e, s in zip(preds.energies, data.structures, strict=True)],  # type: ignore[operator]
        data.ids,
        [structure_id(s) for s in data.structures],
        data.materials,
    )
    fit.campaign = campaign
    save_scale_fit(fit, settings)
    save_correction(fit, settings)
    return fit
