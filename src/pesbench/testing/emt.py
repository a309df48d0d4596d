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
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.units import GPa
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from pesbench.relax import RelaxOutcome, relax_atoms
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings

__all__ = ["R2SCAN_SCALE", "R2SCAN_SHIFT", "EmtEngine", "ScaledEMT"]

R2SCAN_SCALE = 1.1
"""Fake "r2SCAN" energies (and forces, stress) are EMT's times this."""
R2SCAN_SHIFT = {"Cu": -1.5, "Al": -0.7, "Ni": -2.0, "Ag": -1.1, "Au": -2.4, "Pd": -1.8}
"""Fake per-element shift of "r2SCAN" total energies, eV/atom."""

_EMT_ELEMENTS = {"Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt", "H", "C", "N", "O"}


class ScaledEMT(Calculator):
    """ASE's EMT times ``scale``, plus a constant energy per atom of each element.

    Energy, forces and stress are scaled; ``shift`` (eV/atom) adds to the energy only.

    ``ase:pesbench.testing.emt.ScaledEMT`` with ``{"scale": 0.8}`` is a uMLIP softened by
    exactly 0.8: its minima are EMT's, its curvatures 0.8 times, so its surface, formation
    and mixing energies and barriers are 0.8 times EMT's and its phonon frequencies
    sqrt(0.8) times (the planted-softening test).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, scale: float = 1.0, shift: dict[str, float] | None = None) -> None:
        super().__init__()
        self.scale = float(scale)
        self.shift = dict(shift or {})
        self._emt = EMT()

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Any = ("energy",),
        system_changes: Any = tuple(all_changes),
    ) -> None:
        """EMT's results, scaled and shifted."""
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        work = self.atoms.copy()
        work.calc = self._emt
        energy = self.scale * work.get_potential_energy()
        energy += sum(self.shift.get(symbol, 0.0) for symbol in work.get_chemical_symbols())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": self.scale * work.get_forces(),
            "stress": self.scale * work.get_stress(),
        }


class MP2020EMT(ScaledEMT):
    """EMT plus the MP2020 correction of the cell: a planted model of corrected energies.

    ``ase:pesbench.testing.emt.MP2020EMT`` declares ``energy_convention = "mp2020"``, as
    CHGNet's are: its energies are EMT's plus pymatgen's MP2020 correction of the cell (e.g.
    -0.687 eV per oxide O), its forces and stress EMT's. Against EMT as the "DFT", every
    property must come out equal once pesbench removes the correction
    (:mod:`pesbench.analysis.conventions`).
    """

    energy_convention = "mp2020"

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Any = ("energy",),
        system_changes: Any = tuple(all_changes),
    ) -> None:
        """EMT's results, with the cell's MP2020 correction added to the energy."""
        from pymatgen.io.ase import AseAtomsAdaptor

        from pesbench.analysis.conventions import mp2020_correction

        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        correction = mp2020_correction(AseAtomsAdaptor.get_structure(self.atoms))
        self.results["energy"] += correction
        self.results["free_energy"] += correction


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

    def calculator(self, functional: Functional) -> ScaledEMT:
        """The fake's calculator of ``functional`` ("r2SCAN": scaled and shifted EMT)."""
        if functional == "r2SCAN":
            return ScaledEMT(R2SCAN_SCALE, R2SCAN_SHIFT)
        return ScaledEMT()

    def relax(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        settings: RelaxSettings,
        overrides: dict[str, Any] | None = None,
    ) -> RelaxOutcome:
        """Relax ``structure`` with :meth:`calculator` (settings resolved); inputs to run_dir."""
        run_dir = Path(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        inputs = self.input_settings(structure, functional, overrides)
        (run_dir / "inputs.json").write_text(json.dumps(inputs))
        unknown = sorted({el.symbol for el in structure.composition} - _EMT_ELEMENTS)
        if unknown:
            return RelaxOutcome(False, 0, f"EMT has no parameters for {unknown}")
        time.sleep(float(inputs.get("sleep_s", 0.0)))
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = self.calculator(functional)
        return relax_atoms(atoms, **settings.optimizer_kwargs())

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
        atoms.calc = self.calculator(functional)
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        stress = atoms.get_stress(voigt=False) / GPa  # ASE sign: positive = tensile
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
