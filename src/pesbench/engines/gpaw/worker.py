"""Run one GPAW single point or relaxation in a run folder; executed under MPI, once per rank.

Never imported by pesbench: :func:`pesbench.engines.gpaw.run.run_gpaw` starts this file as a
script (``mpiexec -n N python worker.py RUN_DIR``), so that each rank imports only ASE and
GPAW (and, to relax, :mod:`pesbench.relax.optimize`, which imports only ASE and numpy). It
reads ``inputs.json`` (see :mod:`pesbench.engines.gpaw.engine`), writes GPAW's text log to
``gpaw.txt`` and, on rank 0 only, ``results.json``. A single point (no ``mode``, or
``"mode": "single"``)::

    {"status": "success" | "failed", "reason": str | None, "converged": bool,
     "free_energy": eV, "energy": eV (extrapolated to zero smearing), "forces": eV/Å,
     "stress_voigt": eV/Å³ (ASE sign, positive = tensile), "magmoms": μB, "niter": int,
     "gpaw_version": str, "libxc_version": str | None,
     "state": "gpaw.gpw" | None, "start": {"from": path, "used": bool, "reason": str | None}}

With ``"write_state": true`` in ``inputs.json`` (a GGA run), the converged calculation is
written to ``gpaw.gpw`` (wavefunctions included, single precision: :data:`STATE`). With
``"start_from"`` (the path of such a file, which the engine checked belongs to the same
atoms, mesh, cutoff, smearing, spin and PAW setups), the run reads that state, switches
its functional (``DFT.change``: r2SCAN after PBE), computes the kinetic-energy density a
meta-GGA needs from the read wavefunctions and the potential of the new functional, and
iterates to self-consistency from there. Should reading or switching fail, it starts from
scratch and ``start`` says why; the SCF criteria are the run's own either way.

A relaxation (``"mode": "relax"``, with ``"relax"``: the resolved ``RelaxSettings``) runs
:func:`pesbench.relax.optimize.relax_atoms` on every rank with one GPAW calculator, which
keeps its wavefunctions and density from one optimizer step to the next (interpolated to
the new cell when the cell moves). Every rank steps the same optimizer on the same forces
and stress (GPAW reduces them over the ranks, and checks each step that the ranks'
positions agree: ``gpaw.mpi.synchronize_atoms``); ASE's optimizers use GPAW's communicator
(``ase.parallel.world`` resolves to it once GPAW is imported), and with no optimizer log
or trajectory only rank 0 writes (``results.json``; GPAW's own log)::

    {"status": "success" | "failed", "reason": str | None, "mode": "relax",
     "converged": bool (every SCF converged), "outcome": RelaxOutcome.as_dict(),
     "scf_iterations": [int per evaluation], "magmoms": final μB,
     "gpaw_version": str, "libxc_version": str | None}

The outcome's energies are GPAW's free energies (force-consistent, as a single point's
``free_energy``), not the zero-smearing extrapolation ASE's ``get_potential_energy()``
gives. An SCF that does not converge stops the relaxation: ``status`` "failed", its
reason, and the outcome holds the frames before it.

Energies, forces and stress are ASE's units; the engine converts them to the project's.

``worker.py --probe DIR`` instead checks the installation (GPAW imports, r2SCAN from libxc,
a PAW dataset is found) and writes ``probe.json`` to ``DIR``.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.stress import voigt_6_to_full_3x3_stress

INPUTS = "inputs.json"
RESULTS = "results.json"
LOG = "gpaw.txt"
PROBE = "probe.json"
STATE = "gpaw.gpw"
"""The converged state of a GGA run (``write_state``), from which r2SCAN starts."""
R2SCAN = "MGGA_X_R2SCAN+MGGA_C_R2SCAN"


def _write(run_dir: Path, results: dict[str, Any], rank: int) -> None:
    if rank == 0:
        tmp = run_dir / (RESULTS + ".tmp")
        tmp.write_text(json.dumps(results, indent=1))
        tmp.replace(run_dir / RESULTS)


def _libxc_version() -> str | None:
    try:
        from gpaw import get_libraries

        return get_libraries().get("libxc") or None
    except Exception:  # an optional detail
        return None


def _describe(exc: BaseException) -> str:
    """One line: the exception's type and first line, else where it was raised."""
    lines = str(exc).strip().splitlines()
    if lines:
        return f"{type(exc).__name__}: {lines[0]}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


def _scf_iterations(log: Path) -> list[int]:
    """SCF iterations of every converged evaluation GPAW logged, in order."""
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return []
    return [
        int(line.split()[2])
        for line in lines
        if line.startswith("Converged in") and line.split()[2].isdigit()
    ]


def _niter(log: Path) -> int | None:
    found = _scf_iterations(log)
    return found[-1] if found else None


