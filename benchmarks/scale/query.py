"""Time from query to DataFrame for 10^6 structure-level comparison rows, three ways.

The rows: a real small campaign (``--structures`` EMT-labelled cells imported, predicted
by EMT x 0.8, compared by the builders), its structure-level comparisons copied under
other model ids up to ``--rows`` (as ``run.py`` does). Then, alternating the order over
``--repeats`` rounds, on one private mongod:

- ``before``: what :func:`~pesbench.stores.query.query_comparisons` did before this
  benchmark (every document into one list of dicts, then one DataFrame);
- ``dicts``: what it did before the Arrow reader (DataFrames of 50,000 documents at a
  time, decoded as dicts with Python's garbage collector paused, then sorted);
- ``full``: :func:`~pesbench.stores.query.query_comparisons` now (BSON batches decoded
  into Arrow columns by pymongoarrow, received by a thread meanwhile);
- ``arrow_serial``: the same with the batches received in turn (no thread);
- ``columns``: the same with ``columns=`` the error columns an analysis reads;
- ``cache_first``: ``query_comparisons(..., cache=True)`` with no table kept yet (the rows
  read, the table written to the data directory);
- ``cache_again``: the same query again: MongoDB's ``dbHash`` of the collection, then the
  kept table read (``dbhash`` times the hash alone).

The kept table is checked equal to ``full``'s (``pandas.testing.assert_frame_equal``).

Results: ``results-query.json`` next to this file.

    .venv/bin/python benchmarks/scale/query.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from pesbench.importers import DatasetId, ImportOptions, import_path
from pesbench.memory import gc_paused
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores import LocalMongoServer, arrow_read, find_mongod, query
from pesbench.stores.builders import build_comparisons, collection_store
from pesbench.stores.query import comparison_criteria, query_comparisons

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_common import machine
from run import CHEAP_MODEL, _structure_ids, generate, predict, synthetic_rows

ANALYSIS_COLUMNS = [
    "n_atoms", "energy_per_atom_error", "force_mae", "force_rmse", "force_scale", "stress_mae",
]  # fmt: skip


_DROP = {"_id", "last_updated", "source_stamp", "pesbench_version", "level"}
_GROUP = ["campaign", "material", "formula", "category", "model_id", "functional", "pairing"]


def _frame(docs: list[dict[str, Any]]) -> pd.DataFrame:
    """Documents as dicts to a DataFrame: the query's code before the Arrow reader."""
    rows = [{k: v for k, v in d.items() if k not in _DROP} for d in docs]
    for row in rows:
        row.pop("properties", None)
        row.pop("structure_ids", None)
        if "notes" in row:
            row["notes"] = "; ".join(row["notes"])
    frame = pd.DataFrame(rows)
    first = [c for c in _GROUP if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _before(settings: PesbenchSettings) -> pd.DataFrame:
    store = collection_store("comparisons", settings)
    store.connect()
    try:
        docs = list(store.query(comparison_criteria("structure")))
    finally:
        store.close()
    return _frame(docs)


def _dicts(settings: PesbenchSettings, chunk: int = 50_000) -> pd.DataFrame:
    store = collection_store("comparisons", settings)
    store.connect()
    frames, docs = [], []
    try:
        with gc_paused():
            cursor = store._collection.find(comparison_criteria("structure"), {"_id": 0})
            for doc in cursor.batch_size(10_000):
                docs.append(doc)
                if len(docs) == chunk:
                    frames.append(_frame(docs))
                    docs = []
            frames.append(_frame(docs))
    finally:
        store.close()
    frame = pd.concat(frames, ignore_index=True)
    keys = [c for c in query._SORT_KEYS if c in frame.columns]
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


def _arrow_serial(settings: PesbenchSettings) -> pd.DataFrame:
    threaded = arrow_read._batches
    arrow_read._batches = iter  # type: ignore[assignment]
    try:
        return query_comparisons(settings, "structure")
    finally:
        arrow_read._batches = threaded


def _cache_first(settings: PesbenchSettings) -> pd.DataFrame:
    shutil.rmtree(settings.data_dir / query.CACHE_FOLDER, ignore_errors=True)
    return query_comparisons(settings, "structure", cache=True)


def _dbhash(settings: PesbenchSettings) -> pd.DataFrame:
    store = collection_store("comparisons", settings)
    store.connect()
    try:
        return pd.DataFrame({"md5": [query._content_hash(store._collection)]})
    finally:
        store.close()


VARIANTS = {
    "before": _before,
    "dicts": _dicts,
    "full": lambda s: query_comparisons(s, "structure"),
    "arrow_serial": _arrow_serial,
    "columns": lambda s: query_comparisons(s, "structure", columns=ANALYSIS_COLUMNS),
    "cache_first": _cache_first,
    "cache_again": lambda s: query_comparisons(s, "structure", cache=True),
    "dbhash": _dbhash,
}


def main() -> None:
    """Build the rows, time the variants, write the JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--structures", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results-query.json"))
    args = parser.parse_args()
    out: dict[str, Any] = {"machine": machine("cpu (no GPU used)"), "args": vars(args)}
    names = args.variants.split(",")
    timings: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(folder / "d.extxyz", args.structures, 50)
        server = LocalMongoServer(folder / "mongod", mongod=find_mongod())
        state, _ = server.start()
        try:
            with override_settings(db_uri=state.uri, db_name="q", data_dir=folder) as settings:
                import_path(folder / "d.extxyz", ImportOptions(DatasetId("scale"), "PBE"))
                ids = _structure_ids(settings)
                predict(CHEAP_MODEL, ids, 1000, calculator_kwargs={"scale": 0.8},
                        functional="PBE")  # fmt: skip
                build_comparisons(settings)
                out["rows"] = synthetic_rows(settings, args.rows)
                for repeat in range(args.repeats):
                    for name in names if repeat % 2 == 0 else names[::-1]:
                        start = time.perf_counter()
                        frame = VARIANTS[name](settings)
                        timings[name].append(round(time.perf_counter() - start, 2))
                        out.setdefault("shape", {})[name] = list(frame.shape)
                        del frame
                        print(name, timings[name][-1], flush=True)
                if {"full", "cache_again"} <= set(names):
                    pd.testing.assert_frame_equal(
                        VARIANTS["cache_again"](settings), VARIANTS["full"](settings)
                    )
                    out["cached_table_equals_full"] = True
        finally:
            server.stop()
    out["seconds"] = timings
    out["median_s"] = {k: sorted(v)[len(v) // 2] for k, v in timings.items()}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(json.dumps(out["median_s"]))


if __name__ == "__main__":
    main()
