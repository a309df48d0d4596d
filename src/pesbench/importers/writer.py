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
import gc
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import bson
from bson.raw_bson import RawBSONDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from pesbench.importers.ase_files import ResultKeys
from pesbench.importers.formats import open_frames
from pesbench.importers.options import (
    MAX_BAD_LISTED,
    ImportConflictError,
    ImportOptions,
    ImportResult,
    _describe,
    _fingerprint,
    _result,
    import_identity,
)
from pesbench.importers.parallel import Converted, converted_frames
from pesbench.importers.record import BadRecord, DatasetId, check_frame, to_reference
from pesbench.memory import gc_paused
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import IMPORTS
from pesbench.stores.connection import open_collection
from pesbench.stores.references import ReferenceStore
from pesbench.stores.typed import stored_form

__all__ = [
    "IMPORTS_COLLECTION",
    "ImportConflictError",
    "ImportOptions",
    "ImportResult",
    "import_identity",
    "import_path",
    "reference_of",
]

IMPORTS_COLLECTION = IMPORTS
"""One progress record per import (:func:`import_identity`): what it has done."""
MAX_BSON_BYTES = 16 * 1024 * 1024 - 64 * 1024
"""A reference document above this is reported as bad (GridFS for imports: not yet)."""


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
    settings, path = settings or get_settings(), Path(path).resolve()
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
    import_id = _import_id(dataset, path, fingerprint, identity)
    this_path = {"dataset": dataset.name, "dataset_version": dataset.version, "source": str(path)}
    refs = ReferenceStore(settings)
    with refs, open_collection(IMPORTS_COLLECTION, settings) as imports:
        collection = refs.store._collection
        if replace:
            collection.delete_many(_stored_from(dataset, path))
            imports.delete_many(this_path)
        _check_earlier(imports, this_path, import_id, identity, path, dataset)
        new = {**this_path, "format": fmt, "options": identity, "fingerprint": fingerprint}
        record = _start(imports, import_id, new)
        start = int(record.get("done", 0))
        if record.get("complete"):
            return _result(record, fmt, already_done=True)
        batches = _Batches(refs, collection, imports, import_id, counted=start, progress=progress)
        to_doc = partial(reference_of, path=path, fmt=fmt, options=options, import_id=import_id)
        if options.processes > 1 and fmt == "extxyz":  # parsed by workers (.parallel)
            frames = converted_frames(path, options, import_id, start, batches.updated)  # type: ignore[assignment]
        with gc_paused():  # collected once a batch instead (_Batches.flush)
            handled = batches.read(frames, start, options.batch_size, to_doc)
        here = {"provenance.import_id": import_id}
        return _finish(collection, imports, import_id, here, handled, fmt, start)


def _import_id(dataset: DatasetId, path: Path, fingerprint: str, identity: dict[str, Any]) -> str:
    """The id of an import's progress record: dataset, path, content and options."""
    return hashlib.sha256(
        json.dumps(
            [dataset.name, dataset.version, str(path), fingerprint, identity], sort_keys=True
        ).encode()
    ).hexdigest()[:24]


def _stored_from(dataset: DatasetId, path: Path) -> dict[str, Any]:
    """Mongo criteria of the references the dataset holds from ``path`` (or a file in it)."""
    source = {"$regex": f"^{_escape(str(path))}"} if path.is_dir() else str(path)
    return {
        "provenance.dataset": dataset.name,
        "provenance.dataset_version": dataset.version,
        "provenance.source_file": source,
    }


def _check_earlier(
    imports: Any,
    this_path: dict[str, Any],
    import_id: str,
    identity: dict[str, Any],
    path: Path,
    dataset: DatasetId,
) -> None:
    """Drop earlier imports of the path that stored nothing; refuse one with other options."""
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


def _start(imports: Any, import_id: str, new: dict[str, Any]) -> dict[str, Any]:
    """The import's progress record: created with ``new``'s fields, or the existing one."""
    new = {**new, "done": 0, "bad": [], "complete": False, "started_at": datetime.now(UTC)}
    # the same import started twice at once: one record (a DuplicateKeyError: the other
    # run's upsert won the race, its record is there)
    with contextlib.suppress(DuplicateKeyError):
        imports.update_one({"_id": import_id}, {"$setOnInsert": new}, upsert=True)
    return imports.find_one({"_id": import_id}) or {}


