"""Each side's relaxed parent bulk: what a structure's energies are referenced to.

The structure-level comparisons (:mod:`pesbench.stores.builders`) reference each side's
energy per atom to that side's own relaxed parent bulk, so that the codes' energy zeros
(GPAW's reference atoms, VASP's PAW atoms, a model's raw or MP2020-corrected energies)
cancel. The bulk relaxations are those the property calculations store in the
``relaxations`` collection (the given bulk relaxed in cell and positions by each side).

Which relaxation is a side's relaxed parent bulk:

- It relaxed the parent bulk itself: its ``structure_id`` is the structure's ``parent_id``
  (the unrelaxed bulk given to the campaign; a structure without a parent is its own). It
  succeeded, relaxed the cell and the positions, fixed no atom and is not a single point
  (:func:`is_relaxed_bulk`).
- DFT (``side_kind="dft"``), for a reference (:func:`matches_reference`): the same
  functional; the same code (the relaxation's ``input_settings["code"]``, else the engine
  named in its ``side_key``); and the same input settings apart from those that follow the
  cell and its sites (:data:`CELL_DEPENDENT_SETTINGS`: the k-point mesh, initial moments,
  per-element setups, POTCARs and U values). The bulk's ``input_hash`` cannot equal a
  supercell's (its k-mesh differs); what has to agree is the engine, the functional and
  the user's overrides, which is the side-level key
  ``dft:<engine>:<functional>:<hash of the overrides>`` of
  :class:`~pesbench.properties.sides.EngineSide` (not stored as such). Settings are
  compared where both documents record them.
- A model (``side_kind="model"``), for a prediction (:func:`matches_model`): the same model
  id and weights, ``side_key == "model:<model id>:<checksum>"``.

When several match (e.g. relaxed with other thresholds), the most recent one counts
(``created_at``, then ``relaxation_id``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from maggma.core import Store

from pesbench.stores.mongo import query_in

__all__ = [
    "BULK_FIELDS",
    "CELL_DEPENDENT_SETTINGS",
    "RelaxedBulks",
    "bulk_stamp",
    "is_relaxed_bulk",
    "level_of_theory",
    "matches_model",
    "matches_reference",
    "relaxation_code",
]

CELL_DEPENDENT_SETTINGS = frozenset(
    {"kpts", "kpoints", "magmoms", "setups", "potcars", "hubbard", "hubbard_u_eV"}
)
"""Input settings (GPAW's and VASP's) that follow the cell or its sites, not the user."""

BULK_FIELDS = [
    "relaxation_id", "structure_id", "status", "side", "side_kind", "side_key", "functional",
    "settings", "input_settings", "energy_per_atom", "created_at", "structure",
]  # fmt: skip
"""What is read of each relaxation."""


def is_relaxed_bulk(doc: Mapping[str, Any]) -> bool:
    """Whether a relaxation succeeded in cell and positions, nothing fixed, with an energy."""
    settings = doc.get("settings") or {}
    return (
        doc.get("status") == "success"
        and doc.get("energy_per_atom") is not None
        and bool(settings.get("relax_cell"))
        and not settings.get("fix_indices")
        and settings.get("max_steps") != 0
    )


def level_of_theory(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Input settings without :data:`CELL_DEPENDENT_SETTINGS`."""
    return {k: v for k, v in settings.items() if k not in CELL_DEPENDENT_SETTINGS}


def relaxation_code(doc: Mapping[str, Any]) -> str | None:
    """The DFT code of a relaxation: its input settings' ``code``, else its side_key's engine."""
    code = (doc.get("input_settings") or {}).get("code")
    if code:
        return str(code)
    parts = str(doc.get("side_key") or "").split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "dft" else None


def matches_reference(relaxation: Mapping[str, Any], reference: Mapping[str, Any]) -> bool:
    """Whether a DFT relaxation is of the reference's code, functional and overrides."""
    if relaxation.get("side_kind") != "dft":
        return False
    if relaxation.get("functional") != reference.get("functional"):
        return False
    if relaxation_code(relaxation) != reference.get("code"):
        return False
    ours, theirs = relaxation.get("input_settings") or {}, reference.get("input_settings") or {}
    return not ours or not theirs or level_of_theory(ours) == level_of_theory(theirs)


def matches_model(relaxation: Mapping[str, Any], model: Mapping[str, Any]) -> bool:
    """Whether a relaxation is by the model of a prediction (its ``model``: id, checksum)."""
    key = f"model:{model.get('model_id')}:{model.get('checksum')}"
    return relaxation.get("side_kind") == "model" and relaxation.get("side_key") == key


def bulk_stamp(doc: Mapping[str, Any] | None) -> str:
    """What identifies a bulk relaxation in a builder's source stamp ("-" for none)."""
    if doc is None:
        return "-"
    return f"{doc['relaxation_id']}@{doc.get('created_at')}@{doc.get('energy_per_atom')!r}"


def _latest(docs: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    return max(docs, key=lambda d: (str(d.get("created_at")), d["relaxation_id"]), default=None)


@dataclass
class RelaxedBulks:
    """The successful cell-and-positions relaxations of some bulks, by bulk structure_id."""

    by_bulk: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def load(cls, store: Store | None, bulk_ids: Iterable[str]) -> RelaxedBulks:
        """Those of ``bulk_ids`` in ``store`` (a connected ``relaxations`` store, or None)."""
        ids = sorted(set(bulk_ids))
        if store is None or not ids:
            return cls()
        by_bulk: dict[str, list[dict[str, Any]]] = defaultdict(list)
        success = {"status": "success"}
        for doc in query_in(store, "structure_id", ids, BULK_FIELDS, success):
            if is_relaxed_bulk(doc):
                by_bulk[doc["structure_id"]].append(doc)
        return cls(dict(by_bulk))

    def for_reference(self, bulk_id: str, reference: Mapping[str, Any]) -> dict[str, Any] | None:
        """The DFT side's relaxed ``bulk_id`` for ``reference`` (None: not relaxed)."""
        return _latest(d for d in self.by_bulk.get(bulk_id, []) if matches_reference(d, reference))

    def for_model(self, bulk_id: str, model: Mapping[str, Any]) -> dict[str, Any] | None:
        """The model's own relaxed ``bulk_id`` (``model``: a prediction's model info)."""
        return _latest(d for d in self.by_bulk.get(bulk_id, []) if matches_model(d, model))
