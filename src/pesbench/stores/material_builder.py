"""Material-level comparisons: one aggregate per (material, category, model, functional).

See :mod:`pesbench.stores.builders` for how the two builders fit together.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
from maggma.core import Store

from pesbench.analysis.category import Result, category_properties
from pesbench.analysis.metrics import error_stats, stack_components
from pesbench.analysis.softening import fit_softening, one_point_correction
from pesbench.schemas.comparison import MaterialComparisonDoc, PropertyRow, material_comparison_id
from pesbench.schemas.ids import site_order
from pesbench.schemas.structure import StructureDoc
from pesbench.schemas.structure_dict import structure_from_dict
from pesbench.stores.builder_common import (
    FAILED,
    LAST_UPDATED,
    _CountingBuilder,
    _stamp,
    failed_item,
)
from pesbench.stores.site_alignment import SiteAligner

__all__ = ["MaterialComparisonBuilder"]

logger = logging.getLogger(__name__)

_Doc = dict[str, Any]
_Pending = tuple[tuple[str, ...], _Doc]  # a group to rebuild: its key, its item


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
    **kwargs
        maggma's ``Builder`` arguments (``chunk_size``).
    """

    level = "material"

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
        """Groups whose newest member or whose members differ from their aggregate's.

        maggma's ``GroupBuilder`` rule, on members this package's builder stamps itself:
        an aggregate's ``last_updated`` is its newest member's; its ``source_stamp``, a hash
        of its members' ids, catches a member gone (or failed), which makes none newer.
        Aggregates of groups left with no member are removed.
        """
        aligner = SiteAligner(self.references, self.structures)
        groups = self._groups()
        lu = LAST_UPDATED
        existing = {
            d["comparison_id"]: (d.get("source_stamp"), d.get(lu))
            for d in self.comparisons.query(
                {"level": "material"}, properties=["comparison_id", "source_stamp", lu]
            )
        }
        self.stored_ids = set(existing)
        self._remove_orphans(set(existing) - {material_comparison_id(*k) for k in groups})
        pending: list[_Pending] = []
        for key, members in sorted(groups.items()):
            cid = material_comparison_id(*key)
            rows = [members[sid] for sid in sorted(members)]
            stamp = _stamp(*sorted(m["comparison_id"] for m in rows))
            newest = max((m[lu] for m in rows if m.get(lu) is not None), default=None)
            if existing.get(cid) == (stamp, newest):
                continue
            item = {
                "comparison_id": cid,
                "source_stamp": stamp,
                "last_updated": newest,
                "ids": {
                    **dict(zip(_GROUP_FIELDS, key, strict=True)),
                    "campaigns": sorted({c for r in rows for c in r.get("campaigns") or []}),
                },
                "members": rows,
            }
            pending.append((key, item))
        yield from self._with_inputs(pending, aligner)

    def _with_inputs(self, pending: list[_Pending], aligner: SiteAligner) -> Iterator[_Doc]:
        """The items of ``pending`` (in order) with their inputs (:meth:`_inputs`).

        Forces read :data:`FETCH_MEMBERS` members at a time; structures only of stored materials.
        """
        materials = set(self.structures.distinct("parent_id") if self.structures else ())
        for batch in _batches(pending):
            forces = self._force_documents([item for _, item in batch])
            for key, item in batch:
                try:
                    structures = self._structures(*key[:2]) if key[0] in materials else []
                    inputs = self._inputs(item["members"], forces, structures, aligner)
                except Exception as exc:  # unusable structures: this group fails, not the build
                    yield failed_item(item, exc)
                    continue
                yield item | inputs

    def _groups(self) -> dict[tuple[str, ...], dict[str, dict[str, Any]]]:
        """The successful structure-level comparisons by group, then by structure.

        A structure with several references counts once, with the largest reference_id.
        """
        groups: dict[tuple[str, ...], dict[str, dict[str, Any]]] = defaultdict(dict)
        for doc in self.comparisons.query(
            {"level": "structure", "status": {"$ne": FAILED}},
            properties=[*_MEMBER_FIELDS, LAST_UPDATED],
        ):
            key = tuple(doc[f] for f in _GROUP_FIELDS)
            current = groups[key].get(doc["structure_id"])
            if current is None or doc["reference_id"] > current["reference_id"]:
                groups[key][doc["structure_id"]] = doc
        return groups

    def _remove_orphans(self, comparison_ids: set[str]) -> None:
        """Remove the aggregates ``comparison_ids`` (their groups have no member left)."""
        if comparison_ids:
            logger.info("removing %d aggregates without members", len(comparison_ids))
            self.comparisons.remove_docs(
                {"level": "material", "comparison_id": {"$in": sorted(comparison_ids)}}
            )

    def _force_documents(self, items: list[_Doc]) -> tuple[dict[str, _Doc], dict[str, _Doc]]:
        """The references and predictions of the members of ``items``, by their ids."""
        members = [m for item in items for m in item["members"]]
        refs = {
            r["reference_id"]: r
            for r in self.references.query(
                {"reference_id": {"$in": sorted({m["reference_id"] for m in members})}},
                properties=[*_FORCE_FIELDS, "reference_id"],
            )
        }
        preds = {
            p["prediction_id"]: p
            for p in self.predictions.query(
                {"prediction_id": {"$in": sorted({m["prediction_id"] for m in members})}},
                properties=[*_FORCE_FIELDS, "prediction_id"],
            )
        }
        return refs, preds

    @staticmethod
    def _inputs(
        rows: list[_Doc],
        forces: tuple[dict[str, _Doc], dict[str, _Doc]],
        structures: list[_Doc],
        aligner: SiteAligner,
    ) -> _Doc:
        """The members' reference and prediction forces (in one site order), and structures.

        ``forces``: :meth:`_force_documents` of (at least) ``rows``, by id; taken by
        structure id, ids sorted (as the unique index returns them to a query of ``rows``).
        """
        refs, preds = (
            {docs[i]["structure_id"]: docs[i] for i in sorted(m[key] for m in rows) if i in docs}
            for docs, key in zip(forces, ("reference_id", "prediction_id"), strict=True)
        )
        refs, preds = _in_one_order(refs, preds, structures, aligner)
        return {"references": refs, "predictions": preds, "structures": structures}

    def _structures(self, material: str, category: str) -> list[dict[str, Any]]:
        if self.structures is None:
            return []
        return list(self.structures.query({"parent_id": material, "category": category}))

    def unary_function(self, item: dict[str, Any]) -> dict[str, Any]:
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

FETCH_MEMBERS = 1000
"""Members of groups whose references and predictions are read in one query each."""


def _batches(pending: list[_Pending]) -> Iterator[list[_Pending]]:
    """``pending`` in order, in batches of about :data:`FETCH_MEMBERS` members."""
    batch: list[_Pending] = []
    size = 0
    for entry in pending:
        batch.append(entry)
        size += len(entry[1]["members"])
        if size >= FETCH_MEMBERS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


_GROUP_FIELDS = ("material", "category", "model_id", "functional")
"""What a material-level comparison groups by (its ``material_comparison_id``)."""

_MEMBER_FIELDS = [
    *_GROUP_FIELDS, "comparison_id", "structure_id", "reference_id", "prediction_id",
    "formula", "model_functional", "reference_code", "pairing", "campaign", "campaigns",
    "energy_per_atom_error", "energy_referenced_error", "stress_mae",
]  # fmt: skip
"""The fields of a structure-level comparison its aggregate reads."""


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
            "site_order": site_order(structure_from_dict(d["structure"])),
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
