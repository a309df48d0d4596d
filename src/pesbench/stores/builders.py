"""maggma Builders deriving the ``comparisons`` collection from references and predictions.

:class:`StructureComparisonBuilder` pairs every successful prediction with the successful
references of the same structure at the functional its model was trained on (PBE models
with PBE and PBE+U references; with ``cross_functional=True`` every functional), and writes
one structure-level document per pair. Its energies are also referenced to each side's
own relaxed parent bulk (from the ``relaxations`` collection; the match:
:mod:`pesbench.stores.relaxed_bulk`), where both sides relaxed it.
:class:`MaterialComparisonBuilder` groups those by (material, category, model, functional)
and writes the aggregates: error statistics (the referenced energy MAE among them),
softening scale, cMAE, one-point correction, property errors.

Both are incremental: each document carries a ``source_stamp``, a hash of the ids and
creation times of the documents it was computed from (the bulk relaxations included); an
item whose stamp is unchanged is not processed again, so rerunning with nothing new writes
nothing, and a new bulk relaxation rebuilds the comparisons it references.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import bson
import numpy as np
from maggma.core import Builder, Store
from maggma.utils import grouper
from pymatgen.core import Structure
from pymongo import ReplaceOne
from pymongo.collection import Collection

from pesbench.analysis.category import Result, category_properties
from pesbench.analysis.conventions import convention_of, mp2020_correction
from pesbench.analysis.metrics import error_stats, stack_components
from pesbench.analysis.softening import fit_softening, one_point_correction, softening_scale
from pesbench.schemas.comparison import (
    MaterialComparisonDoc,
    PropertyRow,
    StructureComparisonDoc,
    is_native_pair,
    material_comparison_id,
    structure_comparison_id,
)
from pesbench.schemas.ids import site_order
from pesbench.schemas.structure import StructureDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri
from pesbench.stores.mongo import SettingsMongoStore
from pesbench.stores.relaxed_bulk import IN_CHUNK, RelaxedBulks, bulk_stamp
from pesbench.stores.site_alignment import SiteAligner

__all__ = [
    "COLLECTION_KEYS",
    "MAX_DOC_BYTES",
    "MaterialComparisonBuilder",
    "StructureComparisonBuilder",
    "build_comparisons",
    "collection_store",
    "run_builder",
]

COLLECTION_KEYS = {
    "structures": "structure_id",
    "references": "reference_id",
    "predictions": "prediction_id",
    "comparisons": "comparison_id",
    "relaxations": "relaxation_id",
}
"""The clean collections of DESIGN.md and the key of each."""

COMPARISON_INDEXES = ("level", "campaigns", "structure_id", "model_id")
"""Non-unique indexes of ``comparisons``: what the builders and queries select by."""
FETCH_CHUNK = 1000
"""Pairs whose reference and prediction documents are read in one query each."""
MAX_DOC_BYTES = 15 * 1024 * 1024
"""Largest BSON document a builder writes (MongoDB refuses over 16 MiB)."""

_REF_FIELDS = [
    "reference_id", "structure_id", "functional", "code", "input_settings", "created_at",
    "campaign", "campaigns", "site_order",
]  # fmt: skip
_STRUCTURE_FIELDS = [
    "structure_id", "category", "role", "parent_id", "parent_formula", "created_at"
]  # fmt: skip
_PRED_FIELDS = ["prediction_id", "structure_id", "model", "created_at", "campaign", "campaigns"]


def _members(doc: dict[str, Any]) -> set[str]:
    """Campaigns that asked for a reference or prediction (computed it or reused it)."""
    own = {doc["campaign"]} if doc.get("campaign") else set()
    return own | set(doc.get("campaigns") or [])


def pair_campaigns(ref: dict[str, Any], pred: dict[str, Any]) -> list[str]:
    """Campaigns of a (reference, prediction) comparison: those that asked for both.

    Results stored before campaigns were recorded on reuse may share none: then the
    campaign of the reference, else of the prediction.
    """
    both = _members(ref) & _members(pred)
    if both:
        return sorted(both)
    first = ref.get("campaign") or pred.get("campaign")
    return [first] if first else []


def collection_store(name: str, settings: PesbenchSettings | None = None) -> SettingsMongoStore:
    """A (not yet connected) maggma store of one of :data:`COLLECTION_KEYS`."""
    settings = settings or get_settings()
    return SettingsMongoStore(
        settings.db_name, name, uri=database_uri(settings), key=COLLECTION_KEYS[name]
    )


def _stamp(*parts: Any) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _query_in(
    store: Store,
    field: str,
    values: list[str],
    properties: list[str],
    criteria: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Documents whose ``field`` is one of ``values``, in queries of :data:`IN_CHUNK` values."""
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        yield from store.query({**(criteria or {}), field: {"$in": chunk}}, properties=properties)


