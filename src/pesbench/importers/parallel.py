"""An extended XYZ file parsed and converted in several processes (``--processes``).

Importing is CPU-bound in Python: ASE parses each frame's text, pymatgen builds its
structure, the content hash and the reference document follow, then its stored form
(``benchmarks/scale/RESULTS.md``: about 1.3 ms a frame, the database write a small part).
With ``processes`` > 1 the importing process reads the file's frames as text
(:func:`~pesbench.importers.ase_files.extxyz_texts`) and hands chunks of them, in order, to
worker processes. They return each frame's stored form, as BSON (the importing process
neither decodes nor encodes it), or why it is bad; the importing process writes them in
batches exactly as a serial import does (:mod:`.writer`): the same documents, the same
first-of-a-key-wins, the same progress record, so an import interrupted with one number
of processes resumes with another. Only extended XYZ is read this way: the other formats
are read by one reader each (a JSON file is one document, a VASP run one
``vasprun.xml``).

Workers are started with ``spawn`` (the importing process holds a MongoDB client, which
must not be forked); each imports pesbench first, about 2-3 s, so a few thousand frames
are the least worth it. At most ``2 × processes`` chunks are in flight, so memory does not
grow with the file.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import bson

from pesbench.importers.ase_files import ResultKeys, extxyz_frame, extxyz_texts
from pesbench.importers.options import ImportOptions
from pesbench.importers.record import BadRecord
from pesbench.memory import gc_paused
from pesbench.stores.typed import stored_form

__all__ = ["CHUNK", "Converted", "converted_frames"]

CHUNK = 250
"""Frames a worker parses and converts per task."""


@dataclass(frozen=True)
class Converted:
    """One frame converted by a worker: its stored form as BSON, or why it is bad.

    ``doc`` is the BSON of the stored form (``last_updated`` set by the worker), or a
    string, the reason; ``reference_id`` is the key of a stored form.
    """

    index: int
    doc: bytes | str
    reference_id: str = ""


@dataclass(frozen=True)
class _Job:
    """What every worker needs to convert a frame as the serial import does."""

    path: Path
    fmt: str
    options: ImportOptions
    import_id: str
    keys: ResultKeys
    last_updated_field: str


def _convert(job: _Job, texts: list[tuple[int, str | None, str]]) -> list[Converted]:
    """The frames of ``texts`` converted (in a worker process)."""
    from pesbench.importers.writer import reference_of  # the writer imports this module

    out = []
    with gc_paused():
        for index, text, why in texts:
            item = extxyz_frame(index, text, why, job.keys)
            if isinstance(item, BadRecord):
                out.append(Converted(index, item.reason))
                continue
            doc = reference_of(item, job.path, job.fmt, job.options, job.import_id)
            if isinstance(doc, str):
                out.append(Converted(index, doc))
                continue
            data = stored_form(doc)
            data[job.last_updated_field] = datetime.now(UTC)
            out.append(Converted(index, bson.encode(data), doc.reference_id))
        gc.collect(0)  # ASE's Atoms and its calculator hold a reference cycle a frame
    return out


def converted_frames(
    path: Path, options: ImportOptions, import_id: str, start: int, last_updated_field: str
) -> Iterator[Converted]:
    """The frames of ``path`` from index ``start`` on, converted by worker processes.

    ``options.processes`` of them; in the file's order; a worker's exception is raised here.
    """
    processes = options.processes
    keys = ResultKeys(options.energy_key, options.forces_key, options.stress_key)
    job = _Job(path, "extxyz", options, import_id, keys, last_updated_field)
    texts = (text for text in extxyz_texts(path) if text[0] >= start)
    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    pending: deque[Future[list[Converted]]] = deque()
    try:
        while chunk := list(islice(texts, CHUNK)):
            pending.append(pool.submit(_convert, job, chunk))
            if len(pending) >= 2 * processes:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
