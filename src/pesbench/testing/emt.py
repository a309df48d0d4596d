"""A fake DFT engine on ASE's EMT potential: campaigns end to end in seconds, for tests.

It is NOT DFT and says so (``code="emt-fake"``). EMT knows Al, Cu, Ag, Au, Ni, Pd, Pt,
H, C, N and O. To give the cross-functional analysis something to find, "r2SCAN" is EMT
scaled by :data:`R2SCAN_SCALE` plus a per-element shift :data:`R2SCAN_SHIFT`; PBE and
PBE+U are plain EMT.

Name it by import path in a campaign spec: ``dft: {engine: "pesbench.testing.emt:EmtEngine"}``.
The override ``{"sleep_s": 5}`` makes each calculation take that long (to test killing a
worker mid-job).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.emt import EMT
from ase.units import GPa
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.settings import PesbenchSettings

__all__ = ["R2SCAN_SCALE", "R2SCAN_SHIFT", "EmtEngine"]

R2SCAN_SCALE = 1.1
"""Fake "r2SCAN" energies (and forces, stress) are EMT's times this."""
R2SCAN_SHIFT = {"Cu": -1.5, "Al": -0.7, "Ni": -2.0, "Ag": -1.1, "Au": -2.4, "Pd": -1.8}
"""Fake per-element shift of "r2SCAN" total energies, eV/atom."""

_EMT_ELEMENTS = {"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"}


class EmtEngine:
    """The :class:`~pesbench.engines.base.DFTEngine` protocol over ASE's EMT (a fake)."""

    name = "emt"

    def __init__(self, settings: PesbenchSettings | None = None) -> None:
        self.settings = settings

    def unavailable_reason(self) -> str | None:
        """Always available: EMT ships with ASE."""
        return None

    def input_settings(
        self, structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The fake's "physics": the functional and any overrides."""
        return {"code": "emt-fake", "functional": functional, **(overrides or {})}

    def compute(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        prev_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> ReferenceDoc:
        """Evaluate EMT (scaled for "r2SCAN") and write inputs and results to ``run_dir``."""
        start = time.perf_counter()
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        settings = self.input_settings(structure, functional, overrides)
        (run_dir / "inputs.json").write_text(json.dumps(settings))
        base: dict[str, Any] = {
            "structure_id": structure_id(structure),
            "n_atoms": len(structure),
            "structure": structure,
            "functional": functional,
            "code": "emt-fake",
            "input_hash": hash_inputs(settings),
            "input_settings": settings,
            "run_dir": str(run_dir),
        }
        unknown = sorted({el.symbol for el in structure.composition} - _EMT_ELEMENTS)
        if unknown:
            return ReferenceDoc(
                **base, status="failed", failure_reason=f"EMT has no parameters for {unknown}"
            )
        time.sleep(float(settings.get("sleep_s", 0.0)))
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = EMT()
        scale = R2SCAN_SCALE if functional == "r2SCAN" else 1.0
        energy = scale * atoms.get_potential_energy()
        if functional == "r2SCAN":
            energy += sum(R2SCAN_SHIFT.get(site.specie.symbol, 0.0) for site in structure)
        forces = scale * atoms.get_forces()
        stress = scale * atoms.get_stress(voigt=False) / GPa  # ASE sign: positive = tensile
        results = {"energy": energy, "forces": forces.tolist(), "stress": stress.tolist()}
        (run_dir / "results.json").write_text(json.dumps(results))
        return ReferenceDoc(
            **base,
            energy=float(energy),
            energy_per_atom=float(energy) / len(structure),
            forces=np.asarray(forces).tolist(),
            stress=np.asarray(stress).tolist(),
            converged_electronic=True,
            wall_time_s=time.perf_counter() - start,
        )
