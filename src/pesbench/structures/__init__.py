"""Pure generators of out-of-distribution structures, one module per category.

No jobflow, no database: :func:`generate` runs a category on one bulk structure and returns
its documents; :func:`load_structures` reads and checks a batch of input files.
"""

from __future__ import annotations

from pesbench.structures.common import (
    GeneratedStructure,
    Generation,
    GenerationParameterError,
    StructureInputError,
)
from pesbench.structures.defect import DefectParams, generate_defects
from pesbench.structures.high_energy import HighEnergyParams, generate_high_energy
from pesbench.structures.io import check_structure, load_structure, load_structures
from pesbench.structures.migration import MigrationParams, generate_migration
from pesbench.structures.phonon import (
    PhononParams,
    generate_phonon_displacements,
    rebuild_phonopy,
)
from pesbench.structures.registry import GENERATORS, generate, get_generator, resolve_params
from pesbench.structures.solid_solution import SolidSolutionParams, generate_solid_solutions
from pesbench.structures.surface import SurfaceParams, generate_surfaces

__all__ = [
    "GENERATORS",
    "DefectParams",
    "GeneratedStructure",
    "Generation",
    "GenerationParameterError",
    "HighEnergyParams",
    "MigrationParams",
    "PhononParams",
    "SolidSolutionParams",
    "StructureInputError",
    "SurfaceParams",
    "check_structure",
    "generate",
    "generate_defects",
    "generate_high_energy",
    "generate_migration",
    "generate_phonon_displacements",
    "generate_solid_solutions",
    "generate_surfaces",
    "get_generator",
    "load_structure",
    "load_structures",
    "rebuild_phonopy",
    "resolve_params",
]
