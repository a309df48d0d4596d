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

Both are incremental: each document carries a ``source_stamp``, a hash of the ids and
creation times of the documents it was computed from (the bulk relaxations included); an
item whose stamp is unchanged is not processed again, so rerunning with nothing new writes
nothing, and a new bulk relaxation rebuilds the comparisons it references.
"""

from __future__ import annotations

from pesbench.settings import PesbenchSettings
from pesbench.stores.builder_common import (
    COLLECTION_KEYS,
    MAX_DOC_BYTES,
    collection_store,
    run_builder,
)
from pesbench.stores.material_builder import MaterialComparisonBuilder
from pesbench.stores.structure_builder import StructureComparisonBuilder

__all__ = [
    "COLLECTION_KEYS",
    "MAX_DOC_BYTES",
    "MaterialComparisonBuilder",
    "StructureComparisonBuilder",
    "build_comparisons",
    "collection_store",
    "run_builder",
]


def build_comparisons(
    settings: PesbenchSettings | None = None, *, cross_functional: bool = False
) -> dict[str, int]:
    """Run both builders against the configured database; return documents written per level."""
    stores = {name: collection_store(name, settings) for name in COLLECTION_KEYS}
    per_structure = StructureComparisonBuilder(
        stores["references"],
        stores["predictions"],
        stores["comparisons"],
        stores["structures"],
        cross_functional=cross_functional,
        relaxations=stores["relaxations"],
    )
    run_builder(per_structure)
    per_material = MaterialComparisonBuilder(
        stores["comparisons"], stores["references"], stores["predictions"], stores["structures"]
    )
    run_builder(per_material)
    return {"structure": per_structure.n_written, "material": per_material.n_written}
