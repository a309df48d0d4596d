"""Tidy tables (pandas) of the ``comparisons`` collection, and their export.

One row per document: ``level="material"`` (the aggregates, default), ``"structure"``
(per-structure errors), or ``"properties"`` (one row per property of each aggregate).
Filters are exact matches; ``material`` matches the parent's structure_id or its formula.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pandas as pd

from pesbench.errors import PesbenchError
from pesbench.settings import PesbenchSettings
from pesbench.stores.builders import collection_store
from pesbench.stores.references import in_campaign

__all__ = [
    "EXPORT_FORMATS",
    "Level",
    "QueryError",
    "comparison_criteria",
    "export_table",
    "query_comparisons",
    "query_results",
]

Level = Literal["material", "structure", "properties"]
EXPORT_FORMATS = (".csv", ".parquet", ".json")

_GROUP = ["campaign", "material", "formula", "category", "model_id", "functional", "pairing"]
_DROP = {"_id", "last_updated", "source_stamp", "pesbench_version", "level"}


class QueryError(PesbenchError):
    """A query or an export that cannot be done as asked."""


def comparison_criteria(
    level: str = "material",
    *,
    campaign: str | None = None,
    category: str | None = None,
    material: str | None = None,
    model: str | None = None,
    functional: str | None = None,
    pairing: str | None = None,
) -> dict[str, Any]:
    """The Mongo criteria of a query of the ``comparisons`` collection."""
    criteria: dict[str, Any] = {"level": "material" if level == "properties" else level}
    either: list[dict[str, Any]] = []
    if campaign is not None:
        either.append(in_campaign(campaign))
    for key, value in (
        ("category", category),
        ("model_id", model),
        ("functional", functional),
        ("pairing", pairing),
    ):
        if value is not None:
            criteria[key] = value
    if material is not None:
        either.append({"$or": [{"material": material}, {"formula": material}]})
    if either:
        criteria["$and"] = either
    return criteria


def _frame(docs: list[dict[str, Any]], level: str) -> pd.DataFrame:
    if level == "properties":
        rows = [
            {**{k: d.get(k) for k in _GROUP}, **prop}
            for d in docs
            for prop in d.get("properties", [])
        ]
        return pd.DataFrame(
            rows, columns=[*_GROUP, "name", "label", "unit", "reference", "model", "error", "ratio"]
        )
    rows = [{k: v for k, v in d.items() if k not in _DROP} for d in docs]
    for row in rows:
        if "properties" in row:
            row["n_properties"] = len(row.pop("properties"))
        if "structure_ids" in row:
            row.pop("structure_ids")
        if "notes" in row:
            row["notes"] = "; ".join(row["notes"])
    frame = pd.DataFrame(rows)
    first = [c for c in _GROUP if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def query_comparisons(
    settings: PesbenchSettings | None = None,
    level: Level = "material",
    **filters: str | None,
) -> pd.DataFrame:
    """A tidy table of comparisons.

    Parameters
    ----------
    settings
        Which database; default the process settings.
    level
        ``"material"``, ``"structure"`` or ``"properties"``.
    **filters
        ``campaign``, ``category``, ``material``, ``model``, ``functional``, ``pairing``.

    Returns
    -------
    pandas.DataFrame
        Sorted by its grouping columns; energies eV/atom, forces eV/Å, stresses GPa.
    """
    if level not in ("material", "structure", "properties"):
        raise QueryError(f"unknown level {level!r}: material, structure or properties")
    store = collection_store("comparisons", settings)
    store.connect()
    try:
        docs = list(store.query(comparison_criteria(level, **filters)))
    finally:
        store.close()
    frame = _frame(docs, level)
    keys = [
        c
        for c in (
            "campaign",
            "material",
            "category",
            "model_id",
            "functional",
            "structure_id",
            "name",
            "label",
        )
        if c in frame.columns
    ]
    return (
        frame.sort_values(keys, na_position="first").reset_index(drop=True) if len(frame) else frame
    )


def query_results(
    structure_ids: list[str],
    collection: Literal["references", "predictions"],
    settings: PesbenchSettings | None = None,
    criteria: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Raw documents (energies, forces) of ``structure_ids`` from references or predictions."""
    store = collection_store(collection, settings)
    store.connect()
    try:
        return list(
            store.query(
                {"structure_id": {"$in": structure_ids}, "status": "success", **(criteria or {})},
                properties=[
                    "structure_id",
                    "functional",
                    "model",
                    "energy",
                    "n_atoms",
                    "forces",
                    "reference_id",
                    "prediction_id",
                    "composition",
                    "structure",
                ],
            )
        )
    finally:
        store.close()


def export_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as CSV, Parquet or JSON (records), chosen by the suffix of ``path``."""
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise QueryError(f"{path}: unknown format; use one of {', '.join(EXPORT_FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".json":
        frame.to_json(path, orient="records", indent=1, force_ascii=False)
    else:
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise QueryError(f"Parquet needs pyarrow (pip install pyarrow): {exc}") from None
    return path
