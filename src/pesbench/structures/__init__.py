"""Pure generators of out-of-distribution structures, one module per category.

No jobflow, no database: :func:`generate` runs a category on one bulk structure and returns
its documents; :func:`load_structures` reads and checks a batch of input files.

Names load with their module on first use (PEP 562): reading structure files
(``pesbench.structures.io``, what ``pesbench predict`` needs) does not import phonopy and
the other generators' libraries (~140 MB of a prediction process, issue 14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pesbench.lazy import lazy_exports

if TYPE_CHECKING:
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

_MODULE_OF = {
    "GeneratedStructure": "common",
    "Generation": "common",
    "GenerationParameterError": "common",
    "StructureInputError": "common",
    "DefectParams": "defect",
    "generate_defects": "defect",
    "HighEnergyParams": "high_energy",
    "generate_high_energy": "high_energy",
    "check_structure": "io",
    "load_structure": "io",
    "load_structures": "io",
    "MigrationParams": "migration",
    "generate_migration": "migration",
    "PhononParams": "phonon",
    "generate_phonon_displacements": "phonon",
    "rebuild_phonopy": "phonon",
    "GENERATORS": "registry",
    "generate": "registry",
    "get_generator": "registry",
    "resolve_params": "registry",
    "SolidSolutionParams": "solid_solution",
    "generate_solid_solutions": "solid_solution",
    "SurfaceParams": "surface",
    "generate_surfaces": "surface",
}


__getattr__ = lazy_exports(__name__, _MODULE_OF)
