"""ASE databases (:mod:`ase.db`, SQLite ``.db`` or ASE's JSON): one frame per row, by id.

Units are ASE's (see :mod:`pesbench.importers.ase_files`). A row's key-value pairs may say
``functional``, ``material_id``/``mp_id``, ``frame_id``, ``category`` and ``run_id``; the
row's ``unique_id`` is its frame id otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ase.db import connect

from pesbench.importers.ase_files import ResultKeys, frame_from_atoms
from pesbench.importers.record import BadRecord, Frame

__all__ = ["read_asedb"]


def read_asedb(path: Path, keys: ResultKeys | None = None) -> Iterator[Frame | BadRecord]:
    """The rows of an ASE database, ordered by id; index = position in that order."""
    db = connect(str(path))
    for index, row in enumerate(db.select(sort="id")):
        try:
            atoms = row.toatoms(add_additional_information=False)
            atoms.info.update(row.key_value_pairs)
        except Exception as exc:
            yield BadRecord(index, f"row {row.id} unreadable: {type(exc).__name__}: {exc}")
            continue
        frame = frame_from_atoms(atoms, index, keys)
        if isinstance(frame, Frame) and frame.frame_id is None:
            frame.frame_id = str(row.get("unique_id") or row.id)
        yield frame
