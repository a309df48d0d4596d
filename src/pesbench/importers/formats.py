"""Which reader a path needs: by ``--format``, else by its name and content."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from pesbench.importers.ase_files import read_ase, read_extxyz
from pesbench.importers.asedb import read_asedb
from pesbench.importers.json_records import load_json, read_mptrj, read_records, sniff_json
from pesbench.importers.record import BadRecord, Frame, RecordError
from pesbench.importers.vasp import read_vasp

__all__ = ["FORMATS", "detect_format", "read_frames"]

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
    if name.endswith((".json", ".jsonl")):
        data = load_json(path)
        if isinstance(data, dict) and "ids" in data and "nextid" in data:
            return "asedb"  # ASE's JSON database
        kind = sniff_json(data)
        if not kind:
            raise RecordError(f"{path}: JSON neither MPtrj ({{id: {{frame: record}}}}) nor a list")
        return kind
    return "ase"


def read_frames(
    path: Path, format: str, *, stress_unit: str | None = None
) -> Iterator[Frame | BadRecord]:
    """The frames of ``path`` read as ``format`` (one of :data:`FORMATS`), in order."""
    if format == "extxyz":
        return read_extxyz(path)
    if format == "ase":
        return read_ase(path)
    if format == "asedb":
        return read_asedb(path)
    if format == "vasp":
        return read_vasp(path)
    if format == "mptrj":
        data = load_json(path)
        if sniff_json(data) != "mptrj":
            raise RecordError(f"{path}: not MPtrj JSON ({{material_id: {{frame_id: record}}}})")
        return read_mptrj(data)
    if format == "records":
        data = load_json(path)
        if not isinstance(data, list):
            raise RecordError(f"{path}: not a JSON list of records")
        return read_records(data, stress_unit)
    raise RecordError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
