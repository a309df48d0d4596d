"""Bring your own DFT data: readers of labelled structures and the resumable import."""

from __future__ import annotations

from pesbench.importers.formats import FORMATS, detect_format, read_frames
from pesbench.importers.record import BadRecord, DatasetId, Frame, RecordError, to_reference
from pesbench.importers.writer import (
    IMPORTS_COLLECTION,
    ImportConflictError,
    ImportOptions,
    ImportResult,
    import_path,
)

__all__ = [
    "FORMATS",
    "IMPORTS_COLLECTION",
    "BadRecord",
    "DatasetId",
    "Frame",
    "ImportConflictError",
    "ImportOptions",
    "ImportResult",
    "RecordError",
    "detect_format",
    "import_path",
    "read_frames",
    "to_reference",
]
