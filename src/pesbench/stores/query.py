"""Tidy tables (pandas) of the ``comparisons`` and ``properties`` collections, and their export.

:func:`query_comparisons`: one row per comparison, ``level="material"`` (the aggregates,
default) or ``"structure"`` (per-structure errors). :func:`query_properties`: one row per
relaxed property of a model paired with the DFT value of its training functional
(:mod:`pesbench.analysis.property_errors`). Filters are exact matches; ``material`` matches
the parent's structure_id or its formula. Comparisons that failed to build
(``status: "failed"``) are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pymongo.errors import PyMongoError

from pesbench import __version__
from pesbench.analysis.property_errors import PropertyPair, pair_properties, property_error_rows
from pesbench.errors import PesbenchError
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.arrow_read import ArrowReadError, column_types, read_frame
from pesbench.stores.builders import FAILED, collection_store
from pesbench.stores.collections import COMPARISONS
from pesbench.stores.properties import PropertyStore
from pesbench.stores.references import in_campaign

__all__ = [
    "EXPORT_FORMATS",
    "Level",
    "QueryError",
    "comparison_criteria",
    "export_table",
    "property_criteria",
    "query_comparisons",
    "query_properties",
    "query_property_pairs",
]

Level = Literal["material", "structure"]
EXPORT_FORMATS = (".csv", ".parquet", ".json")

_GROUP = ["campaign", "material", "formula", "category", "model_id", "functional", "pairing"]
_SORT_KEYS = [
    "campaign", "material", "category", "model_id", "functional", "structure_id", "name", "label"
]  # fmt: skip
_KEY_COLUMNS = ["campaign", "material", "category", "model_id", "functional", "structure_id"]
"""Kept whatever ``columns`` asks for: a row is read by them."""


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
    """The Mongo criteria of a query of the ``comparisons`` collection (failed ones left out)."""
    criteria: dict[str, Any] = {"level": level, "status": {"$ne": FAILED}}
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


def _load_frame(
    collection: Any, criteria: dict[str, Any], level: str, columns: list[str] | None
) -> pd.DataFrame:
    """The documents matching ``criteria``, grouping columns first, sorted (:mod:`.arrow_read`)."""
    try:
        return read_frame(collection, criteria, level, columns, first=_GROUP, sort=_SORT_KEYS)
    except ArrowReadError as exc:
        raise QueryError(str(exc)) from None


_TABLE_FORMAT = 2
"""How the tables are built, part of a kept table's key: 2, typed by the schema (Arrow)."""

CACHE_FOLDER = "query-cache"
"""Under the data directory: tables of :func:`query_comparisons` ``cache=True``."""


def _content_hash(collection: Any) -> str | None:
    """MongoDB's own hash of the collection's content (``dbHash``); None where refused.

    Any insert, update or delete changes it. The server reads every document for it (a few
    seconds for 10^6 comparisons) and holds writes to the database meanwhile; a sharded
    cluster (mongos) does not run it.
    """
    try:
        reply = collection.database.command("dbHash", collections=[collection.name])
    except PyMongoError:
        return None
    value = reply.get("collections", {}).get(collection.name)
    return str(value) if value else None


def _cache_path(
    settings: PesbenchSettings, collection: Any, criteria: dict[str, Any], columns: list[str] | None
) -> Path | None:
    """``comparisons-<database>-<content>-<query>.pkl`` in the data directory's cache.

    None where the server gives no content hash (:func:`_content_hash`): nothing cached.
    """
    content = _content_hash(collection)
    if content is None:
        return None
    database = hashlib.sha256(f"{settings.db_uri}|{settings.db_name}".encode()).hexdigest()[:16]
    key_of = [criteria, columns, __version__, pd.__version__, _TABLE_FORMAT]
    query = json.dumps(key_of, sort_keys=True)
    key = hashlib.sha256(query.encode()).hexdigest()[:24]
    return settings.data_dir / CACHE_FOLDER / f"comparisons-{database}-{content}-{key}.pkl"


