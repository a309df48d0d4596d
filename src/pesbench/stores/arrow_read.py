"""Comparisons read as Arrow tables: 10^6 structure-level rows into a DataFrame in seconds.

pymongoarrow decodes MongoDB's BSON batches straight into typed Arrow columns, without a
Python dict per document (``benchmarks/scale``: 38 s for 10^6 rows as dicts). The column
types are those of the stored documents, which the builders write as
``model_dump(mode="json")`` of :class:`~pesbench.schemas.comparison.StructureComparisonDoc`
and :class:`~pesbench.schemas.comparison.MaterialComparisonDoc`: strings (also the
Literals and the ``created_at`` time stamp), 64-bit integers and floats, lists of strings.
A column's dtype is therefore the same whatever rows a query selects: a float column with
no value is float64 NaN, never an object column of None.

The server's batches are received by a thread while the previous ones are decoded, so the
server prepares the next batch meanwhile.
"""

from __future__ import annotations

import datetime
import queue
import threading
import types
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any, Literal

import pandas as pd
import pyarrow as pa

from pesbench.errors import PesbenchError
from pesbench.schemas.base import PesbenchDoc
from pesbench.schemas.comparison import MaterialComparisonDoc, StructureComparisonDoc

__all__ = ["BATCH_DOCUMENTS", "DROPPED", "ArrowReadError", "column_types", "read_frame"]

DROPPED = frozenset(
    {"_id", "last_updated", "source_stamp", "pesbench_version", "level", "properties",
     "structure_ids"}
)  # fmt: skip
"""Fields of a comparison not shown as columns: bookkeeping, and the unrelaxed structures'
``properties`` (:func:`~pesbench.stores.query.query_properties` has the relaxed ones)."""

_MODELS: dict[str, type[PesbenchDoc]] = {
    "structure": StructureComparisonDoc,
    "material": MaterialComparisonDoc,
}
_SCALARS: dict[Any, pa.DataType] = {
    str: pa.string(), datetime.datetime: pa.string(), int: pa.int64(), float: pa.float64(),
    bool: pa.bool_(),
}  # fmt: skip
BATCH_DOCUMENTS = 10_000
"""Documents asked of the server per batch (a batch stops at 16 MB before that)."""
_QUEUED_BATCHES = 4
"""Batches (each up to 16 MB) received ahead of the one being decoded."""


class ArrowReadError(PesbenchError):
    """Stored comparisons that do not have the types of their document schema."""


def _arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of a document field's JSON form (``model_dump(mode="json")``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return _arrow_type(inner)
    if origin is Literal:
        return pa.string()
    if origin is list:
        return pa.list_(_arrow_type(args[0]))
    return _SCALARS[annotation]


@cache
def column_types(level: str) -> dict[str, pa.DataType]:
    """Column name to Arrow type of a ``level`` comparison's table, in document order."""
    return {
        name: _arrow_type(field.annotation)
        for name, field in _MODELS[level].model_fields.items()
        if name not in DROPPED
    }


def _batches(cursor: Any) -> Iterator[bytes]:
    """The cursor's raw batches, received by a thread ahead of the caller."""
    received: queue.Queue[Any] = queue.Queue(_QUEUED_BATCHES)
    stop = threading.Event()
    end = object()

    def receive() -> None:
        try:
            for batch in cursor:
                while not stop.is_set():
                    try:
                        received.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            received.put(end)
        except BaseException as exc:  # handed to the caller, raised there
            received.put(exc)
        finally:
            cursor.close()

    thread = threading.Thread(target=receive, name="pesbench-query-batches", daemon=True)
    thread.start()
    try:
        while (item := received.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _lists(column: pa.ChunkedArray) -> list[list[Any] | None]:
    """A list column as Python lists (Arrow's ``to_pylist`` is 7x slower at 10^6 rows)."""
    array = column.combine_chunks()
    values = array.flatten().to_pylist()
    offsets = array.offsets.to_numpy()
    start = offsets[0]
    lists: list[list[Any] | None] = [
        values[a - start : b - start]
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    ]
    if array.null_count:
        for i in array.is_null().to_numpy(zero_copy_only=False).nonzero()[0].tolist():
            lists[i] = None
    return lists


def read_frame(
    collection: Any, criteria: dict[str, Any], level: str, columns: list[str] | None = None
) -> pd.DataFrame:
    """The ``level`` comparisons matching ``criteria`` as a DataFrame, typed by the schema.

    ``columns``: only these (known) fields, in this order; default every field. Lists stay
    Python lists (``notes``: joined by ``"; "``).

    Raises
    ------
    ArrowReadError
        A stored value does not have its field's type.
    """
    from pymongoarrow.context import PyMongoArrowContext
    from pymongoarrow.schema import Schema

    known = column_types(level)
    wanted = {name: known[name] for name in (columns or known)}
    context = PyMongoArrowContext(Schema(wanted), codec_options=collection.codec_options)
    # every field: no projection (the server sends its stored documents, 1.5x faster)
    projection = dict.fromkeys(wanted, 1) if columns else None
    cursor = collection.find_raw_batches(criteria, projection, batch_size=BATCH_DOCUMENTS)
    try:
        for batch in _batches(cursor):
            context.process_bson_stream(batch)
    except TypeError as exc:
        raise ArrowReadError(
            f"{level}-level comparisons with a value of another type than their schema's "
            f"({exc}): not written by this version's builders; drop the comparisons "
            "collection and rebuild them (pesbench query --build)"
        ) from None
    table = context.finish()
    frame = table.to_pandas()
    for name, kind in wanted.items():
        if pa.types.is_list(kind):
            frame[name] = _lists(table.column(name))
    if "notes" in frame.columns:
        frame["notes"] = ["; ".join(n) if n is not None else None for n in frame["notes"]]
    return frame
