"""The two kinds of side that compute a property: a DFT engine, and a uMLIP.

A :class:`Side` relaxes structures (:meth:`Side.relax`) with the same
:class:`~pesbench.schemas.relaxation.RelaxSettings` whatever computes, and returns a
:class:`~pesbench.schemas.relaxation.RelaxationDoc`; a single point is a relaxation of
zero steps (``RelaxSettings.static()``). With a cache (:class:`RelaxationCache`, e.g. the
``relaxations`` collection) a relaxation already stored for the same structure, side and
settings is returned instead of recomputed, and each new one is stored as soon as it
finishes: a killed worker redoes at most the relaxation it was in.
:meth:`Side.relax_many` relaxes a list with the same settings: stored ones are looked up
first, the others run together where the side can (a model: one batched forward pass per
optimizer step, :func:`pesbench.relax.relax_many`) and each is stored as the batch ends
(a killed worker redoes that batch).

- :class:`ModelSide`: a loaded :class:`~pesbench.mlip.base.Predictor`, wrapped as an ASE
  calculator (:class:`PredictorCalculator`) and relaxed by :func:`pesbench.relax.relax_atoms`.
- :class:`EngineSide`: a DFT engine whose ``relax`` method runs the same loop where its
  calculator lives (in process for EMT, on the MPI ranks for GPAW), or VASP's own ionic
  loop under custodian (:mod:`pesbench.engines.vasp.relax`); an engine without ``relax``
  is refused with a clear error.
"""

from __future__ import annotations

import logging
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.analysis.conventions import raw_energy
from pesbench.engines.base import DFTEngine, EngineError
from pesbench.errors import DatabaseError
from pesbench.mlip.base import EV_PER_A3_TO_GPA, Predictor
from pesbench.relax import RelaxOutcome, relax_atoms, relax_many
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import hash_inputs
from pesbench.schemas.relaxation import (
    RelaxationDoc,
    RelaxFrames,
    RelaxSettings,
    SideKind,
    relaxation_id,
)
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "EngineSide",
    "ModelSide",
    "PredictorCalculator",
    "RelaxationCache",
    "Side",
    "outcome_to_doc",
    "predict_ase",
]

_log = logging.getLogger(__name__)


class RelaxationCache(Protocol):
    """Where relaxations are looked up before running and stored after."""

    def get(self, relaxation_id: str) -> RelaxationDoc | None:
        """The stored relaxation, or None."""
        ...

    def put(self, doc: RelaxationDoc) -> None:
        """Store ``doc`` (an upsert on its relaxation_id)."""
        ...


def predict_ase(
    predictor: Predictor, structures: Sequence[Atoms], atom_budget: int | None = None
) -> list[dict[str, Any] | str]:
    """A model's results for ASE structures, in one :meth:`~Predictor.predict` call.

    Parameters
    ----------
    predictor
        The model; its forward passes are batched by ``atom_budget`` atoms.
    structures
        ASE ``Atoms`` (converted with pymatgen's ``AseAtomsAdaptor``).
    atom_budget
        Most atoms per forward pass (default: the model's for its device).

    Returns
    -------
    list
        Per structure, the results an ASE calculator holds (``energy``, ``free_energy``,
        ``forces``, Voigt ``stress`` in eV/Å³, ASE's sign), or ``"<model id>: <reason>"``
        where the model has none (:data:`pesbench.relax.Evaluate`).
    """
    preds = predictor.predict(
        [AseAtomsAdaptor.get_structure(atoms) for atoms in structures], atom_budget=atom_budget
    )
    out: list[dict[str, Any] | str] = []
    for k in range(len(structures)):
        if preds.failures[k] is not None:
            out.append(f"{predictor.model_id}: {preds.failures[k]}")
            continue
        stress = np.asarray(preds.stresses[k]) / EV_PER_A3_TO_GPA  # GPa -> eV/Å³
        energy = float(preds.energies[k])  # type: ignore[arg-type]
        out.append(
            {
                "energy": energy,
                "free_energy": energy,
                "forces": np.asarray(preds.forces[k]),
                "stress": stress.reshape(3, 3)[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]],
            }
        )
    return out


