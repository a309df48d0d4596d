"""Structures by their content id, for jobs that carry ids rather than structures.

A FireWorks job's inputs travel in its spec, serialized again on every state change of the
workflow: fifty structures inline make that the largest cost of orchestration (issue 14).
Jobs carry ``structure_id``s instead and read the structures here, from the ``structures``
collection, or, for an imported dataset (whose structures are only in its references),
from ``references``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Structure

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import open_collection

__all__ = ["load_structures"]


def load_structures(
    structure_ids: Sequence[str], settings: PesbenchSettings | None = None
) -> list[Structure]:
    """The structures of ``structure_ids``, in that order.

    Raises
    ------
    LookupError
        Naming the ids found in neither ``structures`` nor ``references``.
    """
    settings = settings or get_settings()
    wanted = list(dict.fromkeys(structure_ids))
    found: dict[str, dict] = {}
    for collection in ("structures", "references"):
        missing = [i for i in wanted if i not in found]
        if not missing:
            break
        with open_collection(collection, settings) as coll:
            query = {"structure_id": {"$in": missing}, "structure": {"$ne": None}}
            for doc in coll.find(query, {"structure_id": 1, "structure": 1}):
                found.setdefault(doc["structure_id"], doc["structure"])
    missing = [i for i in wanted if i not in found]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise LookupError(f"{len(missing)} structure(s) not in the database: {shown}")
    return [Structure.from_dict(found[i]) for i in structure_ids]
