"""VASP through atomate2's input sets and custodian; parsing of run folders."""

from __future__ import annotations

from pesbench.engines.vasp.engine import START_FILES, VaspEngine, potcar_dir
from pesbench.engines.vasp.parse import (
    KBAR_TO_GPA,
    NotAVaspRunError,
    find_run_dirs,
    parse_run_dir,
    read_corrections,
)
from pesbench.engines.vasp.physics import (
    UnsupportedRunError,
    functional_from_incar,
    physics_settings,
)
from pesbench.engines.vasp.presets import DEFAULT_PRESET, PRESETS, input_set_generator
from pesbench.engines.vasp.relax import outcome_from_run, relax_incar
from pesbench.engines.vasp.run import RELAX_HANDLERS, VaspRunError, run_vasp

__all__ = [
    "DEFAULT_PRESET",
    "KBAR_TO_GPA",
    "PRESETS",
    "RELAX_HANDLERS",
    "START_FILES",
    "NotAVaspRunError",
    "UnsupportedRunError",
    "VaspEngine",
    "VaspRunError",
    "find_run_dirs",
    "functional_from_incar",
    "input_set_generator",
    "outcome_from_run",
    "parse_run_dir",
    "physics_settings",
    "potcar_dir",
    "read_corrections",
    "relax_incar",
    "run_vasp",
]