class PredictorCalculator(Calculator):
    """A :class:`~pesbench.mlip.base.Predictor` as an ASE calculator (one structure a call).

    A structure the model cannot handle raises ``RuntimeError`` with the model's reason.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, predictor: Predictor) -> None:
        super().__init__()
        self.predictor = predictor

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        """Predict energy, forces and stress of ``atoms``."""
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        result = predict_ase(self.predictor, [self.atoms])[0]
        if isinstance(result, str):
            raise RuntimeError(result)
        self.results = result


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


class ModelSide(Side):
    """A uMLIP relaxing its own copy of every structure.

    Parameters
    ----------
    predictor
        The loaded model.
    atom_budget
        Most atoms per forward pass of :meth:`relax_many` (default: the model's for its
        device, :data:`~pesbench.mlip.base.DEFAULT_ATOM_BUDGET`).
    """

    kind = "model"

    def __init__(
        self, predictor: Predictor, *, atom_budget: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.predictor = predictor
        self.atom_budget = atom_budget

    @property
    def label(self) -> str:
        """The model id."""
        return self.predictor.model_id

    @property
    def key(self) -> str:
        """``model:<id>:<weights checksum>``."""
        return f"model:{self.predictor.model_id}:{self.predictor.info.checksum}"

    @property
    def functional(self) -> str | None:
        """The training functional."""
        return self.predictor.info.functional

    def raw_energy(self, doc: RelaxationDoc) -> float:
        """The model's final energy less its MP2020 correction, if it predicts corrected ones."""
        assert doc.energy is not None
        structure = doc.final_structure or doc.structure
        return raw_energy(float(doc.energy), structure, self.predictor.info)

    def _relax(
        self, structure: Structure, settings: RelaxSettings, relax_id: str, parent_id: str | None
    ) -> RelaxationDoc:
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = PredictorCalculator(self.predictor)
        try:
            outcome = relax_atoms(atoms, **settings.optimizer_kwargs())
        except RuntimeError as exc:
            outcome = RelaxOutcome(converged=False, n_steps=0, reason=str(exc)[:300])
        return outcome_to_doc(
            structure, outcome, side=self, settings=settings, relax_id=relax_id, parent_id=parent_id
        )

    def _relax_many(
        self,
        structures: list[Structure],
        settings: RelaxSettings,
        relax_ids: list[str],
        parent_ids: list[str | None],
    ) -> list[RelaxationDoc]:
        """All structures in lock step, one batched forward pass per optimizer step.

        :func:`pesbench.relax.relax_many`: each structure has its own ASE optimizer, as in
        :meth:`relax`, so the minima are those of one-by-one relaxations.
        """
        atoms = [AseAtomsAdaptor.get_atoms(s) for s in structures]

        def evaluate(batch: Sequence[Atoms]) -> list[dict[str, Any] | str]:
            return predict_ase(self.predictor, batch, self.atom_budget)

        outcomes = relax_many(atoms, evaluate, **settings.optimizer_kwargs())
        return [
            outcome_to_doc(s, outcome, side=self, settings=settings, relax_id=rid, parent_id=pid)
            for s, outcome, rid, pid in zip(
                structures, outcomes, relax_ids, parent_ids, strict=True
            )
        ]


