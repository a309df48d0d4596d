"""The side base class: relaxes structures the same way whatever computes, with a cache.

See :mod:`pesbench.properties.sides` for the two kinds of side.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
from pymatgen.core import Lattice, Structure

from pesbench.errors import DatabaseError
from pesbench.mlip.base import EV_PER_A3_TO_GPA
from pesbench.relax import RelaxOutcome
from pesbench.schemas.ids import structure_id
from pesbench.schemas.relaxation import (
    RelaxationDoc,
    RelaxFrames,
    RelaxSettings,
    SideKind,
    relaxation_id,
)
from pesbench.settings import PesbenchSettings, get_settings

__all__ = ["RelaxationCache", "Side", "outcome_to_doc"]

_log = logging.getLogger(__name__)


class RelaxationCache(Protocol):
    """Where relaxations are looked up before running and stored after."""

    def get(self, relaxation_id: str) -> RelaxationDoc | None:
        """The stored relaxation, or None."""
        ...

    def put(self, doc: RelaxationDoc) -> None:
        """Store ``doc`` (an upsert on its relaxation_id)."""
        ...


def outcome_to_doc(
    structure: Structure,
    outcome: RelaxOutcome,
    *,
    side: Side,
    settings: RelaxSettings,
    relax_id: str,
    parent_id: str | None = None,
    **extra: Any,
) -> RelaxationDoc:
    """The document of a relaxation from the optimizer's outcome (ASE units -> GPa)."""
    frames = RelaxFrames(
        energies=outcome.energies,
        forces=outcome.forces,
        stresses=[(np.asarray(s) * EV_PER_A3_TO_GPA).tolist() for s in outcome.stresses],
        cells=outcome.cells,
        positions=outcome.positions,
    )
    common: dict[str, Any] = {
        "relaxation_id": relax_id,
        "structure_id": structure_id(structure),
        "structure": structure,
        "parent_id": parent_id,
        "side": side.label,
        "side_kind": side.kind,
        "side_key": side.key_for(structure),
        "functional": side.functional,
        "settings": settings,
        "n_steps": outcome.n_steps,
        "frames": frames,
        "max_force": outcome.max_force,
        "wall_time_s": outcome.seconds,
        **extra,
    }
    if not len(frames):
        return RelaxationDoc(**common, status="failed", failure_reason=outcome.reason)
    final = Structure(
        Lattice(outcome.cells[-1]),
        [site.species for site in structure],
        outcome.positions[-1],
        coords_are_cartesian=True,
        site_properties=structure.site_properties or None,
    )
    return RelaxationDoc(
        **common,
        status="success" if outcome.converged else "failed",
        failure_reason=None if outcome.converged else outcome.reason,
        converged=outcome.converged,
        final_structure=final,
        final_structure_id=structure_id(final),
        energy=frames.energies[-1],
        energy_per_atom=frames.energies[-1] / len(structure),
        forces=frames.forces[-1],
        stress=frames.stresses[-1],
    )


