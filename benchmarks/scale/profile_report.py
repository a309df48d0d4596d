"""Profile of the report and the builders at scale, before and after, on one database.

Issue 16 ("scale"). A private mongod holds two databases built once:

- ``build``: ``--structures`` EMT-labelled cells (``run.py``'s generator), imported, predicted
  by EMT x 0.8 (``ase:pesbench.testing.emt.ScaledEMT``), and the same predictions copied
  under a second model that records the ``mp2020`` energy convention (a CHGNet stand-in:
  the builder removes pymatgen's MP2020 correction of every structure for it);
- ``report``: ``build`` with its comparisons, then every reference, EMT prediction and
  structure-level comparison copied under new structure ids until the campaign has
  ``--report-structures`` structures (material-level rows: those of the originals), and
  ``--other-rows`` structure-level rows of another campaign (as ``run.py``'s query stage
  leaves them next to the report's).

Then, ``--repeats`` times, each source tree (``--before``: a ``src`` folder, e.g.
``git archive <commit> src | tar -x -C /tmp/before``; and this checkout's), in alternating
order, runs in a fresh process:

- ``write_report`` of the campaign (``build=False``) on ``report``, its ``comparisons``
  indexed as that code's builders index them: seconds, and a hash of the CSV tables and of
  the page (its time stamp blanked);
- ``build_comparisons`` on ``build`` from an empty ``comparisons``: seconds, structures/s and
  a hash of every stored comparison (``last_updated`` left out).

``--profile`` adds a cProfile of each stage (this checkout's code), top functions to stdout.
Results (medians): ``--out`` (default ``results-report-profile.json``).

    nice -n 19 .venv/bin/python benchmarks/scale/profile_report.py --before /tmp/before/src
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CAMPAIGN = "scale"
CHEAP_MODEL = "ase:pesbench.testing.emt.ScaledEMT"
MP2020_MODEL = "emt-as-mp2020"
"""The second model: EMT x 0.8's predictions, recorded as MP2020-corrected energies."""


# ---------------------------------------------------------------- the databases (once)


def _copy_collections(client: Any, source: str, target: str) -> None:
    for name in client[source].list_collection_names():
        client[source][name].aggregate([{"$match": {}}, {"$out": {"db": target, "coll": name}}])


def _copy_indexes(client: Any, source: str, target: str) -> None:
    """The indexes of ``source``'s collections on ``target``'s (``$out`` copies none)."""
    for name in client[source].list_collection_names():
        for index in client[source][name].list_indexes():
            if index["name"] != "_id_":
                options = {k: index[k] for k in ("unique", "sparse") if k in index}
                client[target][name].create_index(list(index["key"].items()), **options)


def _mp2020_copies(db: Any) -> int:
    """The EMT predictions again, under a model that records the ``mp2020`` convention."""
    docs = []
    for doc in db.predictions.find({"model.model_id": CHEAP_MODEL}, {"_id": 0}):
        doc["prediction_id"] = f"{doc['prediction_id']}-mp"
        doc["model"] = {**doc["model"], "model_id": MP2020_MODEL, "energy_convention": "mp2020"}
        docs.append(doc)
    if docs:
        db.predictions.insert_many(docs, ordered=False)
    return len(docs)


def _multiply(db: Any, structures: int) -> int:
    """Copy references, EMT predictions and their comparisons until ``structures`` exist."""
    refs = list(db.references.find({}, {"_id": 0}))
    preds = {d["structure_id"]: d for d in db.predictions.find(
        {"model.model_id": CHEAP_MODEL}, {"_id": 0})}  # fmt: skip
    comps = list(db.comparisons.find({"level": "structure", "model_id": CHEAP_MODEL}, {"_id": 0}))
    have, copy = len(refs), 0
    while have < structures:
        copy += 1
        tag = f"c{copy}"
        new_refs, new_preds, new_comps = [], [], []
        for ref in refs[: structures - have]:
            sid = ref["structure_id"]
            new_refs.append(ref | {"structure_id": sid + tag,
                                   "reference_id": f"{ref['reference_id']}#{tag}"})  # fmt: skip
            pred = preds.get(sid)
            if pred is not None:
                pid = f"{pred['prediction_id']}#{tag}"
                new_preds.append(pred | {"structure_id": sid + tag, "prediction_id": pid})
        copied = {d["structure_id"] for d in new_refs}
        for comp in comps:
            if comp["structure_id"] + tag in copied:
                new_comps.append(comp | {
                    "comparison_id": f"{comp['comparison_id']}#{tag}",
                    "structure_id": comp["structure_id"] + tag,
                    "reference_id": f"{comp['reference_id']}#{tag}",
                    "prediction_id": f"{comp['prediction_id']}#{tag}",
                })  # fmt: skip
        for coll, docs in ((db.references, new_refs), (db.predictions, new_preds),
                           (db.comparisons, new_comps)):  # fmt: skip
            for start in range(0, len(docs), 10_000):
                coll.insert_many(docs[start : start + 10_000], ordered=False)
        have += len(new_refs)
    return have


