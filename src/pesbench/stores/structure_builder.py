"""Structure-level comparisons: one document per (prediction, paired reference).

See :mod:`pesbench.stores.builders` for how the two builders fit together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from maggma.core import Store
from maggma.utils import grouper

from pesbench.analysis.conventions import convention_of
from pesbench.analysis.metrics import error_stats, paired_arrays
from pesbench.analysis.softening import softening_scale
from pesbench.schemas.comparison import (
    StructureComparisonDoc,
    is_native_pair,
    structure_comparison_id,
)
from pesbench.stores.builder_common import _CountingBuilder, _stamp, failed_item, pair_campaigns
from pesbench.stores.footing import model_footing
from pesbench.stores.mongo import query_in
from pesbench.stores.relaxed_bulk import RelaxedBulks, bulk_stamp
from pesbench.stores.site_alignment import SiteAligner

__all__ = ["FETCH_CHUNK", "StructureComparisonBuilder"]

FETCH_CHUNK = 1000
"""Pairs whose reference and prediction documents are read in one query each."""


_REF_FIELDS = [
    "reference_id", "structure_id", "functional", "code", "input_settings", "created_at",
    "campaign", "campaigns", "site_order",
]  # fmt: skip


_STRUCTURE_FIELDS = [
    "structure_id", "category", "role", "parent_id", "parent_formula", "created_at"
]  # fmt: skip


_PRED_FIELDS = ["prediction_id", "structure_id", "model", "created_at", "campaign", "campaigns"]


def _formula_of(structure_id: str) -> str:
    return structure_id.rsplit("-", 1)[0]


def _per_atom(doc: dict[str, Any]) -> float:
    if doc.get("energy_per_atom") is not None:
        return float(doc["energy_per_atom"])
    return float(doc["energy"]) / int(doc["n_atoms"])


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
    **kwargs
        maggma's ``Builder`` arguments (``chunk_size``).
    """

    level = "structure"

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
        self.comparisons = comparisons
        self.structures = structures
        self.relaxations = relaxations
        self.cross_functional = cross_functional
        self.query = query or {}
        sources = [references, predictions, structures, relaxations]
        super().__init__([s for s in sources if s is not None], comparisons, **kwargs)

    def get_items(self) -> Iterator[dict[str, Any]]:
        """Pairs whose comparison is missing or was computed from other inputs (stamps)."""
        existing = {
            d["comparison_id"]: d.get("source_stamp")
            for d in self.target.query(
                {"level": "structure"}, properties=["comparison_id", "source_stamp"]
            )
        }
        self.stored_ids = set(existing)
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
        for pred in query_in(
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
                campaigns = pair_campaigns(ref, pred)
                stamp = _stamp(
                    cid,
                    pred["created_at"],
                    ref["created_at"],
                    str((structures.get(sid) or {}).get("created_at", "")),
                    bulk_stamp(dft_bulk),
                    bulk_stamp(model_bulk),
                    *campaigns,  # a campaign reusing the pair rebuilds it
                )
                if existing.get(cid) == stamp:
                    continue
                pending.append(
                    {
                        "comparison_id": cid,
                        "source_stamp": stamp,
                        "ids": _ids(ref, pred, campaigns),
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
        """``items`` with their reference and prediction documents, read in one query each.

        The references are read without their ``structure`` (most of a document's bytes),
        which is then read only for the pairs that use it (:func:`_uses_structure`).
        """
        refs = {
            d["reference_id"]: d
            for d in self.references.query(
                {"reference_id": {"$in": sorted({i["reference"] for i in items})}},
                properties={"structure": 0},
            )
        }
        preds = {
            d["prediction_id"]: d
            for d in self.predictions.query(
                {"prediction_id": {"$in": sorted({i["prediction"] for i in items})}}
            )
        }
        self._add_structures(refs, preds, items)
        for item in items:
            reference, prediction = refs.get(item["reference"]), preds.get(item["prediction"])
            if reference is None or prediction is None:  # deleted since the pairing
                continue
            try:
                aligned = aligner.align(prediction, reference)
            except Exception as exc:  # unusable site orders: this pair fails, not the build
                yield failed_item(item, exc)
                continue
            yield item | {"reference": reference, "prediction": aligned}

    def _add_structures(
        self,
        refs: dict[str, dict[str, Any]],
        preds: dict[str, dict[str, Any]],
        items: list[dict[str, Any]],
    ) -> None:
        """Give the references of ``refs`` that a pair of ``items`` uses their ``structure``."""
        wanted = {
            i["reference"]
            for i in items
            if i["reference"] in refs
            and i["prediction"] in preds
            and _uses_structure(refs[i["reference"]], preds[i["prediction"]])
        }
        if not wanted:
            return
        for d in self.references.query(
            {"reference_id": {"$in": sorted(wanted)}}, properties=["reference_id", "structure"]
        ):
            if "structure" in d and d["reference_id"] in refs:
                refs[d["reference_id"]]["structure"] = d["structure"]

    def _structures(self, structure_ids: list[str]) -> dict[str, dict[str, Any]]:
        if self.structures is None or not structure_ids:
            return {}
        return {
            d["structure_id"]: d
            for d in query_in(self.structures, "structure_id", structure_ids, _STRUCTURE_FIELDS)
        }

    def unary_function(self, item: dict[str, Any]) -> dict[str, Any]:
        """The structure-level comparison document (JSON-ready dict)."""
        ref, pred, struct = item["reference"], item["prediction"], item["structure"] or {}
        sid = ref["structure_id"]
        footing = model_footing(pred["model"], ref.get("structure"), item.get("model_bulk"))
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


def _uses_structure(ref: dict[str, Any], pred: dict[str, Any]) -> bool:
    """Whether the comparison of ``pred`` with ``ref`` reads the reference's structure.

    For the MP2020 correction of an ``"mp2020"`` model's energies (:func:`model_footing`),
    and to line up forces recorded in two site orders (:class:`SiteAligner`).
    """
    return convention_of(pred["model"]) == "mp2020" or SiteAligner.differ(pred, ref)


def _ids(ref: dict[str, Any], pred: dict[str, Any], campaigns: list[str]) -> dict[str, Any]:
    """What a structure-level comparison compares: kept on a failed one, to find it."""
    return {
        "structure_id": ref["structure_id"],
        "reference_id": ref["reference_id"],
        "prediction_id": pred["prediction_id"],
        "model_id": pred["model"]["model_id"],
        "functional": ref["functional"],
        "campaigns": campaigns,
    }


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
        ref_f, pred_f = paired_arrays(ref["forces"], pred["forces"])  # converted once
        forces = error_stats(ref_f, pred_f)
        fields |= {"force_mae": forces.mae, "force_rmse": forces.rmse, "force_max": forces.max}
        try:
            fields["force_scale"] = softening_scale(ref_f, pred_f)
        except ValueError:  # all reference forces zero (a relaxed bulk)
            fields["force_scale"] = None
    if ref.get("stress") is not None and pred.get("stress") is not None:
        stress = error_stats(ref["stress"], pred["stress"])
        fields |= {"stress_mae": stress.mae, "stress_rmse": stress.rmse, "stress_max": stress.max}
    return fields
