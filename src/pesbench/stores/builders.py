"""maggma Builders deriving the ``comparisons`` collection from references and predictions.

:class:`StructureComparisonBuilder` pairs every successful prediction with the successful
references of the same structure at the functional its model was trained on (PBE models
with PBE and PBE+U references; with ``cross_functional=True`` every functional), and writes
one structure-level document per pair. Its energies are also referenced to each side's
own relaxed parent bulk (from the ``relaxations`` collection; the match:
:mod:`pesbench.stores.relaxed_bulk`), where both sides relaxed it.
:class:`MaterialComparisonBuilder` groups those by (material, category, model, functional)
and writes the aggregates: error statistics (the referenced energy MAE among them),
softening scale, cMAE, one-point correction, property errors.

Both are incremental, and write ``last_updated`` on every document (maggma's field):

- structure level: a ``source_stamp``, a hash of the ids and creation times of the
  documents a comparison was computed from (the bulk relaxations and the pair's campaigns
  included); a pair whose stamp is unchanged is not processed again. A stamp, not the
  sources' ``last_updated``, because that field misses changes: relaxations, structures and
  ``import-vasp`` runs are written without it, and a campaign reusing a stored result only
  adds itself to ``campaigns`` (``$addToSet``, which leaves ``last_updated`` as it was).
- material level: maggma's ``GroupBuilder`` rule on the structure-level documents, which
  this module writes itself: an aggregate's ``last_updated`` is its newest member's, and a
  group is rebuilt when that differs or its members changed (``source_stamp``, a hash of
  their ids: a member gone or failed makes none newer). Compared per group, not with
  ``Store.newer_in``: source and target are one collection at two levels, and a store's
  ``last_updated`` (the newest of all its documents) would mix the two.

So rerunning with nothing new writes nothing, and a new reference, prediction, bulk
relaxation or campaign rebuilds exactly the comparisons that use it. An item that raises is
written with ``status: "failed"`` and its ``error`` (retried when its inputs change), and the
build goes on; every reader of ``comparisons`` skips failed documents.

Both are serializable (``as_dict``, stores without their URI), so maggma's ``mrun`` runs
them from the file :func:`builders_for_mrun`'s list is dumped to.
"""

from __future__ import annotations

import logging

from maggma.core import Builder, Store

from pesbench.settings import PesbenchSettings
from pesbench.stores.builder_common import (
    COLLECTION_KEYS,
    FAILED,
    MAX_DOC_BYTES,
    collection_store,
    run_builder,
    unbound_store,
)
from pesbench.stores.collections import (
    COMPARISONS,
    PREDICTIONS,
    REFERENCES,
    RELAXATIONS,
    STRUCTURES,
)
from pesbench.stores.material_builder import MaterialComparisonBuilder
from pesbench.stores.structure_builder import StructureComparisonBuilder

__all__ = [
    "COLLECTION_KEYS",
    "FAILED",
    "MAX_DOC_BYTES",
    "MaterialComparisonBuilder",
    "StructureComparisonBuilder",
    "build_comparisons",
    "builders_for_mrun",
    "collection_store",
    "run_builder",
]

logger = logging.getLogger(__name__)


def _builders(
    stores: dict[str, Store], cross_functional: bool
) -> tuple[StructureComparisonBuilder, MaterialComparisonBuilder]:
    """Both builders on ``stores`` (by collection), in the order they run."""
    per_structure = StructureComparisonBuilder(
        stores[REFERENCES],
        stores[PREDICTIONS],
        stores[COMPARISONS],
        stores[STRUCTURES],
        cross_functional=cross_functional,
        relaxations=stores[RELAXATIONS],
    )
    per_material = MaterialComparisonBuilder(
        stores[COMPARISONS], stores[REFERENCES], stores[PREDICTIONS], stores[STRUCTURES]
    )
    return per_structure, per_material


def builders_for_mrun(
    settings: PesbenchSettings | None = None, *, cross_functional: bool = False
) -> list[Builder]:
    """Both builders, in order, for a builder file of maggma's ``mrun``.

    ``monty.serialization.dumpfn(builders_for_mrun(), "builders.json")``, then
    ``mrun builders.json``. The file names the settings' database but holds no URI (no
    password): ``mrun`` connects to that of its own settings (``PESBENCH_DB_URI``, else the
    managed local server).
    """
    stores: dict[str, Store] = {name: unbound_store(name, settings) for name in COLLECTION_KEYS}
    return list(_builders(stores, cross_functional))


def build_comparisons(
    settings: PesbenchSettings | None = None, *, cross_functional: bool = False
) -> dict[str, int]:
    """Run both builders against the configured database.

    Returns
    -------
    dict[str, int]
        Documents written per level (``structure``, ``material``), and ``failed``, how many
        of them are failed ones, when any is.
    """
    stores: dict[str, Store] = {name: collection_store(name, settings) for name in COLLECTION_KEYS}
    per_structure, per_material = _builders(stores, cross_functional)
    run_builder(per_structure)
    run_builder(per_material)
    written = {"structure": per_structure.n_written, "material": per_material.n_written}
    failed = per_structure.n_failed + per_material.n_failed
    if failed:
        logger.warning("%d comparisons failed (status 'failed': their error says why)", failed)
        written["failed"] = failed
    return written