def setup(args: argparse.Namespace, uri: str, folder: Path) -> dict[str, Any]:
    """Both databases, built once per ``folder`` (a marker file says they are)."""
    from pymongo import MongoClient

    marker = folder / "databases.json"
    if marker.exists():
        with MongoClient(uri) as client:
            _copy_indexes(client, "build", "report")
        return json.loads(marker.read_text())
    sys.path.insert(0, str(HERE))
    from run import generate, predict  # run.py's generator and prediction path

    from pesbench.importers import DatasetId, ImportOptions, import_path
    from pesbench.settings import override_settings
    from pesbench.stores.builders import build_comparisons

    info: dict[str, Any] = {}
    data = folder / "cells.extxyz"
    start = time.perf_counter()
    info["dataset"] = generate(data, args.structures, args.materials)
    with override_settings(db_uri=uri, db_name="build", data_dir=folder / "data") as settings:
        import_path(data, ImportOptions(DatasetId(CAMPAIGN), "PBE"), settings)
        with MongoClient(uri) as client:
            ids = sorted(client.build.references.distinct("structure_id"))
        predict(CHEAP_MODEL, ids, 2000, calculator_kwargs={"scale": 0.8}, functional="PBE")
        with MongoClient(uri) as client:
            info["mp2020_predictions"] = _mp2020_copies(client.build)
            build_comparisons(settings)
            _copy_collections(client, "build", "report")
            _copy_indexes(client, "build", "report")
            client.build.comparisons.delete_many({})
            info["report_structures"] = _multiply(client.report, args.report_structures)
            info["report_rows"] = client.report.comparisons.count_documents({"level": "structure"})
            info["other_campaign_rows"] = _other_rows(client.report, args.other_rows)
    info["setup_s"] = round(time.perf_counter() - start, 1)
    marker.write_text(json.dumps(info, indent=1))
    return info


# ---------------------------------------------------------------- one measurement (a process)


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        text = path.read_bytes()
        if path.suffix == ".html":  # the time stamp of the page
            text = re.sub(rb"\d{4}-\d\d-\d\d \d\d:\d\d UTC", b"<stamp>", text)
        h.update(path.name.encode() + hashlib.sha256(text).digest())
    return h.hexdigest()[:16]


def _comparisons_digest(uri: str) -> tuple[str, int]:
    from bson import json_util
    from pymongo import MongoClient

    h = hashlib.sha256()
    with MongoClient(uri) as client:
        docs = client.build.comparisons.find({}, {"_id": 0, "last_updated": 0, "created_at": 0})
        n = 0
        for doc in sorted(docs, key=lambda d: d["comparison_id"]):
            h.update(json_util.dumps(doc, sort_keys=True).encode())
            n += 1
    return h.hexdigest()[:16], n


def _builders_indexes(comparisons: Any) -> list[str]:
    """The indexes this code's builders give ``comparisons`` (others dropped): the report
    runs after them (``build=True``), so it reads with the indexes they made."""
    from pesbench.stores.builder_common import COMPARISON_INDEXES

    wanted = {f"{field}_1" for field in ("comparison_id", *COMPARISON_INDEXES)}
    for index in comparisons.list_indexes():
        if index["name"] not in wanted | {"_id_"}:
            comparisons.drop_index(index["name"])
    for field in COMPARISON_INDEXES:
        comparisons.create_index(field)
    return sorted(i["name"] for i in comparisons.list_indexes())