class FreeEnergyView(Calculator):
    """A GPAW calculator seen through ASE with its free energy as ``energy``.

    ASE's ``get_potential_energy()`` on GPAW gives the energy extrapolated to zero smearing;
    through this view it gives the force-consistent (free) energy, whose derivatives the
    forces and stress are. Each evaluation asks GPAW for all three (the stress, once the
    SCF converged, costs no SCF) and is kept in :attr:`frames`, so that a relaxation an SCF
    failure stops keeps the frames before it. GPAW keeps its wavefunctions between calls.
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # noqa: RUF012

    def __init__(self, gpaw: Any) -> None:
        super().__init__()
        self.gpaw = gpaw
        self.frames: list[tuple[Atoms, dict[str, Any]]] = []

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Any = ("energy",),
        system_changes: Any = tuple(all_changes),
    ) -> None:
        """Energy, forces and stress of ``atoms`` from GPAW."""
        super().calculate(atoms, properties, system_changes)
        assert self.atoms is not None
        free = float(self.gpaw.get_potential_energy(self.atoms, force_consistent=True))
        self.results = {
            "energy": free,
            "free_energy": free,
            "forces": np.asarray(self.gpaw.get_forces(self.atoms), dtype=float),
            "stress": np.asarray(self.gpaw.get_stress(self.atoms), dtype=float),
        }
        self.frames.append((self.atoms.copy(), dict(self.results)))


def _partial_outcome(
    view: FreeEnergyView | None, n_atoms: int, fixed: list[int], reason: str
) -> dict[str, Any]:
    """A failed RelaxOutcome's dict from the frames ``view`` evaluated before the failure."""
    free = np.ones(n_atoms, dtype=bool)
    free[[i for i in fixed if 0 <= i < n_atoms]] = False
    frames = view.frames if view is not None else []
    max_force = None
    if frames and free.any():
        max_force = float(np.linalg.norm(frames[-1][1]["forces"][free], axis=1).max())
    return {
        "converged": False,
        "n_steps": len(frames),  # frame 0 is the start: the failed evaluation was step len()
        "reason": reason,
        "energies": [r["energy"] for _, r in frames],
        "forces": [r["forces"].tolist() for _, r in frames],
        "stresses": [voigt_6_to_full_3x3_stress(r["stress"]).tolist() for _, r in frames],
        "cells": [np.asarray(a.cell, dtype=float).tolist() for a, _ in frames],
        "positions": [a.positions.tolist() for a, _ in frames],
        "max_force": max_force,
        "seconds": 0.0,
    }


def _atoms(inputs: dict[str, Any]) -> Atoms:
    cell = inputs["atoms"]
    atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    if inputs.get("magmoms") is not None:
        atoms.set_initial_magnetic_moments(inputs["magmoms"])
    return atoms


def main(run_dir: Path) -> int:
    """Compute (or relax) the cell in ``run_dir/inputs.json``; dispatch on its ``mode``."""
    inputs = json.loads((run_dir / INPUTS).read_text())
    try:
        import gpaw
        from gpaw import KohnShamConvergenceError
        from gpaw.mpi import world
    except ImportError as exc:
        _write(run_dir, {"status": "failed", "reason": f"GPAW cannot be imported: {exc}"}, 0)
        return 1
    results: dict[str, Any] = {
        "status": "failed",
        "reason": None,
        "converged": False,
        "gpaw_version": gpaw.__version__,
        "libxc_version": _libxc_version(),
    }
    if inputs.get("mode", "single") == "relax":
        return relax(run_dir, inputs, results)

    params = inputs["parameters"]
    atoms = _atoms(inputs)
    try:
        atoms.calc = _calculator(params, run_dir, inputs.get("start_from"), results)
        results["free_energy"] = float(atoms.get_potential_energy(force_consistent=True))
        results["energy"] = float(atoms.get_potential_energy())
        results["forces"] = atoms.get_forces().tolist()
        results["stress_voigt"] = atoms.get_stress(voigt=True).tolist()
        if params.get("spinpol"):
            results["magmoms"] = atoms.get_magnetic_moments().tolist()
    except KohnShamConvergenceError:
        results["reason"] = f"SCF not converged in {params.get('maxiter')} iterations"
        _write(run_dir, results, world.rank)
        return 0
    except Exception as exc:
        results["reason"] = _describe(exc)
        _write(run_dir, results, world.rank)
        raise  # GPAW's hook aborts the other ranks
    results.update(status="success", converged=True, niter=_niter(run_dir / LOG))
    results["state"] = None
    if inputs.get("write_state"):
        atoms.calc.write(str(run_dir / STATE), mode="all", precision="single")
        results["state"] = STATE
    _write(run_dir, results, world.rank)
    return 0