def _formula_of(structure_id: str) -> str:
    return structure_id.rsplit("-", 1)[0]


def _per_atom(doc: dict[str, Any]) -> float:
    if doc.get("energy_per_atom") is not None:
        return float(doc["energy_per_atom"])
    return float(doc["energy"]) / int(doc["n_atoms"])


def _fit_size(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, or (over :data:`MAX_DOC_BYTES`) ``doc`` without its long lists, noted."""
    if len(bson.encode(doc)) <= MAX_DOC_BYTES:
        return doc
    trimmed = {**doc, "structure_ids": [], "properties": []}
    trimmed["notes"] = [*doc.get("notes", [])[:100], "lists dropped: document over 15 MiB"]
    return trimmed


class _CountingBuilder(Builder):
    """Counts the documents it writes (``n_written``), so a rerun can be checked."""

    target: Store

    def __init__(self, sources: list[Store], target: Store, **kwargs: Any) -> None:
        self.target = target
        self.n_written = 0
        super().__init__(sources=sources, targets=[target], **kwargs)

    def connect(self) -> None:
        """Connect every store; index ``comparisons`` (each upsert looks its key up)."""
        super().connect()
        self.target.ensure_index("comparison_id", unique=True)
        for field in COMPARISON_INDEXES:
            self.target.ensure_index(field)

    def update_targets(self, items: list[dict[str, Any]]) -> None:
        """Upsert the documents by ``comparison_id``.

        They are JSON-ready already (``model_dump(mode="json")``): written in one bulk write
        without maggma's per-document ``jsanitize`` (a quarter of a build's time), where the
        target is a MongoDB collection; through ``Store.update`` otherwise.
        """
        docs = [_fit_size(item) for item in items if item]
        if not docs:
            return
        collection = getattr(self.target, "_collection", None)
        if isinstance(collection, Collection):
            collection.bulk_write(
                [ReplaceOne({"comparison_id": d["comparison_id"]}, d, upsert=True) for d in docs],
                ordered=False,
            )
        else:
            self.target.update(docs, key="comparison_id")
        self.n_written += len(docs)


class StructureComparisonBuilder(_CountingBuilder):
    """One ``level="structure"`` comparison per (prediction, paired reference).

    Parameters
    ----------
    references, predictions, comparisons
        The stores of those collections.
    structures
        Store of the ``structures`` collection: supplies material, category and parent
        bulk (without it, or for unknown structures: an imported reference's material id
        and category (``provenance``), else the formula, ``"unknown"`` and the structure
        itself).
    relaxations
        Store of the ``relaxations`` collection: each side's relaxed parent bulk, to
        which its energies are referenced (without it: no referenced energies).
    cross_functional
        Also pair each model with references of functionals it was not trained on.
    query
        Extra Mongo criteria on the references (e.g. ``{"campaign": "x"}``).
    """

    def __init__(
        self,
        references: Store,
        predictions: Store,
        comparisons: Store,
        structures: Store | None = None,
        cross_functional: bool = False,
        query: dict[str, Any] | None = None,
        relaxations: Store | None = None,
        **kwargs: Any,
    ) -> None:
        self.references = references
        self.predictions = predictions
        self.structures = structures
        self.relaxations = relaxations
        self.cross_functional = cross_functional
        self.query = query or {}
        sources = [references, predictions, structures, relaxations]
        super().__init__([s for s in sources if s is not None], comparisons, **kwargs)

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Pairs whose comparison is missing or was computed from other inputs."""
        existing = {
            d["comparison_id"]: d.get("source_stamp")
            for d in self.target.query(
                {"level": "structure"}, properties=["comparison_id", "source_stamp"]
            )
        }
        refs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ref in self.references.query(
            {"status": "success", **self.query}, properties=_REF_FIELDS
        ):
            refs[ref["structure_id"]].append(ref)
        structures = self._structures(list(refs))
        aligner = SiteAligner(self.references, self.structures)
        pending: list[dict[str, Any]] = []
        bulk_of = {sid: (structures.get(sid) or {}).get("parent_id") or sid for sid in refs}
        bulks = RelaxedBulks.load(self.relaxations, bulk_of.values())
        for pred in _query_in(
            self.predictions, "structure_id", list(refs), _PRED_FIELDS, {"status": "success"}
        ):
            sid = pred["structure_id"]
            for ref in refs[sid]:
                native = is_native_pair(pred["model"]["functional"], ref["functional"])
                if not (native or self.cross_functional):
                    continue
                cid = structure_comparison_id(pred["prediction_id"], ref["reference_id"])
                dft_bulk = bulks.for_reference(bulk_of[sid], ref)
                model_bulk = bulks.for_model(bulk_of[sid], pred["model"])
                stamp = _stamp(
                    cid,
                    pred["created_at"],
                    ref["created_at"],
                    str((structures.get(sid) or {}).get("created_at", "")),
                    bulk_stamp(dft_bulk),
                    bulk_stamp(model_bulk),
                    *pair_campaigns(ref, pred),  # a campaign reusing the pair rebuilds it
                )
                if existing.get(cid) == stamp:
                    continue
                pending.append(
                    {
                        "comparison_id": cid,
                        "source_stamp": stamp,
                        "reference": ref["reference_id"],
                        "prediction": pred["prediction_id"],
                        "structure": structures.get(sid),
                        "dft_bulk": dft_bulk,
                        "model_bulk": model_bulk,
                    }
                )
        for chunk in grouper(pending, FETCH_CHUNK):
            yield from self._with_documents(list(chunk), aligner)

    def _with_documents(
        self, items: list[dict[str, Any]], aligner: SiteAligner
    ) -> Iterator[dict[str, Any]]:
        """``items`` with their reference and prediction documents, read in one query each."""
        refs = {
            d["reference_id"]: d
            for d in self.references.query(
                {"reference_id": {"$in": sorted({i["reference"] for i in items})}}
            )
        }
        preds = {
            d["prediction_id"]: d
            for d in self.predictions.query(
                {"prediction_id": {"$in": sorted({i["prediction"] for i in items})}}
            )
        }
        for item in items:
            reference, prediction = refs.get(item["reference"]), preds.get(item["prediction"])
            if reference is None or prediction is None:  # deleted since the pairing
                continue
            yield item | {
                "reference": reference,
                "prediction": aligner.align(prediction, reference),
            }

    def _structures(self, structure_ids: list[str]) -> dict[str, dict[str, Any]]:
        if self.structures is None or not structure_ids:
            return {}
        return {
            d["structure_id"]: d
            for d in _query_in(self.structures, "structure_id", structure_ids, _STRUCTURE_FIELDS)
        }

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """The structure-level comparison document (JSON-ready dict)."""
        ref, pred, struct = item["reference"], item["prediction"], item["structure"] or {}
        sid = ref["structure_id"]
        footing = _model_footing(pred["model"], ref.get("structure"), item.get("model_bulk"))
        e_ref = _per_atom(ref)
        e_pred = _per_atom(pred) - (footing["energy_correction_per_atom_model"] or 0.0)
        model_bulk = item.get("model_bulk")
        if model_bulk is not None:
            bulk_shift = footing.pop("bulk_correction_per_atom")
            model_bulk = model_bulk | {
                "energy_per_atom": model_bulk["energy_per_atom"] - bulk_shift
            }
        else:
            footing.pop("bulk_correction_per_atom")
        imported = ref.get("provenance") or {}  # pesbench import: material and category
        doc = StructureComparisonDoc(
            comparison_id=item["comparison_id"],
            source_stamp=item["source_stamp"],
            material=struct.get("parent_id") or imported.get("material_id") or _formula_of(sid),
            formula=struct.get("parent_formula") or _formula_of(sid),
            category=struct.get("category") or imported.get("category") or "unknown",
            role=struct.get("role"),
            model_id=pred["model"]["model_id"],
            model_functional=pred["model"]["functional"],
            functional=ref["functional"],
            reference_code=ref["code"],
            pairing="native"
            if is_native_pair(pred["model"]["functional"], ref["functional"])
            else "cross",
            campaign=ref.get("campaign") or pred.get("campaign"),
            campaigns=pair_campaigns(ref, pred),
            structure_id=sid,
            prediction_id=pred["prediction_id"],
            reference_id=ref["reference_id"],
            n_atoms=ref["n_atoms"],
            energy_per_atom_reference=e_ref,
            energy_per_atom_model=e_pred,
            energy_per_atom_error=e_pred - e_ref,
            **footing,
            **_referenced_energies(e_ref, e_pred, item.get("dft_bulk"), model_bulk),
            **_force_and_stress_errors(ref, pred),
        )
        return doc.model_dump(mode="json")


