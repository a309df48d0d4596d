"""What an import is: the user's options, the identity they give it, and its result.

See :mod:`pesbench.importers.writer` for how the identity decides between resuming,
skipping and refusing an import.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pesbench.errors import PesbenchError
from pesbench.importers.record import DatasetId, RecordError, functional_name

__all__ = [
    "MAX_BAD_LISTED",
    "ImportConflictError",
    "ImportOptions",
    "ImportResult",
    "import_identity",
]

MAX_BAD_LISTED = 1000
"""Bad records listed (index and reason) in a progress record; the rest are counted."""


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
    processes
        Worker processes that parse and convert an extended XYZ file's frames
        (:mod:`~pesbench.importers.parallel`; 1: none, the importing process does it).
        Not part of the identity either.
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
    processes: int = 1

    def __post_init__(self) -> None:
        if self.processes < 1:
            raise ValueError(f"processes must be at least 1, not {self.processes}")


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
