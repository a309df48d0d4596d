"""The six categories by name: their parameters, their generators, and their documents."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ase.calculators.calculator import Calculator
from pydantic import ValidationError
from pymatgen.core import Structure

from pesbench.schemas.ids import structure_id
from pesbench.schemas.structure import CATEGORIES, GenerationDoc, StructureDoc
from pesbench.structures.common import (
    Generation,
    GenerationParameterError,
    GeneratorParams,
    clean_structure,
)
from pesbench.structures.defect import DefectParams, generate_defects
from pesbench.structures.high_energy import HighEnergyParams, generate_high_energy
from pesbench.structures.migration import MigrationParams, generate_migration
from pesbench.structures.phonon import PhononParams, generate_phonon_displacements
from pesbench.structures.solid_solution import SolidSolutionParams, generate_solid_solutions
from pesbench.structures.surface import SurfaceParams, generate_surfaces

__all__ = ["GENERATORS", "CategoryGenerator", "generate", "get_generator", "resolve_params"]


@dataclass(frozen=True)
class CategoryGenerator:
    """A category's parameter model and generating function."""

    name: str
    params: type[GeneratorParams]
    function: Callable[..., Generation]

    @property
    def dotted_name(self) -> str:
        """Module and name of the function, as recorded in the documents."""
        return f"{self.function.__module__}.{self.function.__qualname__}"


GENERATORS: dict[str, CategoryGenerator] = {
    "surface": CategoryGenerator("surface", SurfaceParams, generate_surfaces),
    "defect": CategoryGenerator("defect", DefectParams, generate_defects),
    "solid_solution": CategoryGenerator(
        "solid_solution", SolidSolutionParams, generate_solid_solutions
    ),
    "migration": CategoryGenerator("migration", MigrationParams, generate_migration),
    "phonon": CategoryGenerator("phonon", PhononParams, generate_phonon_displacements),
    "high_energy": CategoryGenerator("high_energy", HighEnergyParams, generate_high_energy),
}
assert tuple(GENERATORS) == CATEGORIES


def get_generator(category: str) -> CategoryGenerator:
    """The generator of ``category``; an unknown name raises with the known ones."""
    try:
        return GENERATORS[category]
    except KeyError:
        close = difflib.get_close_matches(category, GENERATORS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise GenerationParameterError(
            f"unknown category {category!r}{hint}; choose one of: {', '.join(GENERATORS)}"
        ) from None


def resolve_params(category: str, overrides: Mapping[str, Any] | None = None) -> GeneratorParams:
    """The full parameters of ``category``: its defaults, updated by ``overrides``.

    Raises
    ------
    GenerationParameterError
        Unknown category, unknown parameter (named, with the known ones), or a bad value.
    """
    generator = get_generator(category)
    overrides = dict(overrides or {})
    known = list(generator.params.model_fields)
    for key in overrides:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise GenerationParameterError(
                f"unknown parameter {key!r} for category {category!r}{hint}; "
                f"known: {', '.join(known)}"
            )
    try:
        return generator.params(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise GenerationParameterError(
            f"bad parameter for category {category!r}: {problems}"
        ) from None


def _params_of(
    generator: CategoryGenerator,
    category: str,
    parameters: Mapping[str, Any] | GeneratorParams | None,
) -> GeneratorParams:
    """The category's parameters: a complete model checked, else defaults with overrides."""
    if isinstance(parameters, GeneratorParams):
        params = parameters
        if not isinstance(params, generator.params):
            raise GenerationParameterError(
                f"{type(params).__name__} are not the parameters of category {category!r}"
            )
    else:
        params = resolve_params(category, parameters)
    return params


def generate(
    bulk: Structure,
    category: str,
    parameters: Mapping[str, Any] | GeneratorParams | None = None,
    *,
    source: str | None = None,
    calculator: Calculator | None = None,
) -> GenerationDoc:
    """Run one category's generator on ``bulk`` and return the documents.

    Parameters
    ----------
    bulk
        Ordered bulk crystal (see :func:`pesbench.structures.io.check_structure`).
    category
        One of :data:`pesbench.schemas.structure.CATEGORIES`.
    parameters
        Overrides of the category's defaults (or a complete parameter model).
    source
        File the bulk came from, recorded in the documents.
    calculator
        ASE calculator of the ``high_energy`` MD (ignored by the other categories).

    Returns
    -------
    GenerationDoc
        One :class:`StructureDoc` per structure, and the candidates skipped with why.
    """
    generator = get_generator(category)
    bulk = clean_structure(bulk)
    params = _params_of(generator, category, parameters)
    if category == "high_energy":
        generation = generator.function(bulk, params, calculator=calculator)
    else:
        generation = generator.function(bulk, params)
    dumped, parent_id = params.model_dump(mode="json"), structure_id(bulk)
    docs = [
        StructureDoc.from_structure(
            item.structure,
            category=category,
            role=item.role,
            parent=bulk,
            generator=generator.dotted_name,
            parameters=dumped,
            details=item.details,
            seed=dumped.get("seed"),
            source=source,
            parent_id=parent_id,
        )
        for item in generation.structures
    ]
    return GenerationDoc(
        category=category,  # type: ignore[arg-type]
        parent_id=parent_id,
        source=source,
        parameters=dumped,
        structures=docs,
        skipped=generation.skipped,
    )
