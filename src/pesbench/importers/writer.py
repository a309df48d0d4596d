"""Import one path into the ``references`` collection: in batches, resumable.

Frames are read in order and written in batches (``insert_many``, unordered) under the
unique ``reference_id`` index, so writing a frame twice is a duplicate-key error that is
ignored: the first frame of a key wins, whichever run writes it. After each batch the
path's progress record in :data:`IMPORTS_COLLECTION` (one per dataset and path content)
advances to the next unread index, with the batch's bad records, in one update. A run
killed at any point is resumed by running the same import again: the records already
counted are skipped, and a batch written but not counted is written again, harmlessly.
A path whose import completed is skipped.

The same import run twice at once (two processes) shares one progress record: it is
created by an upsert, and a batch is counted by a compare-and-set of ``done`` (from the
value this run last saw to the batch's end), so each record is counted once, by one run; a
run that finds the record ahead of it skips what the other counted. Both write their
batches, harmlessly (the first of a key wins).

The identity of an import
-------------------------
An import is the dataset (name and version), the path, its content, and the options that
change what is stored: functional, stress unit, category, tags, format and the keys of
the labels (:func:`import_identity`). Running the same import again resumes or skips it. Running it
with other options is refused (:class:`ImportConflictError`, naming the earlier options):
skipping it would keep the data the user just corrected, and importing it beside the
earlier one would leave both in the dataset (a frame's key is its structure, functional and
dataset, so a corrected functional adds a second reference of each frame, and a corrected
stress unit, category or tags is a duplicate of the earlier frame, which wins).
An earlier import that stored nothing (every record bad: a forgotten ``--functional``, say)
is no conflict: its progress record is dropped. ``replace=True`` (``pesbench import
--replace``) deletes what the earlier imports of the path stored in the dataset, and their
progress records, then imports afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bson
from pymongo.errors import BulkWriteError, DuplicateKeyError

from pesbench.errors import PesbenchError
from pesbench.importers.ase_files import ResultKeys
from pesbench.importers.formats import open_frames
from pesbench.importers.record import (
    BadRecord,
    DatasetId,
    RecordError,
    check_frame,
    functional_name,
    to_reference,
)
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import open_collection
from pesbench.stores.references import ReferenceStore

__all__ = [
    "IMPORTS_COLLECTION",
    "ImportConflictError",
    "ImportOptions",
    "ImportResult",
    "import_identity",
    "import_path",
]

IMPORTS_COLLECTION = "imports"
"""One progress record per import (:func:`import_identity`): what it has done."""
MAX_BAD_LISTED = 1000
"""Bad records listed (index and reason) in a progress record; the rest are counted."""
MAX_BSON_BYTES = 16 * 1024 * 1024 - 64 * 1024
"""A reference document above this is reported as bad (GridFS for imports: not yet)."""


@dataclass
class ImportOptions:
    """What the user states about the data of an import.

    Parameters
    ----------
    dataset
        Name and version: part of every reference's key.
    functional
        The functional of the records (needed unless every record states its own).
    category
        Category of the comparisons when a record states none.
    format
        One of :data:`~pesbench.importers.formats.FORMATS`; None: from the name.
    stress_unit
        Unit of ``records`` JSON stresses (see :mod:`pesbench.importers.json_records`).
    energy_key, forces_key, stress_key
        Where the ASE formats' labels are (:class:`~pesbench.importers.ase_files.ResultKeys`;
        None: the calculator's results, else unambiguous ``REF_`` ones).
    batch_size
        Records per bulk write and per progress update (not part of the import's
        identity: it changes nothing stored).
    """

    dataset: DatasetId
    functional: str | None = None
    category: str = "imported"
    tags: list[str] = field(default_factory=list)
    format: str | None = None
    stress_unit: str | None = None
    energy_key: str | None = None
    forces_key: str | None = None
    stress_key: str | None = None
    batch_size: int = 500


@dataclass
class ImportResult:
    """What the import of one path did (read back from its progress record)."""

    source: str
    format: str
    records: int = 0
    stored: int = 0
    failed: int = 0
    duplicates: int = 0
    bad: list[dict[str, Any]] = field(default_factory=list)
    """The first :data:`MAX_BAD_LISTED` bad records: ``{"index", "reason"}``."""
    n_bad: int = 0
    resumed_from: int = 0
    already_done: bool = False


class ImportConflictError(PesbenchError):
    """The path was imported into the dataset before with other options."""


def import_identity(options: ImportOptions, fmt: str) -> dict[str, Any]:
    """The options of an import that change what it stores (``fmt``: the format read).

    The functional by its project name (``pbe`` and ``PBE`` are one import), the tags as
    a sorted set.
    """
    functional = options.functional
    if functional is not None:
        with contextlib.suppress(RecordError):  # unknown: every record will say so
            functional = functional_name(functional)
    return {
        "functional": functional,
        "stress_unit": options.stress_unit,
        "category": options.category,
        "tags": sorted(set(options.tags)),
        "format": fmt,
        "keys": [options.energy_key, options.forces_key, options.stress_key],
    }


def _describe(identity: dict[str, Any] | None) -> str:
    if identity is None:
        return "options not recorded (imported before pesbench recorded them)"
    return ", ".join(f"{k}={v!r}" for k, v in identity.items())


def _fingerprint(path: Path) -> str:
    """sha256 of a file's bytes, or of a folder's file names and sizes."""
    digest = hashlib.sha256()
    if path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{item.relative_to(path)}:{item.stat().st_size};".encode())
    else:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _after_batch() -> None:
    """Called after each batch is recorded (a seam for the interruption tests)."""


def _write(collection: Any, docs: list[dict[str, Any]]) -> None:
    if not docs:
        return
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != 11000 for error in errors):
            raise


def import_path(
    path: Path,
    options: ImportOptions,
    settings: PesbenchSettings | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    replace: bool = False,
) -> ImportResult:
    """Import every record of ``path`` (a file, or a folder of VASP runs); resumable.

    Parameters
    ----------
    progress
        Called with the number of records handled so far, after each batch.
    replace
        Delete what earlier imports of ``path`` stored in the dataset (any options, any
        content) and their progress records first: the way to redo an import with
        corrected options.

    Raises
    ------
    RecordError
        When the path cannot be read as its format at all (no single record).
    ImportConflictError
        When ``path`` was imported into the dataset with other options (see the module
        docstring) and ``replace`` is False.
    """
    settings = settings or get_settings()
    path = Path(path).resolve()
    fmt, frames = open_frames(
        path,
        options.format,
        stress_unit=options.stress_unit,
        functional=options.functional,
        keys=ResultKeys(options.energy_key, options.forces_key, options.stress_key),
    )
    dataset = options.dataset
    identity = import_identity(options, fmt)
    fingerprint = _fingerprint(path)
    import_id = hashlib.sha256(
        json.dumps(
            [dataset.name, dataset.version, str(path), fingerprint, identity], sort_keys=True
        ).encode()
    ).hexdigest()[:24]
    this_path = {"dataset": dataset.name, "dataset_version": dataset.version, "source": str(path)}
    source = {"$regex": f"^{_escape(str(path))}"} if path.is_dir() else str(path)
    criteria = {
        "provenance.dataset": dataset.name,
        "provenance.dataset_version": dataset.version,
        "provenance.source_file": source,
    }
    refs = ReferenceStore(settings)
    with refs, open_collection(IMPORTS_COLLECTION, settings) as imports:
        collection = refs.store._collection
        if replace:
            collection.delete_many(criteria)
            imports.delete_many(this_path)
        for earlier in imports.find({**this_path, "_id": {"$ne": import_id}}):
            if earlier.get("complete") and not earlier.get("stored"):
                imports.delete_one({"_id": earlier["_id"]})  # stored nothing: forgotten
            elif earlier.get("options") != identity:
                raise ImportConflictError(
                    f"{path} was imported into dataset {dataset.name!r}"
                    + (f" version {dataset.version!r}" if dataset.version else "")
                    + f" with other options ({_describe(earlier.get('options'))}; now "
                    f"{_describe(identity)}). Importing it again would keep the earlier "
                    "references beside or instead of these: rerun with --replace to delete "
                    "what the earlier import stored and import with the new options."
                )
        new = {
            "dataset": dataset.name,
            "dataset_version": dataset.version,
            "source": str(path),
            "format": fmt,
            "options": identity,
            "fingerprint": fingerprint,
            "done": 0,
            "bad": [],
            "complete": False,
            "started_at": datetime.now(UTC),
        }
        # the same import started twice at once: one record (a DuplicateKeyError: the other
        # run's upsert won the race, its record is there)
        with contextlib.suppress(DuplicateKeyError):
            imports.update_one({"_id": import_id}, {"$setOnInsert": new}, upsert=True)
        record = imports.find_one({"_id": import_id}) or {}
        start = int(record.get("done", 0))
        if record.get("complete"):
            return _result(record, fmt, already_done=True)
        stamp = refs.store.last_updated_field
        batch: dict[str, dict[str, Any]] = {}
        bad: list[dict[str, Any]] = []
        handled = start
        counted = start  # the record's ``done`` as this run last saw it

        def flush(done: int) -> None:
            nonlocal counted
            _write(collection, list(batch.values()))
            while done > counted:  # count [counted, done) unless another run has
                mine = [b for b in bad if b["index"] >= counted]
                update: dict[str, Any] = {"$set": {"done": done}}
                if mine:  # the first MAX_BAD_LISTED listed, all counted
                    update["$push"] = {"bad": {"$each": mine, "$slice": MAX_BAD_LISTED}}
                    update["$inc"] = {"n_bad": len(mine)}
                if imports.update_one({"_id": import_id, "done": counted}, update).matched_count:
                    counted = done
                    break
                now = imports.find_one({"_id": import_id}, {"done": 1}) or {}
                counted = int(now.get("done", 0))  # another run counted up to there
            batch.clear()
            bad.clear()
            _after_batch()
            if progress is not None:
                progress(done)

        for item in frames:
            handled = max(handled, item.index + 1)
            if item.index < counted:  # counted by an earlier run, or by one running now
                continue
            doc = (
                item.reason if isinstance(item, BadRecord) else _reference(item, path, fmt, options)
            )
            if isinstance(doc, str):
                bad.append({"index": item.index, "reason": doc})
            elif doc.reference_id not in batch:  # the first of a key wins
                data = refs.to_mongo(doc)
                data[stamp] = datetime.now(UTC)
                if doc.n_atoms > 20000 and len(bson.encode(data)) > MAX_BSON_BYTES:
                    bad.append({"index": item.index, "reason": "document over 16 MB"})
                else:
                    batch[doc.reference_id] = data
            if len(batch) + len(bad) >= options.batch_size:
                flush(handled)
        flush(handled)
        stored = collection.count_documents(criteria)
        failed = collection.count_documents({**criteria, "status": "failed"})
        record = imports.find_one({"_id": import_id}) or {}
        n_bad = int(record.get("n_bad", 0))
        final = {
            "records": handled,
            "stored": stored,
            "failed": failed,
            "duplicates": handled - n_bad - stored,
            "complete": True,
            "finished_at": datetime.now(UTC),
        }
        imports.update_one({"_id": import_id}, {"$set": final})
        return _result({**record, **final}, fmt, resumed_from=start)


def _escape(text: str) -> str:
    return re.escape(text.rstrip("/") + "/")


def _reference(item: Any, path: Path, fmt: str, options: ImportOptions) -> ReferenceDoc | str:
    """The reference of a frame, or why it is bad."""
    try:
        frame = check_frame(item)
        source = str(path) if fmt != "vasp" else (frame.run_id or str(path))
        return to_reference(
            frame,
            dataset=options.dataset,
            # the MPtrj reader took the user's functional (MP's GGA(+U) mixing)
            functional=None if fmt == "mptrj" else options.functional,
            source_file=source,
            source_format=fmt,
            category=options.category,
            tags=options.tags,
        )
    except ValueError as exc:  # RecordError, a pydantic ValidationError
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _result(record: dict[str, Any], fmt: str, **extra: Any) -> ImportResult:
    return ImportResult(
        source=str(record.get("source", "")),
        format=str(record.get("format", fmt)),
        records=int(record.get("records", record.get("done", 0))),
        stored=int(record.get("stored", 0)),
        failed=int(record.get("failed", 0)),
        duplicates=int(record.get("duplicates", 0)),
        bad=list(record.get("bad", [])),
        n_bad=int(record.get("n_bad", 0)),
        **extra,
    )
