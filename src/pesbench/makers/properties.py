"""Relaxations and properties as jobflow Makers.

A relax maker per side, a property maker per category, and a Flow maker over bulks,
categories and sides.

- :class:`RelaxMaker` names a side (``model=None``: the DFT engine at ``functional``; else
  a uMLIP id) and its thresholds; ``make`` relaxes one structure. The same Maker builds
  the :class:`~pesbench.properties.sides.Side` the property jobs use, so a side is
  configured in one place and swapped with ``update_kwargs(..., class_filter=RelaxMaker)``.
- :class:`PropertyMaker` computes one category's properties of one bulk on the side of
  its ``relax_maker`` (:func:`~pesbench.properties.compute_properties`).
- :class:`PropertyFlowMaker` fans out over bulks, categories, the DFT side and every model.

With ``store=True`` (default) every relaxation is looked up in the ``relaxations``
collection before it runs and stored when it ends, and a calculation already in
``property_sets`` is returned without computing: a rerun recomputes nothing, and a
killed job redoes at most the relaxation it was in.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, Maker
from pymatgen.core import Structure

from pesbench.engines.base import get_engine
from pesbench.makers.base import pesbench_job
from pesbench.mlip import worker_model
from pesbench.properties import EngineSide, ModelSide, Side, calculation_id, compute_properties
from pesbench.schemas.base import Functional
from pesbench.schemas.property import PropertySetDoc
from pesbench.schemas.relaxation import Optimizer, RelaxationDoc, RelaxSettings
from pesbench.settings import get_settings
from pesbench.stores.properties import (
    PropertySetStore,
    RelaxationStore,
    join_property_set,
    save_property_set,
)

__all__ = ["PropertyFlowMaker", "PropertyMaker", "RelaxMaker"]


@dataclass
class RelaxMaker(Maker):
    """Relax one structure on one side: a uMLIP (``model``) or the DFT engine.

    Parameters
    ----------
    name
        Job name.
    model
        uMLIP id (:mod:`pesbench.mlip.ids`); None: the DFT engine.
    functional
        DFT functional (DFT side).
    engine
        DFT engine (gpaw, vasp, or module:Class); None: the ``dft_engine`` setting.
    overrides
        DFT engine overrides.
    timeout_s
        Wall-time limit of a DFT run (s), instead of the ``dft_timeout_s`` setting.
    calculator_kwargs
        Keyword arguments of an ``ase:`` model.
    device
        uMLIP device; None: the ``device`` setting.
    fmax, max_steps, optimizer
        Thresholds; None: the ``relax_fmax`` and ``relax_steps`` settings.
    relax_cell
        :meth:`make` relaxes the cell too.
    fix_indices
        :meth:`make` holds these atoms fixed.
    store
        Look relaxations up in, and store them to, the ``relaxations`` collection.
    """

    name: str = "relax"
    model: str | None = None
    functional: Functional = "PBE"
    engine: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    calculator_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    fmax: float | None = None
    max_steps: int | None = None
    optimizer: Optimizer = "BFGS"
    relax_cell: bool = True
    fix_indices: list[int] = field(default_factory=list)
    store: bool = True

    @property
    def is_dft(self) -> bool:
        """Whether this side is the DFT engine."""
        return self.model is None

    def thresholds(self) -> RelaxSettings:
        """fmax, max_steps and optimizer (constraints are set per term)."""
        return RelaxSettings(fmax=self.fmax, max_steps=self.max_steps, optimizer=self.optimizer)

    def side(
        self,
        *,
        cache: RelaxationStore | None = None,
        campaign: str | None = None,
        workdir: Path | None = None,
    ) -> Side:
        """The side this Maker names (the model loaded and checked, or the engine built)."""
        settings = get_settings()
        if self.model is None:
            if self.timeout_s is not None:
                settings = settings.model_copy(update={"dft_timeout_s": self.timeout_s})
            return EngineSide(
                get_engine(self.engine, settings),
                self.functional,
                overrides=self.overrides,
                workdir=workdir or Path.cwd(),
                cache=cache,
                settings=settings,
                campaign=campaign,
            )
        predictor = worker_model(
            self.model,
            device=self.device,
            calculator_kwargs=self.calculator_kwargs or None,
            settings=settings,
        )
        return ModelSide(predictor, cache=cache, settings=settings, campaign=campaign)

    @pesbench_job
    def make(self, structure: Structure, campaign: str | None = None) -> RelaxationDoc:
        """Relax ``structure`` (or return its stored relaxation); failures are documents."""
        settings = self.thresholds().model_copy(
            update={"relax_cell": self.relax_cell, "fix_indices": tuple(self.fix_indices)}
        )
        with ExitStack() as stack:
            cache = stack.enter_context(RelaxationStore()) if self.store else None
            side = self.side(cache=cache, campaign=campaign)  # type: ignore[arg-type]
            return side.relax(structure, settings)


@dataclass
class PropertyMaker(Maker):
    """One category's properties of one bulk on the side of ``relax_maker``.

    Parameters
    ----------
    name
        Job name (``"properties <category>"`` when empty).
    category
        One of the six categories.
    parameters
        Overrides of the category's generator parameters.
    relax_maker
        The side and its thresholds.
    store
        Use and fill the ``relaxations``, ``properties`` and ``property_sets`` collections.
    """

    name: str = ""
    category: str = "surface"
    parameters: dict[str, Any] = field(default_factory=dict)
    relax_maker: RelaxMaker = field(default_factory=RelaxMaker)
    store: bool = True

    def __post_init__(self) -> None:
        self.name = self.name or f"properties {self.category}"

    @pesbench_job
    def make(self, bulk: Structure, campaign: str | None = None) -> PropertySetDoc:
        """Relax ``bulk``, rebuild the category from it, relax every term, compute."""
        with ExitStack() as stack:
            cache = stack.enter_context(RelaxationStore()) if self.store else None
            side = self.relax_maker.side(cache=cache, campaign=campaign)  # type: ignore[arg-type]
            thresholds = self.relax_maker.thresholds()
            set_id, _, _ = calculation_id(self.category, bulk, side, self.parameters, thresholds)
            if self.store:
                with PropertySetStore() as sets:
                    stored = sets.get(set_id)
                if stored is not None:
                    if campaign is not None and campaign not in stored.campaigns:
                        join_property_set(stored, campaign)
                        stored.campaigns.append(campaign)
                    return stored
            result = compute_properties(
                self.category, bulk, side, parameters=self.parameters, thresholds=thresholds
            )
        if self.store:
            save_property_set(result)
        return result


@dataclass
class PropertyFlowMaker(Maker):
    """Properties of every bulk and category, on the DFT side and on every model.

    Parameters
    ----------
    name
        Flow name.
    categories
        Category -> generator parameter overrides.
    dft_relax_maker
        The DFT side; None: models only.
    model_relax_maker
        The model side's template: one copy per model of ``models``.
    models
        Model ids; None: ``model_relax_maker.model`` alone.
    functionals
        DFT functionals, one DFT side each; None: ``dft_relax_maker.functional`` alone.
    """

    name: str = "properties"
    categories: dict[str, dict[str, Any]] = field(default_factory=lambda: {"surface": {}})
    dft_relax_maker: RelaxMaker | None = field(default_factory=RelaxMaker)
    model_relax_maker: RelaxMaker = field(default_factory=lambda: RelaxMaker(model="chgnet-0.3.0"))
    models: list[str] | None = None
    functionals: list[Functional] | None = None

    def relax_makers(self) -> list[RelaxMaker]:
        """Every side: the DFT one first, then one per model."""
        models = self.models if self.models is not None else [self.model_relax_maker.model]
        sides = []
        if self.dft_relax_maker is not None:
            functionals = self.functionals or [self.dft_relax_maker.functional]
            sides += [replace(self.dft_relax_maker, functional=f) for f in functionals]
        sides += [replace(self.model_relax_maker, model=m) for m in models if m]
        return sides

    def make(self, bulks: Sequence[Structure], campaign: str | None = None) -> Flow:
        """One property job per (bulk, category, side)."""
        jobs: list[Job | Flow] = []
        for bulk in bulks:
            formula = bulk.composition.reduced_formula
            for category, params in self.categories.items():
                for relax in self.relax_makers():
                    maker = PropertyMaker(category=category, parameters=params, relax_maker=relax)
                    step = maker.make(bulk, campaign=campaign)
                    who = relax.model or f"{relax.functional} DFT"
                    step.name = f"properties {category} {formula} {who}"
                    jobs.append(step)
        return Flow(jobs, output=[step.output for step in jobs], name=self.name)