def _model_footing(
    model: dict[str, Any], structure: dict[str, Any] | None, bulk: dict[str, Any] | None
) -> dict[str, Any]:
    """How the model's energies are put on DFT's raw footing (:mod:`pesbench.analysis.conventions`).

    The MP2020 correction per atom of the structure and of the model's relaxed bulk, to be
    removed from an ``"mp2020"`` model's energies (zero for a raw one); ``None`` and a note
    when pymatgen's scheme cannot correct the structure (its energies then stay as predicted).
    """
    convention = convention_of(model)
    fields: dict[str, Any] = {
        "energy_convention_model": convention,
        "energy_correction_per_atom_model": 0.0,
        "bulk_correction_per_atom": 0.0,
    }
    if convention != "mp2020":
        return fields
    try:
        if structure is not None:
            cell = Structure.from_dict(structure)
            fields["energy_correction_per_atom_model"] = mp2020_correction(cell) / len(cell)
        if bulk is not None and bulk.get("structure") is not None:
            fields["bulk_correction_per_atom"] = _bulk_correction(bulk)
    except ValueError as exc:
        fields |= {
            "energy_correction_per_atom_model": None,
            "bulk_correction_per_atom": 0.0,
            "energy_footing_note": f"energies as predicted (MP2020-corrected): {exc}",
        }
    return fields