def _other_rows(db: Any, rows: int) -> int:
    """Structure-level rows of another campaign (``run.py``'s query stage): ``rows`` copies."""
    base = list(db.comparisons.find({"level": "structure", "campaigns": CAMPAIGN}, {"_id": 0}))
    have, copy = 0, 0
    while have < rows and base:
        copy += 1
        batch = [d | {"comparison_id": f"{d['comparison_id']}#o{copy}",
                      "model_id": f"{d['model_id']}-copy{copy}",
                      "campaign": "scale-rows", "campaigns": ["scale-rows"]}
                 for d in base[: rows - have]]  # fmt: skip
        for start in range(0, len(batch), 10_000):
            db.comparisons.insert_many(batch[start : start + 10_000], ordered=False)
        have += len(batch)
    return have


def worker(stage: str, uri: str, folder: Path, profile: bool) -> dict[str, Any]:
    """Time ``stage`` (``report`` or ``build``) with whichever ``pesbench`` is importable."""
    from pymongo import MongoClient

    import pesbench
    from pesbench.report import write_report
    from pesbench.settings import override_settings
    from pesbench.stores.builders import build_comparisons

    out: dict[str, Any] = {"stage": stage, "pesbench": str(Path(pesbench.__file__).parent)}
    db = "report" if stage == "report" else "build"
    with MongoClient(uri) as client:
        if stage == "build":
            client.build.comparisons.delete_many({})
        else:
            out["indexes"] = _builders_indexes(client.report.comparisons)
    with override_settings(db_uri=uri, db_name=db, data_dir=folder / "data") as settings:
        report_dir = Path(tempfile.mkdtemp(dir=folder))
        prof = cProfile.Profile() if profile else None
        start = time.perf_counter()
        if prof:
            prof.enable()
        if stage == "report":
            files = write_report(CAMPAIGN, report_dir, settings, build=False)
        else:
            written = build_comparisons(settings)
        if prof:
            prof.disable()
        out["seconds"] = round(time.perf_counter() - start, 2)
    if stage == "report":
        out["digest"] = _digest([files.html, *files.csv])
        out["figures"] = files.figures
    else:
        out["written"] = written
        out["digest"], out["documents"] = _comparisons_digest(uri)
    if prof:
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(45)
        out["profile"] = text.getvalue()
    return out


def _run_worker(stage: str, src: Path | None, uri: str, folder: Path, profile: bool) -> dict:
    env = dict(os.environ)
    if src is not None:  # before the editable install's path entry
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, __file__, "--worker", stage, "--uri", uri, "--folder", str(folder)]
    result = subprocess.run(cmd + (["--profile"] if profile else []), env=env,
                            capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode:
        raise RuntimeError(f"{stage} ({src}) failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- main


def main() -> None:
    """Build the databases once, then measure each source tree in turn."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--structures", type=int, default=2000)
    parser.add_argument("--materials", type=int, default=100)
    parser.add_argument("--report-structures", type=int, default=100_000)
    parser.add_argument("--other-rows", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--stages", default="report,build")
    parser.add_argument("--before", type=Path, help="a src folder of the code before")
    parser.add_argument(
        "--after", type=Path, help="a src folder of the code after (default: installed)"
    )
    parser.add_argument("--folder", type=Path, help="keep the databases here (reused)")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results-report-profile.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.uri, args.folder, args.profile)))
        return

    from pesbench.stores import LocalMongoServer, find_mongod

    folder = args.folder or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    server = LocalMongoServer(folder / "mongod", mongod=find_mongod())
    state, _ = server.start()
    try:
        out: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
        out["databases"] = setup(args, state.uri, folder)
        print(json.dumps(out["databases"]), flush=True)
        after = {"after": args.after}
        variants = after if args.before is None else {"before": args.before, **after}
        runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for stage in args.stages.split(","):
            runs[stage] = {name: [] for name in variants}
            for k in range(args.repeats):
                order = list(variants) if k % 2 == 0 else list(reversed(variants))
                for name in order:
                    res = _run_worker(stage, variants[name], state.uri, folder, False)
                    runs[stage][name].append(res)
                    print(stage, name, json.dumps(res), flush=True)
            if args.profile:
                res = _run_worker(stage, None, state.uri, folder, True)
                print(res.pop("profile"), flush=True)
        out["runs"] = runs
        out["medians_s"] = {
            stage: {name: statistics.median(r["seconds"] for r in rs) for name, rs in v.items()}
            for stage, v in runs.items()
        }
        out["identical_outputs"] = {
            stage: len({r["digest"] for rs in v.values() for r in rs}) == 1
            for stage, v in runs.items()
        }
    finally:
        server.stop()
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("medians_s", "identical_outputs")}, indent=1))


if __name__ == "__main__":
    main()
