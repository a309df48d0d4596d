"""A small campaign on the EMT fake engine (Cu and Al), for tests (not a test module)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pymatgen.core import Lattice, Structure

EMT = "pesbench.testing.emt:EmtEngine"
"""The fake engine, by import path (works in worker subprocesses too)."""


def emt_campaign(folder: Path, name: str = "emt-test", **changes: Any) -> Path:
    """Write Cu.cif, Al.cif and ``<name>.yaml`` (6 structures, PBE + r2SCAN, CHGNet).

    Keyword arguments replace top-level keys of the spec.
    """
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(3.61), ["Cu"], [[0, 0, 0]]).to(
        filename=str(folder / "Cu.cif")
    )
    Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]]).to(
        filename=str(folder / "Al.cif")
    )
    spec: dict[str, Any] = {
        "name": name,
        "structures": ["Cu.cif", "Al.cif"],
        "categories": {
            "high_energy": {
                "sigmas_A": [0.05, 0.1],
                "n_rattled": 1,
                "strains": [0.03],
                "md_snapshots": 0,
                "min_length_A": 2.0,
            }
        },
        "max_per_category": 3,
        "functionals": ["PBE", "r2SCAN"],
        "dft": {"engine": EMT},
        "models": ["chgnet-0.3.0"],
        "chunk_size": 4,
    }
    spec.update(changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path