_BULK_CORRECTIONS: dict[str, float] = {}
"""MP2020 correction per atom of each relaxed bulk, by relaxation_id: one bulk serves every
comparison of its material, and a relaxation's structure never changes under its id."""


def _bulk_correction(bulk: dict[str, Any]) -> float:
    """:func:`mp2020_correction` per atom of a relaxed bulk, computed once per relaxation."""
    key = str(bulk["relaxation_id"])
    if key not in _BULK_CORRECTIONS:
        if len(_BULK_CORRECTIONS) > 10_000:  # bounded: a long-lived builder process
            _BULK_CORRECTIONS.clear()
        cell = Structure.from_dict(bulk["structure"])
        _BULK_CORRECTIONS[key] = mp2020_correction(cell) / len(cell)
    return _BULK_CORRECTIONS[key]


def _referenced_energies(
    e_ref: float,
    e_pred: float,
    dft_bulk: dict[str, Any] | None,
    model_bulk: dict[str, Any] | None,
) -> dict[str, Any]:
    """Each side's energy per atom over its own relaxed bulk, and their difference.

    Only the bulks' ids and energies when one side has none (eV/atom).
    """
    fields: dict[str, Any] = {}
    if dft_bulk is not None:
        fields["bulk_relaxation_id_reference"] = dft_bulk["relaxation_id"]
        fields["bulk_energy_per_atom_reference"] = float(dft_bulk["energy_per_atom"])
    if model_bulk is not None:
        fields["bulk_relaxation_id_model"] = model_bulk["relaxation_id"]
        fields["bulk_energy_per_atom_model"] = float(model_bulk["energy_per_atom"])
    if dft_bulk is None or model_bulk is None:
        return fields
    above_ref = e_ref - fields["bulk_energy_per_atom_reference"]
    above_model = e_pred - fields["bulk_energy_per_atom_model"]
    return fields | {
        "energy_referenced_reference": above_ref,
        "energy_referenced_model": above_model,
        "energy_referenced_error": above_model - above_ref,
    }


