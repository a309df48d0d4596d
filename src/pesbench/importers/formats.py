"""Which reader a path needs: by ``--format``, else by its name and content."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pesbench.importers.ase_files import ResultKeys, read_ase, read_extxyz
from pesbench.importers.asedb import read_asedb
from pesbench.importers.json_records import load_json, read_mptrj, read_records, sniff_json
from pesbench.importers.record import BadRecord, Frame, RecordError
from pesbench.importers.vasp import read_vasp

__all__ = ["FORMATS", "detect_format", "open_frames", "read_frames"]

FORMATS: tuple[str, ...] = ("extxyz", "ase", "asedb", "vasp", "mptrj", "records")
"""``extxyz``; ``ase`` (anything ase.io reads); ``asedb``; ``vasp`` (run folders or
vasprun.xml, every ionic step); ``mptrj`` (CHGNet's MPtrj JSON); ``records`` (MatPES-style
JSON list or JSON lines)."""

_GZ = re.compile(r"\.(gz|bz2|xz)$")


def detect_format(path: Path) -> str:
    """The format of ``path`` from its name (and, for JSON, its content).

    Raises
    ------
    RecordError
        For a JSON file that is neither MPtrj, records nor an ASE database.
    """
    name = _GZ.sub("", path.name.lower())
    if path.is_dir() or name.startswith(("vasprun", "outcar")):
        return "vasp"
    if name.endswith((".xyz", ".extxyz")):
        return "extxyz"
    if name.endswith(".db"):
        return "asedb"
    if _is_json(path):
        return _json_format(path, load_json(path))
    return "ase"


def _is_json(path: Path) -> bool:
    return _GZ.sub("", path.name.lower()).endswith((".json", ".jsonl"))


def _json_format(path: Path, data: Any) -> str:
    if isinstance(data, dict) and "ids" in data and "nextid" in data:
        return "asedb"  # ASE's JSON database
    kind = sniff_json(data)
    if not kind:
        raise RecordError(f"{path}: JSON neither MPtrj ({{id: {{frame: record}}}}) nor a list")
    return kind


def open_frames(
    path: Path,
    format: str | None = None,
    *,
    stress_unit: str | None = None,
    functional: str | None = None,
    keys: ResultKeys | None = None,
) -> tuple[str, Iterator[Frame | BadRecord]]:
    """The format of ``path`` (``format``, else detected) and its frames.

    :func:`detect_format` then :func:`read_frames`, reading a JSON file once.
    """
    if format is None and _is_json(path) and not path.is_dir():
        data = load_json(path)
        format = _json_format(path, data)
        if format != "asedb":
            return format, _json_frames(path, format, data, stress_unit, functional)
    format = format or detect_format(path)
    return format, read_frames(
        path, format, stress_unit=stress_unit, functional=functional, keys=keys
    )


def read_frames(
    path: Path,
    format: str,
    *,
    stress_unit: str | None = None,
    functional: str | None = None,
    keys: ResultKeys | None = None,
) -> Iterator[Frame | BadRecord]:
    """The frames of ``path`` read as ``format`` (one of :data:`FORMATS`), in order.

    ``functional`` (the user's) is read by the MPtrj reader only
    (:func:`~pesbench.importers.json_records.read_mptrj`: MP's GGA(+U) mixing); the
    other formats' frames carry the functional their records state, if any. ``keys``
    (where the labels are) is read by the ASE formats only (extxyz, ase, asedb).
    """
    if format == "extxyz":
        return read_extxyz(path, keys)
    if format == "ase":
        return read_ase(path, keys=keys)
    if format == "asedb":
        return read_asedb(path, keys)
    if format == "vasp":
        return read_vasp(path)
    if format in ("mptrj", "records"):
        return _json_frames(path, format, load_json(path), stress_unit, functional)
    raise RecordError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")


def _json_frames(
    path: Path, format: str, data: Any, stress_unit: str | None, functional: str | None
) -> Iterator[Frame | BadRecord]:
    if format == "mptrj":
        if sniff_json(data) != "mptrj":
            raise RecordError(f"{path}: not MPtrj JSON ({{material_id: {{frame_id: record}}}})")
        return read_mptrj(data, functional)
    if not isinstance(data, list):
        raise RecordError(f"{path}: not a JSON list of records")
    return read_records(data, stress_unit)
