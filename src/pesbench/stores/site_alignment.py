"""Forces of one structure stored in two site orders, lined up before they are compared.

A ``structure_id`` ignores site order (:func:`pesbench.schemas.ids.structure_id`), so the
reference and the prediction of one structure may list their atoms in different orders:
a dataset imported with its own order against a prediction made on the generated
structure, or two datasets holding one structure. Compared row by row, their forces would
give wrong errors without any sign of it. Each document records the order its per-atom
arrays follow (``site_order``, :func:`pesbench.schemas.ids.site_order`); where two differ,
:class:`SiteAligner` reorders one into the other's order by matching the sites of the two
structures (:func:`pesbench.schemas.ids.site_permutation`). The structure of an order is
found in the ``structures`` collection or in a reference recording that order. Documents
without ``site_order`` (stored before it was recorded) are taken to share their order.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from maggma.core import Store
from pymatgen.core import Structure

from pesbench.schemas.ids import site_order, site_permutation
from pesbench.schemas.structure_dict import structure_from_dict

__all__ = ["SiteAligner"]

logger = logging.getLogger(__name__)


class SiteAligner:
    """Puts the forces of a document into another document's site order.

    Parameters
    ----------
    references
        Store of the ``references`` collection (connected).
    structures
        Store of the ``structures`` collection (connected), or None.
    """

    def __init__(self, references: Store, structures: Store | None = None) -> None:
        self.references = references
        self.structures = structures
        self._cache: dict[tuple[str, str], Structure | None] = {}
        self.n_reordered = 0
        self.n_unmatched = 0

    @staticmethod
    def differ(doc: dict[str, Any], like: dict[str, Any]) -> bool:
        """Whether ``doc`` has forces in another recorded site order than ``like``'s."""
        mine, theirs = doc.get("site_order"), like.get("site_order")
        return doc.get("forces") is not None and None not in (mine, theirs) and mine != theirs

    def align(self, doc: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
        """``doc`` with its forces in the site order of ``like`` (one structure_id).

        Returns ``doc`` itself when the orders agree or one is not recorded; a copy with
        the forces reordered otherwise, or with ``forces`` None when no stored structure
        has one of the two orders (the forces then cannot be compared, and are not).
        """
        if not self.differ(doc, like):
            return doc
        mine, theirs = doc["site_order"], like["site_order"]
        sid = doc["structure_id"]
        source = self._structure(sid, mine, doc)
        target = self._structure(sid, theirs, like)
        if source is None or target is None:
            self.n_unmatched += 1
            logger.warning("%s: no stored structure in one of two site orders; forces dropped", sid)
            return {**doc, "forces": None}
        order = site_permutation(source, target)
        self.n_reordered += 1
        return {**doc, "forces": np.asarray(doc["forces"])[order].tolist(), "site_order": theirs}

    def _structure(self, sid: str, order: str, doc: dict[str, Any]) -> Structure | None:
        """A stored structure of ``sid`` whose sites follow ``order``."""
        if doc.get("structure") is not None:
            return _as_structure(doc["structure"])
        key = (sid, order)
        if key not in self._cache:
            self._cache[key] = self._find(sid, order)
        return self._cache[key]

    def _find(self, sid: str, order: str) -> Structure | None:
        if self.structures is not None:
            for found in self.structures.query({"structure_id": sid}, properties=["structure"]):
                structure = _as_structure(found["structure"])
                if site_order(structure) == order:
                    return structure
        found = self.references.query_one(
            {"structure_id": sid, "site_order": order, "structure": {"$ne": None}},
            properties=["structure"],
        )
        return None if found is None else _as_structure(found["structure"])


def _as_structure(data: Any) -> Structure:
    return data if isinstance(data, Structure) else structure_from_dict(data)