def _force_and_stress_errors(ref: dict[str, Any], pred: dict[str, Any]) -> dict[str, Any]:
    """Force and stress error statistics, and the structure's own force slope."""
    fields: dict[str, Any] = {}
    if ref.get("forces") is not None and pred.get("forces") is not None:
        fields |= error_stats(ref["forces"], pred["forces"]).as_dict("force_")
        fields.pop("force_n")
        try:
            fields["force_scale"] = softening_scale(ref["forces"], pred["forces"])
        except ValueError:  # all reference forces zero (a relaxed bulk)
            fields["force_scale"] = None
    if ref.get("stress") is not None and pred.get("stress") is not None:
        fields |= error_stats(ref["stress"], pred["stress"]).as_dict("stress_")
        fields.pop("stress_n")
    return fields


class MaterialComparisonBuilder(_CountingBuilder):
    """One ``level="material"`` aggregate per (material, category, model, functional).

    Reads the structure-level comparisons for the grouping, and the references and
    predictions (for the forces) and structures (for the category's properties) they name.
    A structure with several references at one functional (other settings or codes)
    counts once, with the reference of the largest ``reference_id``.

    Parameters
    ----------
    comparisons
        Store of the ``comparisons`` collection (read and written).
    references, predictions, structures
        The stores of those collections (``structures`` optional: without it, no
        property errors).
    """

    def __init__(
        self,
        comparisons: Store,
        references: Store,
        predictions: Store,
        structures: Store | None = None,
        **kwargs: Any,
    ) -> None:
        self.comparisons = comparisons
        self.references = references
        self.predictions = predictions
        self.structures = structures
        sources = [comparisons, references, predictions] + ([structures] if structures else [])
        super().__init__(sources, comparisons, **kwargs)

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Groups whose member comparisons changed since their aggregate was written."""
        aligner = SiteAligner(self.references, self.structures)
        groups: dict[tuple[str, str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
        for doc in self.comparisons.query({"level": "structure"}):
            key = (doc["material"], doc["category"], doc["model_id"], doc["functional"])
            current = groups[key].get(doc["structure_id"])
            if current is None or doc["reference_id"] > current["reference_id"]:
                groups[key][doc["structure_id"]] = doc
        existing = {
            d["comparison_id"]: d.get("source_stamp")
            for d in self.comparisons.query(
                {"level": "material"}, properties=["comparison_id", "source_stamp"]
            )
        }
        for key, members in sorted(groups.items()):
            cid = material_comparison_id(*key)
            stamp = _stamp(
                *sorted(f"{m['comparison_id']}@{m['source_stamp']}" for m in members.values())
            )
            if existing.get(cid) == stamp:
                continue
            rows = [members[sid] for sid in sorted(members)]
            refs = {
                r["structure_id"]: r
                for r in self.references.query(
                    {"reference_id": {"$in": [m["reference_id"] for m in rows]}},
                    properties=_FORCE_FIELDS,
                )
            }
            preds = {
                p["structure_id"]: p
                for p in self.predictions.query(
                    {"prediction_id": {"$in": [m["prediction_id"] for m in rows]}},
                    properties=_FORCE_FIELDS,
                )
            }
            structures = self._structures(key[0], key[1])
            refs, preds = _in_one_order(refs, preds, structures, aligner)
            yield {
                "comparison_id": cid,
                "source_stamp": stamp,
                "members": rows,
                "references": refs,
                "predictions": preds,
                "structures": structures,
            }

    def _structures(self, material: str, category: str) -> list[dict[str, Any]]:
        if self.structures is None:
            return []
        return list(self.structures.query({"parent_id": material, "category": category}))

    def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """The material-level aggregate document (JSON-ready dict)."""
        rows: list[dict[str, Any]] = item["members"]
        first = rows[0]
        notes: list[str] = []
        fields = _energy_fields(rows, notes)
        fields |= _force_fields(rows, item["references"], item["predictions"], notes)
        stress = [r["stress_mae"] for r in rows if r.get("stress_mae") is not None]
        if stress:
            fields["stress_mae"] = float(np.mean(stress))
        properties: list[PropertyRow] = []
        if item["structures"]:
            docs = [StructureDoc.model_validate(_strip(d)) for d in item["structures"]]
            props, prop_notes = category_properties(
                docs,
                _results(item["references"]),
                _results(item["predictions"]),
                phonon_mesh=(6, 6, 6),
            )
            properties = [PropertyRow(**p.as_dict()) for p in props]  # type: ignore[arg-type]
            notes += prop_notes
        doc = MaterialComparisonDoc(
            comparison_id=item["comparison_id"],
            source_stamp=item["source_stamp"],
            material=first["material"],
            formula=first["formula"],
            category=first["category"],
            model_id=first["model_id"],
            model_functional=first["model_functional"],
            functional=first["functional"],
            reference_code=first["reference_code"],
            pairing=first["pairing"],
            campaign=first.get("campaign"),
            campaigns=sorted({c for r in rows for c in r.get("campaigns") or []}),
            structure_ids=[r["structure_id"] for r in rows],
            n_structures=len(rows),
            properties=properties,
            notes=notes,
            **fields,
        )
        return doc.model_dump(mode="json")


_FORCE_FIELDS = ["structure_id", "energy", "forces", "site_order"]


def _in_one_order(
    refs: dict[str, dict[str, Any]],
    preds: dict[str, dict[str, Any]],
    structures: list[dict[str, Any]],
    aligner: SiteAligner,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each structure's reference and prediction forces in one site order.

    That of the generated structure where there is one (the order its phonon displacements
    and property terms follow), else the reference's.
    """
    like: dict[str, dict[str, Any]] = {
        d["structure_id"]: {
            "structure_id": d["structure_id"],
            "structure": d["structure"],
            "site_order": site_order(Structure.from_dict(d["structure"])),
        }
        for d in structures
        if d.get("structure") is not None and d["structure_id"] in refs
    }
    for sid, ref in refs.items():
        target = like.get(sid, ref)
        refs[sid] = aligner.align(ref, target)
        if sid in preds:
            preds[sid] = aligner.align(preds[sid], target)
    return refs, preds


