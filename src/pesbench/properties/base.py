"""One category's properties on one side, the way matcalc and the softening paper do.

Relax the bulk, rebuild the category from it, relax every term, compute.

Every side starts from the same unrelaxed bulk and relaxes it itself (cell and positions).
The category's structures are then generated again from that side's relaxed bulk with the
same generator and parameters (same seed), so each side's slabs, defect supercells,
orderings, paths and displacements sit on its own lattice: a model is never charged for
the strain of the DFT lattice, nor the other way round. Each term is relaxed by the side
with the same constraints on every side, and a property uses that side's terms only.

:func:`compute_properties` is the entry point; the categories' calculators
(``pesbench.properties.<category>``) receive a :class:`PropertyContext`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymatgen.core import Structure

from pesbench.properties.sides import Side
from pesbench.schemas.ids import structure_id
from pesbench.schemas.property import PropertyDoc, PropertySetDoc, property_set_id
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings
from pesbench.schemas.structure import GenerationDoc
from pesbench.structures.common import clean_structure
from pesbench.structures.registry import generate, resolve_params

__all__ = ["CALCULATORS", "PropertyContext", "calculation_id", "compute_properties", "register"]

Calculator = Callable[["PropertyContext"], None]
CALCULATORS: dict[str, Calculator] = {}
"""Category -> its calculator (filled by :func:`register` in each category's module)."""


def register(category: str) -> Callable[[Calculator], Calculator]:
    """Register a category's calculator."""

    def wrap(function: Calculator) -> Calculator:
        CALCULATORS[category] = function
        return function

    return wrap


@dataclass
class PropertyContext:
    """What a category's calculator works with, and what it adds to.

    Attributes
    ----------
    side
        Who computes.
    category, parameters
        The category and its full generator parameters.
    bulk
        The relaxation of the given bulk (cell and positions): ``bulk.final_structure``.
    thresholds
        fmax, max_steps and optimizer of every relaxation (constraints set per term).
    """

    side: Side
    category: str
    parameters: dict[str, Any]
    bulk: RelaxationDoc
    thresholds: RelaxSettings
    set_id: str
    material: str
    bulk_id: str
    properties: list[PropertyDoc] = field(default_factory=list)
    relaxations: list[RelaxationDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def relaxed_bulk(self) -> Structure:
        """The side's relaxed bulk."""
        assert self.bulk.final_structure is not None
        return self.bulk.final_structure

    def generation(self, structure: Structure | None = None) -> GenerationDoc:
        """The category's structures generated from ``structure`` (default: relaxed bulk)."""
        return generate(structure or self.relaxed_bulk, self.category, self.parameters)

    def relax(
        self,
        structure: Structure,
        what: str,
        *,
        cell: bool = False,
        fixed: tuple[int, ...] = (),
        static: bool = False,
        side: Side | None = None,
    ) -> RelaxationDoc | None:
        """Relax one term (positions only unless ``cell``); None, with a note, if it failed.

        ``what`` names the term in the note; ``side`` replaces the context's side (e.g.
        its :meth:`~pesbench.properties.sides.Side.open_shell` variant).
        """
        return self.relax_many(
            [structure], [what], cell=cell, fixed=fixed, static=static, side=side
        )[0]

    def relax_many(
        self,
        structures: Sequence[Structure],
        whats: Sequence[str],
        *,
        cell: bool = False,
        fixed: tuple[int, ...] = (),
        static: bool = False,
        side: Side | None = None,
    ) -> list[RelaxationDoc | None]:
        """Relax several terms with the same constraints, together where the side can.

        As :meth:`relax` on each in turn (same documents, notes and order), but a model
        side evaluates them in batched forward passes
        (:meth:`~pesbench.properties.sides.Side.relax_many`).
        """
        if static:
            settings = RelaxSettings.static()
        else:
            settings = self.thresholds.model_copy(
                update={"relax_cell": cell, "fix_indices": tuple(sorted(set(fixed)))}
            )
        docs = (side or self.side).relax_many(
            structures, settings, parent_ids=[self.bulk_id] * len(structures)
        )
        out: list[RelaxationDoc | None] = []
        for doc, what in zip(docs, whats, strict=True):
            self.relaxations.append(doc)
            if doc.status != "success" or doc.energy is None:
                self.notes.append(f"{what}: {doc.failure_reason or 'failed'}")
                out.append(None)
            else:
                out.append(doc)
        return out

    def result(self, seconds: float) -> PropertySetDoc:
        """The calculation's document: its values, relaxations and notes."""
        return PropertySetDoc(
            property_set_id=self.set_id,
            category=self.category,  # type: ignore[arg-type]
            material=self.material,
            bulk_id=self.bulk_id,
            side=self.side.label,
            side_kind=self.side.kind,
            side_key=self.side.key,
            functional=self.side.functional,
            parameters=self.parameters,
            relax=self.thresholds,
            properties=self.properties,
            relaxations=self.relaxations,
            notes=self.notes,
            wall_time_s=seconds,
            campaign=self.side.campaign,
        )

    def add(
        self,
        name: str,
        label: str,
        value: float | None,
        unit: str,
        terms: Mapping[str, RelaxationDoc],
        *,
        values: list[float] | None = None,
        **details: Any,
    ) -> PropertyDoc:
        """Record one property value computed from ``terms`` (role -> relaxation)."""
        doc = PropertyDoc(
            property_id=f"{self.set_id}:{name}:{label}",
            property_set_id=self.set_id,
            category=self.category,  # type: ignore[arg-type]
            material=self.material,
            bulk_id=self.bulk_id,
            name=name,
            label=label,
            unit=unit,
            value=value,
            values=values,
            side=self.side.label,
            side_kind=self.side.kind,
            side_key=self.side.key,
            functional=self.side.functional,
            terms={role: term.relaxation_id for role, term in terms.items()},
            details=details,
            campaign=self.side.campaign,
        )
        self.properties.append(doc)
        return doc


def calculation_id(
    category: str,
    bulk: Structure,
    side: Side,
    parameters: Mapping[str, Any] | None = None,
    thresholds: RelaxSettings | None = None,
) -> tuple[str, dict[str, Any], RelaxSettings]:
    """The ``property_set_id`` of a calculation, its full parameters and its thresholds.

    Raises
    ------
    ValueError
        For a category without a calculator; bad parameters raise the generator's error.
    """
    if category not in CALCULATORS:
        known = ", ".join(sorted(CALCULATORS))
        raise ValueError(f"no property calculator for category {category!r}; known: {known}")
    params = resolve_params(category, parameters).model_dump(mode="json")
    resolved = side.resolve(thresholds or RelaxSettings())
    bulk_id = structure_id(clean_structure(bulk))
    return property_set_id(category, bulk_id, side.key, params, resolved), params, resolved


def compute_properties(
    category: str,
    bulk: Structure,
    side: Side,
    *,
    parameters: Mapping[str, Any] | None = None,
    thresholds: RelaxSettings | None = None,
) -> PropertySetDoc:
    """Relax ``bulk`` on ``side``, rebuild ``category`` from it, and compute its properties.

    Parameters
    ----------
    category
        One of the six categories.
    bulk
        The unrelaxed bulk crystal, the same for every side.
    side
        Who computes (:class:`~pesbench.properties.sides.ModelSide` or ``EngineSide``).
    parameters
        Overrides of the category's generator parameters.
    thresholds
        fmax, max_steps and optimizer (default: the relax_fmax and relax_steps settings).

    Returns
    -------
    PropertySetDoc
        The values, every relaxation used (the bulk first), and a note for each value
        that could not be computed, with why.
    """
    start = time.perf_counter()
    set_id, params, thresholds = calculation_id(category, bulk, side, parameters, thresholds)
    bulk = clean_structure(bulk)
    bulk_id = structure_id(bulk)
    first = side.relax(bulk, thresholds.model_copy(update={"relax_cell": True}), parent_id=bulk_id)
    ctx = PropertyContext(
        side=side,
        category=category,
        parameters=params,
        bulk=first,
        thresholds=thresholds,
        set_id=set_id,
        material=bulk.composition.reduced_formula,
        bulk_id=bulk_id,
        relaxations=[first],
    )
    if first.status == "success" and first.final_structure is not None:
        CALCULATORS[category](ctx)
    else:
        ctx.notes.append(f"bulk relaxation: {first.failure_reason or 'failed'}")
    return ctx.result(time.perf_counter() - start)
