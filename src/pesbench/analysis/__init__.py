"""Pure numpy/pymatgen/phonopy analysis: metrics, softening, referencing, properties, plots.

No jobflow and no database here: every function takes arrays and pymatgen objects.
"""

from __future__ import annotations

from pesbench.analysis.metrics import ErrorStats, error_stats, mae, max_abs_error, rmse
from pesbench.analysis.properties import (
    PropertyComparison,
    build_phonopy,
    compare_property,
    defect_formation_energy,
    force_constants,
    migration_barrier,
    mixing_energy,
    phonon_frequencies,
    surface_energy,
)
from pesbench.analysis.referencing import (
    AtomRef,
    Correlation,
    CrossFunctionalSummary,
    correlation,
    cross_functional_summary,
    fit_atomref,
    force_correlation,
)
from pesbench.analysis.softening import (
    OnePointCorrection,
    SofteningFit,
    corrected_mae,
    fit_softening,
    one_point_correction,
    softening_scale,
)

__all__ = [
    "AtomRef",
    "Correlation",
    "CrossFunctionalSummary",
    "ErrorStats",
    "OnePointCorrection",
    "PropertyComparison",
    "SofteningFit",
    "build_phonopy",
    "compare_property",
    "corrected_mae",
    "correlation",
    "cross_functional_summary",
    "defect_formation_energy",
    "error_stats",
    "fit_atomref",
    "fit_softening",
    "force_constants",
    "force_correlation",
    "mae",
    "max_abs_error",
    "migration_barrier",
    "mixing_energy",
    "one_point_correction",
    "phonon_frequencies",
    "rmse",
    "softening_scale",
    "surface_energy",
]