def _energy_fields(rows: list[dict[str, Any]], notes: list[str]) -> dict[str, Any]:
    """Energy error statistics: of absolute totals, centred, and referenced to the bulks.

    The referenced ones over the members that have both sides' relaxed bulks;
    ``energy_referencing`` is ``"relaxed_bulk"`` only when every member has them.
    """
    e_err = np.array([r["energy_per_atom_error"] for r in rows])
    energy = error_stats(np.zeros_like(e_err), e_err)
    fields: dict[str, Any] = {
        "energy_mae": energy.mae,
        "energy_rmse": energy.rmse,
        "energy_max": energy.max,
        "energy_mae_centered": float(np.mean(np.abs(e_err - e_err.mean()))),
        "energy_referencing": "mean_offset",
    }
    referenced = [
        r["energy_referenced_error"] for r in rows if r.get("energy_referenced_error") is not None
    ]
    if referenced:
        stats = error_stats(np.zeros(len(referenced)), np.array(referenced))
        fields |= {
            "n_energy_referenced": len(referenced),
            "energy_referenced_mae": stats.mae,
            "energy_referenced_rmse": stats.rmse,
            "energy_referenced_max": stats.max,
        }
    if len(referenced) == len(rows):
        fields["energy_referencing"] = "relaxed_bulk"
    elif referenced:
        notes.append(
            f"energy: {len(rows) - len(referenced)} of {len(rows)} structures lack a side's "
            "relaxed parent bulk; the energy error shown has the mean offset removed"
        )
    return fields


