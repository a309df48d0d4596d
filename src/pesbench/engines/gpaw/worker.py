"""Run one GPAW single point in a run folder; executed under MPI, once per rank.

Never imported by pesbench: :func:`pesbench.engines.gpaw.run.run_gpaw` starts this file as a
script (``mpiexec -n N python worker.py RUN_DIR``), so that each rank imports only ASE and
GPAW. It reads ``inputs.json`` (see :mod:`pesbench.engines.gpaw.engine`), writes GPAW's text
log to ``gpaw.txt`` and, on rank 0, ``results.json``::

    {"status": "success" | "failed", "reason": str | None, "converged": bool,
     "free_energy": eV, "energy": eV (extrapolated to zero smearing), "forces": eV/Å,
     "stress_voigt": eV/Å³ (ASE sign, positive = tensile), "magmoms": μB, "niter": int,
     "gpaw_version": str, "libxc_version": str | None}

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

INPUTS = "inputs.json"
RESULTS = "results.json"
LOG = "gpaw.txt"
PROBE = "probe.json"
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


def _niter(log: Path) -> int | None:
    try:
        lines = log.read_text().splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        if line.startswith("Converged in") and line.split()[2].isdigit():
            return int(line.split()[2])
    return None


def main(run_dir: Path) -> int:
    """Compute energy, forces, stress (and moments) of the cell in ``run_dir/inputs.json``."""
    inputs = json.loads((run_dir / INPUTS).read_text())
    try:
        import gpaw
        from ase import Atoms
        from gpaw import GPAW, KohnShamConvergenceError
        from gpaw.mpi import world
    except ImportError as exc:
        _write(run_dir, {"status": "failed", "reason": f"GPAW cannot be imported: {exc}"}, 0)
        return 1

    params = inputs["parameters"]
    cell = inputs["atoms"]
    atoms = Atoms(numbers=cell["numbers"], positions=cell["positions"], cell=cell["cell"], pbc=True)
    if inputs.get("magmoms") is not None:
        atoms.set_initial_magnetic_moments(inputs["magmoms"])
    results: dict[str, Any] = {
        "status": "failed",
        "reason": None,
        "converged": False,
        "gpaw_version": gpaw.__version__,
        "libxc_version": _libxc_version(),
    }
    try:
        atoms.calc = GPAW(**params, txt=str(run_dir / LOG))
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