@dataclass
class _Batches:
    """The batch being filled and its bad records; :meth:`flush` writes and counts them.

    ``counted`` is the progress record's ``done`` as this run last saw it.
    """

    refs: ReferenceStore
    collection: Any
    imports: Any
    import_id: str
    counted: int
    progress: Callable[[int], None] | None = None
    batch: dict[str, Any] = field(default_factory=dict)
    bad: list[dict[str, Any]] = field(default_factory=list)

    @property
    def updated(self) -> str:
        """The name of the field that records when a document was written."""
        return str(self.refs.store.last_updated_field)

    @property
    def size(self) -> int:
        """Records in the batch, bad ones included."""
        return len(self.batch) + len(self.bad)

    def add(self, index: int, doc: ReferenceDoc | str) -> None:
        """Add record ``index``: its document, or why it is bad (a string)."""
        if isinstance(doc, str):
            self.bad.append({"index": index, "reason": doc})
        elif doc.reference_id not in self.batch:  # the first of a key wins
            data = stored_form(doc)
            data[self.refs.store.last_updated_field] = datetime.now(UTC)
            if doc.n_atoms > 20000 and len(bson.encode(data)) > MAX_BSON_BYTES:
                self.bad.append({"index": index, "reason": "document over 16 MB"})
            else:
                self.batch[doc.reference_id] = data

    def add_converted(self, item: Converted) -> None:
        """Add a record a worker converted (:class:`~pesbench.importers.parallel.Converted`)."""
        if isinstance(item.doc, str):
            self.bad.append({"index": item.index, "reason": item.doc})
        elif item.reference_id not in self.batch:  # the first of a key wins
            if len(item.doc) > MAX_BSON_BYTES:
                self.bad.append({"index": item.index, "reason": "document over 16 MB"})
            else:
                self.batch[item.reference_id] = RawBSONDocument(item.doc)

    def read(
        self,
        frames: Iterable[Any],
        handled: int,
        batch_size: int,
        to_doc: Callable[[Any], ReferenceDoc | str],
    ) -> int:
        """Add every frame not counted yet, flushing each ``batch_size``; records handled."""
        for item in frames:
            handled = max(handled, item.index + 1)
            if item.index < self.counted:  # counted by an earlier run, or by one running now
                continue
            if isinstance(item, Converted):  # by a worker process (.parallel)
                self.add_converted(item)
            else:
                self.add(item.index, item.reason if isinstance(item, BadRecord) else to_doc(item))
            if self.size >= batch_size:
                self.flush(handled)
        self.flush(handled)
        return handled

    def flush(self, done: int) -> None:
        """Write the batch, then count records up to ``done`` unless another run has."""
        _write(self.collection, list(self.batch.values()))
        while done > self.counted:  # count [counted, done) unless another run has
            mine = [b for b in self.bad if b["index"] >= self.counted]
            update: dict[str, Any] = {"$set": {"done": done}}
            if mine:  # the first MAX_BAD_LISTED listed, all counted
                update["$push"] = {"bad": {"$each": mine, "$slice": MAX_BAD_LISTED}}
                update["$inc"] = {"n_bad": len(mine)}
            query = {"_id": self.import_id, "done": self.counted}
            if self.imports.update_one(query, update).matched_count:
                self.counted = done
                break
            now = self.imports.find_one({"_id": self.import_id}, {"done": 1}) or {}
            self.counted = int(now.get("done", 0))  # another run counted up to there
        self.batch.clear()
        self.bad.clear()
        # the reference cycles of the batch's frames (ASE's Atoms and its calculator, six
        # objects a frame), freed here while the collector is paused (import_path): the
        # young generation holds little else, so this is cheap
        gc.collect(0)
        _after_batch()
        if self.progress is not None:
            self.progress(done)


def _finish(
    collection: Any,
    imports: Any,
    import_id: str,
    criteria: dict[str, Any],
    handled: int,
    fmt: str,
    start: int,
) -> ImportResult:
    """Mark the import complete with what the database holds of it; its result."""
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


def reference_of(
    item: Any, path: Path, fmt: str, options: ImportOptions, import_id: str
) -> ReferenceDoc | str:
    """The reference of a frame (recording ``import_id``), or why it is bad."""
    try:
        frame = check_frame(item)
        source = str(path) if fmt != "vasp" else (frame.run_id or str(path))
        doc = to_reference(
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
    if doc.provenance is not None:
        doc.provenance.import_id = import_id
    return doc