def _force_fields(
    rows: list[dict[str, Any]],
    refs: dict[str, dict[str, Any]],
    preds: dict[str, dict[str, Any]],
    notes: list[str],
) -> dict[str, Any]:
    """Force error statistics, softening fit and one-point correction of the members."""
    with_forces = [
        r["structure_id"]
        for r in rows
        if refs.get(r["structure_id"], {}).get("forces") is not None
        and preds.get(r["structure_id"], {}).get("forces") is not None
    ]
    if not with_forces:
        return {}
    ref_f = [np.asarray(refs[s]["forces"]) for s in with_forces]
    pred_f = [np.asarray(preds[s]["forces"]) for s in with_forces]
    stats = error_stats(stack_components(ref_f), stack_components(pred_f))
    fields: dict[str, Any] = {
        "force_mae": stats.mae,
        "force_rmse": stats.rmse,
        "force_max": stats.max,
    }
    try:
        fit = fit_softening(stack_components(ref_f), stack_components(pred_f))
        fields |= {
            "softening_scale": fit.scale,
            "slope": fit.slope,
            "intercept": fit.intercept,
            "r2": fit.r2,
            "cmae": fit.cmae,
        }
    except ValueError as exc:
        notes.append(f"softening: {exc}")
    if len(with_forces) >= 2:
        fit_at = int(np.argmax([np.abs(f).max() for f in ref_f]))
        try:
            opc = one_point_correction(ref_f, pred_f, fit_index=fit_at)
            fields |= {
                "one_point_scale": opc.scale,
                "one_point_structure_id": with_forces[fit_at],
                "one_point_mae_before": opc.mae_before,
                "one_point_mae_after": opc.mae_after,
            }
        except ValueError as exc:
            notes.append(f"one-point correction: {exc}")
    return fields


def _strip(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document without MongoDB's and maggma's own fields."""
    return {k: v for k, v in doc.items() if not k.startswith("_") and k != "last_updated"}


def _results(docs: dict[str, dict[str, Any]]) -> dict[str, Result]:
    return {
        sid: Result(
            energy=float(d["energy"]),
            forces=None if d.get("forces") is None else np.asarray(d["forces"]),
        )
        for sid, d in docs.items()
        if d.get("energy") is not None
    }


def run_builder(builder: Builder) -> None:
    """Run ``builder`` serially, quietly (maggma's ``run`` reconfigures the root logger)."""
    builder.connect()
    try:
        for chunk in grouper(builder.get_items(), builder.chunk_size):
            builder.update_targets([builder.process_item(item) for item in chunk])
    finally:
        builder.finalize()


def build_comparisons(
    settings: PesbenchSettings | None = None, *, cross_functional: bool = False
) -> dict[str, int]:
    """Run both builders against the configured database; return documents written per level."""
    stores = {name: collection_store(name, settings) for name in COLLECTION_KEYS}
    per_structure = StructureComparisonBuilder(
        stores["references"],
        stores["predictions"],
        stores["comparisons"],
        stores["structures"],
        cross_functional=cross_functional,
        relaxations=stores["relaxations"],
    )
    run_builder(per_structure)
    per_material = MaterialComparisonBuilder(
        stores["comparisons"], stores["references"], stores["predictions"], stores["structures"]
    )
    run_builder(per_material)
    return {"structure": per_structure.n_written, "material": per_material.n_written}