class Side(ABC):
    """What computes a property's terms: relaxations (and single points) of structures."""

    kind: ClassVar[SideKind]
    claimed: ClassVar[bool] = False
    """Relax under a claim on the relaxation's key (costly sides: DFT) when cached."""

    def __init__(
        self,
        *,
        cache: RelaxationCache | None = None,
        settings: PesbenchSettings | None = None,
        campaign: str | None = None,
    ) -> None:
        self.cache = cache
        self.settings = settings or get_settings()
        self.campaign = campaign
        self.on_relaxed: Callable[[RelaxationDoc], None] | None = None
        """Called with every relaxation done or found (progress display)."""

    @property
    @abstractmethod
    def label(self) -> str:
        """Who computes, for people: a model id, or 'PBE (gpaw)'."""

    @property
    @abstractmethod
    def key(self) -> str:
        """Identity of the side, the same for every structure."""

    @property
    @abstractmethod
    def functional(self) -> str | None:
        """DFT functional, or the model's training functional."""

    def key_for(self, structure: Structure) -> str:
        """Identity of the side for ``structure`` (DFT: with that structure's input hash)."""
        return self.key

    def resolve(self, settings: RelaxSettings) -> RelaxSettings:
        """``settings`` with the relax_fmax and relax_steps settings filled in."""
        return settings.resolved(self.settings.relax_fmax, self.settings.relax_steps)

    def open_shell(self) -> Side:
        """The side to use for cells that may be open-shell (defects, O2): spin-polarised DFT."""
        return self

    def raw_energy(self, doc: RelaxationDoc) -> float:
        """A relaxation's final energy as a raw total energy, eV (DFT: as computed).

        Terms of different compositions (a vacancy and its pristine cell, a non-stoichiometric
        slab and its bulk) are combined on this footing, where a model's MP2020 corrections
        would not cancel (:mod:`pesbench.analysis.conventions`).
        """
        assert doc.energy is not None
        return float(doc.energy)

    def relax(
        self, structure: Structure, settings: RelaxSettings, *, parent_id: str | None = None
    ) -> RelaxationDoc:
        """Relax ``structure`` (or return the stored relaxation of the same inputs)."""
        resolved = self.resolve(settings)
        relax_id = relaxation_id(structure, self.key_for(structure), resolved)
        if self.cache is not None:
            stored = self.cache.get(relax_id)
            if stored is not None:
                return self._report(stored)
            if self.claimed:
                return self._claimed(relax_id, structure, resolved, parent_id)
        return self._store(self._relax(structure, resolved, relax_id, parent_id))

    def _claimed(
        self,
        relax_id: str,
        structure: Structure,
        resolved: RelaxSettings,
        parent_id: str | None,
    ) -> RelaxationDoc:
        """Relax under the claim on ``relax_id``: two workers never run the same relaxation.

        The second waits for the first's document (:func:`pesbench.stores.claims.compute_once`;
        a dead worker's claim expires). A database without claims: relaxed unclaimed.
        """
        from pymongo.errors import PyMongoError

        from pesbench.stores.claims import compute_once

        assert self.cache is not None
        cache = self.cache
        ran: list[RelaxationDoc] = []

        def run() -> RelaxationDoc:
            ran.append(self._relax(structure, resolved, relax_id, parent_id))
            return self._store(ran[0])

        try:
            doc, computed = compute_once(relax_id, run, lambda: cache.get(relax_id))
        except (PyMongoError, DatabaseError) as exc:
            if ran:  # relaxed, but the database failed after: never relax again for that
                _log.warning("relaxation %s not stored: %s", relax_id, exc)
                return self._report(ran[0])
            _log.warning("no claim on %s (%s); relaxing unclaimed", relax_id, exc)
            return self._store(self._relax(structure, resolved, relax_id, parent_id))
        return doc if computed else self._report(doc)

    def relax_many(
        self,
        structures: Sequence[Structure],
        settings: RelaxSettings,
        *,
        parent_ids: Sequence[str | None] | None = None,
    ) -> list[RelaxationDoc]:
        """Relax every structure with the same settings, as :meth:`relax` would one by one.

        Stored relaxations are looked up first; the others are run together where the
        side can (a model: :meth:`ModelSide._relax_many`, its batched forward pass) and
        each is stored. A structure given twice is relaxed once.

        Parameters
        ----------
        structures
            Initial structures.
        settings
            The same for all (resolved here).
        parent_ids
            Index-aligned with ``structures`` (see :meth:`relax`).

        Returns
        -------
        list[RelaxationDoc]
            Index-aligned with ``structures``.
        """
        parents = list(parent_ids) if parent_ids is not None else [None] * len(structures)
        if len(parents) != len(structures):
            raise ValueError(f"{len(parents)} parent_ids for {len(structures)} structures")
        resolved = self.resolve(settings)
        ids = [relaxation_id(s, self.key_for(s), resolved) for s in structures]
        found: dict[str, RelaxationDoc] = {}
        todo: dict[str, int] = {}
        for k, relax_id in enumerate(ids):
            if relax_id in found or relax_id in todo:
                continue
            stored = self.cache.get(relax_id) if self.cache is not None else None
            if stored is not None:
                found[relax_id] = self._report(stored)
            else:
                todo[relax_id] = k
        if todo and (self.claimed or type(self)._relax_many is Side._relax_many):
            # one at a time: each stored as it ends (a killed worker redoes one), and a
            # costly side's under its claim (two campaigns never run the same one)
            for relax_id, k in todo.items():
                found[relax_id] = self.relax(structures[k], settings, parent_id=parents[k])
        elif todo:
            docs = self._relax_many(
                [structures[k] for k in todo.values()],
                resolved,
                list(todo),
                [parents[k] for k in todo.values()],
            )
            for relax_id, doc in zip(todo, docs, strict=True):
                found[relax_id] = self._store(doc)
        return [found[relax_id] for relax_id in ids]

    def _relax_many(
        self,
        structures: list[Structure],
        settings: RelaxSettings,
        relax_ids: list[str],
        parent_ids: list[str | None],
    ) -> list[RelaxationDoc]:
        """Run the relaxations (settings resolved); one by one unless a side batches them."""
        return [
            self._relax(s, settings, relax_id, parent)
            for s, relax_id, parent in zip(structures, relax_ids, parent_ids, strict=True)
        ]

    def _store(self, doc: RelaxationDoc) -> RelaxationDoc:
        """Tag ``doc`` with the campaign, store it in the cache and report it."""
        if self.campaign is not None:
            doc = doc.model_copy(update={"campaign": self.campaign, "campaigns": [self.campaign]})
        if self.cache is not None:
            self.cache.put(doc)
        return self._report(doc)

    def _report(self, doc: RelaxationDoc) -> RelaxationDoc:
        if self.on_relaxed is not None:
            self.on_relaxed(doc)
        return doc

    @abstractmethod
    def _relax(
        self, structure: Structure, settings: RelaxSettings, relax_id: str, parent_id: str | None
    ) -> RelaxationDoc:
        """Run the relaxation (settings resolved)."""