def _calculator(
    params: dict[str, Any], run_dir: Path, start_from: str | None, results: dict[str, Any]
) -> Any:
    """GPAW for ``params``: started from the state file ``start_from`` when given and usable.

    ``results["start"]`` records the attempt (see the module's docstring).
    """
    from gpaw import GPAW

    if start_from is None:
        return GPAW(**params, txt=str(run_dir / LOG))
    start: dict[str, Any] = {"from": start_from, "used": False, "reason": None}
    results["start"] = start
    try:
        calc = GPAW(start_from, txt=str(run_dir / LOG))
        dft = calc.dft
        dft.params.maxiter = params["maxiter"]
        dft.change(xc=params["xc"], convergence=params["convergence"])
        dft.ibzwfs.make_sure_wfs_are_read_from_gpw_file()
        if not dft.ibzwfs.has_wave_functions():
            raise ValueError("the state file holds no wavefunctions")
        # DFT.change keeps the GGA potential and no kinetic-energy density: compute both
        # for the new functional from the read wavefunctions and density
        dft.density.update_ked(dft.ibzwfs)
        dft.potential, dft.energies, _ = dft.pot_calc.calculate(dft.density, dft.ibzwfs)
        dft.results = {}
    except Exception as exc:  # a start that cannot be used costs only the speed-up
        start["reason"] = _describe(exc)
        return GPAW(**params, txt=str(run_dir / LOG))
    start["used"] = True
    return calc


def relax(run_dir: Path, inputs: dict[str, Any], results: dict[str, Any]) -> int:
    """Relax the cell of ``inputs`` with one GPAW calculator (see the module's docstring)."""
    from gpaw import GPAW, KohnShamConvergenceError
    from gpaw.mpi import world

    try:
        from pesbench.relax.optimize import relax_atoms
    except ImportError as exc:
        results["reason"] = f"pesbench.relax cannot be imported on the ranks: {exc}"
        _write(run_dir, results, world.rank)
        return 1

    params = inputs["parameters"]
    settings = inputs["relax"]
    fixed = [int(i) for i in settings.get("fix_indices") or ()]
    atoms = _atoms(inputs)
    results["mode"] = "relax"
    view: FreeEnergyView | None = None
    try:
        view = FreeEnergyView(GPAW(**params, txt=str(run_dir / LOG)))
        atoms.calc = view
        outcome = relax_atoms(
            atoms,
            relax_cell=bool(settings.get("relax_cell", False)),
            fix_indices=fixed,
            fmax=float(settings["fmax"]),
            max_steps=int(settings["max_steps"]),
            optimizer=str(settings.get("optimizer", "BFGS")),
            logfile=None,  # else every rank would write it
        ).as_dict()
        if params.get("spinpol"):
            results["magmoms"] = np.asarray(view.gpaw.get_magnetic_moments()).tolist()
    except KohnShamConvergenceError:
        done = len(view.frames) if view is not None else 0
        where = f"optimizer step {done}" if done else "the initial structure"
        reason = f"SCF not converged in {params.get('maxiter')} iterations at {where}"
        results.update(reason=reason, outcome=_partial_outcome(view, len(atoms), fixed, reason))
        results["scf_iterations"] = _scf_iterations(run_dir / LOG)
        _write(run_dir, results, world.rank)
        return 0
    except Exception as exc:
        reason = _describe(exc)
        results.update(reason=reason, outcome=_partial_outcome(view, len(atoms), fixed, reason))
        _write(run_dir, results, world.rank)
        raise  # GPAW's hook aborts the other ranks
    results.update(
        status="success",
        converged=True,
        outcome=outcome,
        scf_iterations=_scf_iterations(run_dir / LOG),
    )
    _write(run_dir, results, world.rank)
    return 0


def _loaded_libxc() -> str | None:
    """Path of the libxc shared library this process loaded (Linux)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    paths = {line.split()[-1] for line in maps if "libxc.so" in line}
    return sorted(paths)[0] if paths else None


def probe(out_dir: Path) -> int:
    """Check that GPAW imports, runs r2SCAN from libxc and finds PAW datasets."""
    info: dict[str, Any] = {"ok": False}
    try:
        import gpaw
        from gpaw.mpi import world
        from gpaw.setup_data import search_for_file
        from gpaw.xc import XC

        info.update(gpaw_version=gpaw.__version__, libxc_version=_libxc_version())
        info["mpi_size"] = world.size
        info["setup_paths"] = [str(p) for p in gpaw.setup_paths]
        XC(R2SCAN)
        info["r2scan"] = True
        info["dataset"] = search_for_file("O.PBE")[0]
        info["libxc_path"] = _loaded_libxc()
        info["ok"] = True
    except Exception as exc:  # reported, not raised: the caller prints it
        info["reason"] = _describe(exc)
    if info.get("mpi_size", 1) == 1 or world.rank == 0:
        (out_dir / PROBE).write_text(json.dumps(info, indent=1))
    return 0 if info["ok"] else 1


if __name__ == "__main__":
    if sys.argv[1] == "--probe":
        sys.exit(probe(Path(sys.argv[2])))
    sys.exit(main(Path(sys.argv[1])))
