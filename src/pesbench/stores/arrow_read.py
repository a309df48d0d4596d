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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pesbench.errors import PesbenchError
from pesbench.memory import gc_paused
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
BATCH_DOCUMENTS = 1000
"""Documents asked of the server per batch (about 1 MB). Decoding a batch holds the GIL,
which the receiving thread needs: small batches let it receive between them (10^6 rows:
about 10 s with batches of 1,000, 10-14 s with 10,000, 17-20 s without the thread)."""
_QUEUED_BATCHES = 4
"""Batches received ahead of the one being decoded."""


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

    def put(item: Any) -> bool:
        """Queue ``item`` unless the caller stopped reading (False then)."""
        while not stop.is_set():
            try:
                received.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def receive() -> None:
        try:
            for batch in cursor:
                if not put(batch):
                    return
            put(end)
        except BaseException as exc:  # handed to the caller, raised there
            put(exc)
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
    """A list column as Python lists (Arrow's ``to_pylist`` is 7x slower at 10^6 rows).

    The values are decoded once per distinct value (a campaign name, not 10^6 copies).
    """
    array = column.combine_chunks()
    encoded = pc.dictionary_encode(array.flatten())
    words = encoded.dictionary.to_pylist()
    values = [words[i] for i in encoded.indices.to_numpy(zero_copy_only=False).tolist()]
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
    collection: Any,
    criteria: dict[str, Any],
    level: str,
    columns: list[str] | None = None,
    *,
    first: Sequence[str] = (),
    sort: Sequence[str] = (),
) -> pd.DataFrame:
    """The ``level`` comparisons matching ``criteria`` as a DataFrame, typed by the schema.

    Parameters
    ----------
    collection
        The ``comparisons`` collection (pymongo).
    criteria
        Mongo criteria.
    level
        ``"structure"`` or ``"material"``: the document schema.
    columns
        Only these (known) fields; default every field.
    first
        Columns put first, those that the table has, in this order; the others follow in
        the schema's order.
    sort
        The rows sorted by these columns (those that the table has), missing values
        first, in Arrow (faster than pandas at 10^6 rows).

    Returns
    -------
    pandas.DataFrame
        Lists as Python lists (``notes``: joined by ``"; "``).

    Raises
    ------
    ArrowReadError
        A stored value does not have its field's type.
    """
    known = column_types(level)
    names = list(columns or known)
    names = [c for c in first if c in names] + [c for c in names if c not in first]
    wanted = {name: known[name] for name in names}
    # every field: no projection (the server sends its stored documents, 1.5x faster)
    projection = dict.fromkeys(wanted, 1) if columns else None
    table = _read_table(collection, criteria, level, wanted, projection)
    keys = [(name, "ascending", "at_start") for name in sort if name in wanted]
    if keys and table.num_rows > 1:
        table = _take(table, pc.sort_indices(table, sort_keys=keys))
    frame = table.to_pandas()
    with gc_paused():  # 10^6 lists: the collector would walk them again and again
        for name, kind in wanted.items():
            if pa.types.is_list(kind):
                frame[name] = _lists(table.column(name))
        if "notes" in frame.columns:
            frame["notes"] = ["; ".join(n) if n is not None else None for n in frame["notes"]]
    return frame


def _take(table: pa.Table, indices: pa.Array) -> pa.Table:
    """``table.take(indices)``, its columns gathered by threads (Arrow's take is serial)."""
    with ThreadPoolExecutor(pa.cpu_count()) as pool:
        columns = list(pool.map(lambda column: column.take(indices), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)


def _read_table(
    collection: Any,
    criteria: dict[str, Any],
    level: str,
    wanted: dict[str, pa.DataType],
    projection: dict[str, int] | None,
) -> pa.Table:
    """The matching documents decoded into an Arrow table of the ``wanted`` columns."""
    from pymongoarrow.context import PyMongoArrowContext
    from pymongoarrow.schema import Schema

    context = PyMongoArrowContext(Schema(wanted), codec_options=collection.codec_options)
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
    return context.finish()
