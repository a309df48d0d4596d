"""The pieces of the Arrow reader: column types, the batch thread, list columns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pyarrow as pa
import pytest

from pesbench.stores.arrow_read import DROPPED, _batches, _lists, column_types


class _Cursor:
    """A raw-batch cursor stand-in: ``n`` batches, then an error if ``fail``."""

    def __init__(self, n: int, fail: bool = False) -> None:
        self.n, self.fail, self.closed, self.sent = n, fail, False, 0

    def __iter__(self) -> Iterator[bytes]:
        for i in range(self.n):
            self.sent += 1
            yield bytes([i])
        if self.fail:
            raise ConnectionError("server gone")

    def close(self) -> None:
        self.closed = True


def test_batches_come_in_order_and_the_cursor_is_closed() -> None:
    cursor = _Cursor(50)
    assert list(_batches(cursor)) == [bytes([i]) for i in range(50)]
    assert cursor.closed


def test_an_error_while_receiving_reaches_the_reader() -> None:
    cursor = _Cursor(3, fail=True)
    got = []
    with pytest.raises(ConnectionError, match="server gone"):
        got.extend(_batches(cursor))
    assert got == [b"\x00", b"\x01", b"\x02"]
    assert cursor.closed


def test_a_reader_that_stops_early_stops_the_thread() -> None:
    cursor = _Cursor(1000)
    batches = _batches(cursor)
    assert next(batches) == b"\x00"
    batches.close()  # the caller failed or had enough: the thread ends, the cursor closes
    assert cursor.closed
    assert cursor.sent < 1000
    assert not [t for t in threading.enumerate() if t.name == "pesbench-query-batches"]


def test_a_reader_that_stops_while_the_queue_is_full_does_not_wait_forever() -> None:
    cursor = _Cursor(5)  # 4 queued, 1 read: the thread waits to queue "end"

    def read_one_and_stop() -> None:
        batches = _batches(cursor)
        next(batches)
        time.sleep(0.3)
        batches.close()

    reader = threading.Thread(target=read_one_and_stop)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert cursor.closed


def test_list_columns_become_python_lists_with_nulls_kept() -> None:
    array = pa.array([["a"], [], None, ["b", "c"], ["d"]], pa.list_(pa.string()))
    column = pa.chunked_array([array.slice(1, 2), array.slice(3)])  # offsets not from 0
    assert _lists(column) == [[], None, ["b", "c"], ["d"]]
    assert _lists(pa.chunked_array([array])) == array.to_pylist()


def test_column_types_follow_the_document_schemas() -> None:
    structure, material = column_types("structure"), column_types("material")
    assert structure["n_atoms"] == pa.int64()
    assert structure["force_scale"] == pa.float64()
    assert structure["role"] == pa.string()  # str | None
    assert structure["functional"] == pa.string()  # a Literal
    assert structure["created_at"] == pa.string()  # stored in JSON form
    assert material["campaigns"] == pa.list_(pa.string())
    assert material["notes"] == pa.list_(pa.string())
    assert not DROPPED & (set(structure) | set(material))
    assert list(structure)[:3] == ["created_at", "comparison_id", "material"]