def _write_cache(path: Path, frame: pd.DataFrame) -> None:
    """Write ``path`` atomically; drop the tables of the database's earlier contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _, database, content, _ = path.name.split("-")
    for old in path.parent.glob(f"comparisons-{database}-*.pkl"):
        if old.name.split("-")[2] != content:
            old.unlink(missing_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    frame.to_pickle(partial, protocol=5)
    os.replace(partial, path)


def _with_keys(level: str, columns: list[str]) -> list[str]:
    """``columns`` after the key columns that it lacks; unknown fields are an error."""
    known = column_types(level)
    keys = [c for c in _KEY_COLUMNS if c in known and c not in columns]
    wanted = list(dict.fromkeys([*keys, *columns]))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise QueryError(
            f"no {level}-level field {', '.join(map(repr, unknown))}; the fields: "
            + ", ".join(known)
        )
    return wanted


def query_comparisons(
    settings: PesbenchSettings | None = None,
    level: Level = "material",
    columns: list[str] | None = None,
    *,
    cache: bool = False,
    **filters: str | None,
) -> pd.DataFrame:
    """A tidy table of comparisons.

    Parameters
    ----------
    settings
        Which database; default the process settings.
    level
        ``"material"`` or ``"structure"`` (relaxed properties: :func:`query_properties`).
    columns
        Only these fields (with the grouping columns): a table of 10^6 structure-level rows
        comes much faster with the few columns an analysis reads (``benchmarks/scale``).
        Default: every field.
    cache
        Keep the table in the data directory, returned again while MongoDB's ``dbHash`` of
        the collection is unchanged (:func:`_content_hash`; none on a sharded cluster).
    **filters
        ``campaign``, ``category``, ``material``, ``model``, ``functional``, ``pairing``.

    Returns
    -------
    pandas.DataFrame
        Sorted by its grouping columns; energies eV/atom, forces eV/Å, stresses GPa. The
        energy errors: ``energy_referenced_*`` of energies referenced to each side's own
        relaxed parent bulk (empty where a side has none); at the material level
        ``energy_referencing`` says whether those cover every structure
        (``"relaxed_bulk"``) or ``energy_mae_centered`` (mean offset removed) is the one to
        read (``"mean_offset"``). ``energy_per_atom_error`` and ``energy_mae`` are of
        absolute totals, which differ by the codes' energy zeros.
    """
    if level == "properties":
        raise QueryError("properties are compared after relaxation: use query_properties")
    if level not in ("material", "structure"):
        raise QueryError(f"unknown level {level!r}: material or structure")
    if columns is not None:
        columns = _with_keys(level, columns)
    settings = settings or get_settings()
    criteria = comparison_criteria(level, **filters)
    store = collection_store(COMPARISONS, settings)
    store.connect()
    try:
        cached = _cache_path(settings, store._collection, criteria, columns) if cache else None
        if cached is not None and cached.is_file():
            return pd.read_pickle(cached)  # written by this function, in the user's data dir
        frame = _load_frame(store._collection, criteria, level, columns)
    finally:
        store.close()
    if cached is not None:
        _write_cache(cached, frame)
    return frame


def property_criteria(
    *,
    campaign: str | None = None,
    category: str | None = None,
    material: str | None = None,
) -> dict[str, Any]:
    """The Mongo criteria of a query of the ``properties`` collection (both sides)."""
    criteria: dict[str, Any] = {} if category is None else {"category": category}
    either: list[dict[str, Any]] = []
    if campaign is not None:
        either.append(in_campaign(campaign))
    if material is not None:
        either.append({"$or": [{"material": material}, {"bulk_id": material}]})
    if either:
        criteria["$and"] = either
    return criteria


def query_property_pairs(
    settings: PesbenchSettings | None = None,
    *,
    model: str | None = None,
    functional: str | None = None,
    **filters: str | None,
) -> list[PropertyPair]:
    """Relaxed property values of models paired with the DFT values they are compared with.

    Parameters
    ----------
    settings
        Which database; default the process settings.
    model
        Only this model (its id).
    functional
        Only DFT values at this functional.
    **filters
        ``campaign``, ``category``, ``material`` (of both sides' documents).
    """
    with PropertyStore(settings) as store:
        docs = list(store.query(property_criteria(**filters)))
    pairs = pair_properties(
        [d for d in docs if d.side_kind == "dft"], [d for d in docs if d.side_kind == "model"]
    )
    return [
        p
        for p in pairs
        if (model is None or p.model.side == model)
        and (functional is None or p.dft.functional == functional)
    ]


def query_properties(
    settings: PesbenchSettings | None = None, **filters: str | None
) -> pd.DataFrame:
    """One row per relaxed property pair: both values, error, relative error, n.

    Columns :data:`~pesbench.analysis.property_errors.ROW_COLUMNS`; the filters those of
    :func:`query_property_pairs`. Rows sorted by category, material, name, label, model.
    """
    return property_error_rows(query_property_pairs(settings, **filters))


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