class EngineSide(Side):
    """A DFT engine at one functional relaxing its own copy of every structure.

    Parameters
    ----------
    engine
        Built by :func:`~pesbench.engines.base.get_engine`; it must have a ``relax`` method.
    functional
        Level of theory.
    overrides
        Engine overrides of every run (``input_settings`` hashes them).
    workdir
        Parent folder of the run folders.
    """

    kind = "dft"
    claimed = True  # a DFT relaxation is hours: two campaigns must not both run it

    def __init__(
        self,
        engine: DFTEngine,
        functional: Functional,
        *,
        overrides: dict[str, Any] | None = None,
        workdir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(getattr(engine, "relax", None)):
            raise EngineError(f"DFT engine {engine.name!r} cannot relax structures yet")
        self.engine = engine
        self._functional = functional
        self.overrides = dict(overrides or {})
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()

    @property
    def label(self) -> str:
        """'PBE (gpaw)'-like."""
        return f"{self._functional} ({self.engine.name})"

    @property
    def key(self) -> str:
        """``dft:<engine>:<functional>:<hash of the overrides>``."""
        return f"dft:{self.engine.name}:{self._functional}:{hash_inputs(self.overrides)}"

    @property
    def functional(self) -> str | None:
        """The DFT functional."""
        return self._functional

    def open_shell(self) -> EngineSide:
        """The same engine with the override ``spin_polarized: True``.

        The engine starts from ferromagnetic moments and lets them relax.
        """
        if self.overrides.get("spin_polarized"):
            return self
        return EngineSide(
            self.engine,
            self._functional,
            overrides={**self.overrides, "spin_polarized": True},
            workdir=self.workdir,
            cache=self.cache,
            settings=self.settings,
            campaign=self.campaign,
        )

    def key_for(self, structure: Structure) -> str:
        """With the hash of the engine's input settings for ``structure`` (k-mesh, spin)."""
        inputs = self.engine.input_settings(structure, self._functional, self.overrides or None)
        return f"dft:{self.engine.name}:{self._functional}:{hash_inputs(inputs)}"

    def _relax(
        self, structure: Structure, settings: RelaxSettings, relax_id: str, parent_id: str | None
    ) -> RelaxationDoc:
        inputs = self.engine.input_settings(structure, self._functional, self.overrides or None)
        run_dir = self.workdir / f"relax_{relax_id[:16]}_{int(time.time())}"
        outcome = self._run(structure, run_dir, settings)
        doc = outcome_to_doc(
            structure,
            outcome,
            side=self,
            settings=settings,
            relax_id=relax_id,
            parent_id=parent_id,
            input_hash=hash_inputs(inputs),
            input_settings=inputs,
            run_dir=f"{socket.gethostname()}:{run_dir}",
        )
        if settings.relax_cell and doc.status == "success" and doc.final_structure is not None:
            doc = self._final_single_point(doc, run_dir / "final_single_point")
        return doc

    def _run(self, structure: Structure, run_dir: Path, settings: RelaxSettings) -> RelaxOutcome:
        return self.engine.relax(  # type: ignore[attr-defined]
            structure,
            self._functional,
            run_dir,
            settings=settings,
            overrides=self.overrides or None,
        )

    def _final_single_point(self, doc: RelaxationDoc, run_dir: Path) -> RelaxationDoc:
        """A cell relaxation's energy, forces and stress again, fresh at the relaxed cell.

        The engine keeps the initial cell's basis and k-mesh through a cell relaxation, so
        its last frame is not what a calculation of the relaxed cell gives (with a k-mesh
        by density the mesh itself may differ). Every other term is a fresh calculation
        of its own cell: so is this one (atomate2's relax-then-static).
        """
        assert doc.final_structure is not None
        static = self.resolve(RelaxSettings.static())
        outcome = self._run(doc.final_structure, run_dir, static)
        if not outcome.energies:
            reason = f"single point at the relaxed cell failed: {outcome.reason}"
            return doc.model_copy(update={"status": "failed", "failure_reason": reason})
        final = outcome_to_doc(
            doc.final_structure, outcome, side=self, settings=static, relax_id=doc.relaxation_id
        )
        return doc.model_copy(
            update={
                "energy": final.energy,
                "energy_per_atom": final.energy_per_atom,
                "forces": final.forces,
                "stress": final.stress,
                "final_single_point": True,
            }
        )
