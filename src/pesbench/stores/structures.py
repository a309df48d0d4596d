"""Structures by their content id, for jobs that carry ids rather than structures.

A FireWorks job's inputs travel in its spec, serialized again on every state change of the
workflow: fifty structures inline make that the largest cost of orchestration (issue 14).
Jobs carry ``structure_id``s instead and read the structures here, from the ``structures``
collection, or, for an imported dataset (whose structures are only in its references),
from ``references``. :func:`store_structures` puts generated structures there.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymatgen.core import Structure
from pymongo import UpdateOne

from pesbench.memory import gc_paused
from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import StructureDoc
from pesbench.schemas.structure_dict import structure_from_dict
from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.collections import KEYS, REFERENCES, STRUCTURES
from pesbench.stores.connection import open_collection

__all__ = ["job_structures", "load_structures", "store_structures"]


def store_structures(
    docs: Sequence[StructureDoc],
    campaign: str | None = None,
    settings: PesbenchSettings | None = None,
) -> int:
    """Upsert ``docs`` by ``structure_id`` in one round trip; return how many were new.

    A structure stored already is kept as it is (the same id is the same structure); only
    its ``tags`` grow, by the document's own and, with ``campaign``, ``campaign:<name>``.
    """
    if not docs:
        return 0
    updates = []
    for doc in docs:
        data = doc.model_dump(mode="json")
        tags = [*data.pop("tags"), *([f"campaign:{campaign}"] if campaign else [])]
        updates.append(
            UpdateOne(
                {"structure_id": doc.structure_id},
                {"$setOnInsert": data, "$addToSet": {"tags": {"$each": tags}}},
                upsert=True,
            )
        )
    with open_collection(STRUCTURES, settings or get_settings()) as collection:
        collection.create_index(KEYS[STRUCTURES], unique=True)
        return int(collection.bulk_write(updates, ordered=False).upserted_count)


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
    with gc_paused():  # acyclic dicts (pesbench.memory)
        for collection in (STRUCTURES, REFERENCES):
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
    with gc_paused():
        return [structure_from_dict(found[i]) for i in structure_ids]


def job_structures(
    structures: Sequence[Structure | StructureDoc] | None = None,
    structure_ids: Sequence[str] | None = None,
    settings: PesbenchSettings | None = None,
) -> tuple[list[Structure], list[str]]:
    """A job's structures and their ids, from whichever of the two it was given.

    A ``StructureDoc`` (a ``GenerationDoc``'s ``structures``) gives its structure and its
    id; a ``Structure`` its content hash (:func:`~pesbench.schemas.ids.structure_id`)
    unless ``structure_ids`` names it; ``structure_ids`` alone are read from the database
    (:func:`load_structures`).

    Raises
    ------
    ValueError
        Given neither, or ids and structures of different lengths.
    LookupError
        For ids alone that are not stored.
    """
    if structures is None:
        if structure_ids is None:
            raise ValueError("give structures, structure_ids, or both")
        return load_structures(structure_ids, settings), list(structure_ids)
    if structure_ids is not None and len(structure_ids) != len(structures):
        raise ValueError(
            f"{len(structure_ids)} structure_ids given for {len(structures)} structures"
        )
    plain = [s.structure if isinstance(s, StructureDoc) else s for s in structures]
    if structure_ids is not None:
        return plain, list(structure_ids)
    ids = [s.structure_id if isinstance(s, StructureDoc) else structure_id(s) for s in structures]
    return plain, ids
