"""``GpawEngine``: PBE, PBE+U and r2SCAN single points and relaxations with GPAW.

Single points are ``ReferenceDoc``s; relaxations are ``RelaxOutcome``s (ASE units), which
:class:`pesbench.properties.sides.EngineSide` turns into ``RelaxationDoc``s.

A run folder is self-describing:

``inputs.json``
    ``functional``, ``parameters`` (GPAW's keyword arguments), ``magmoms``,
    ``input_settings`` (the hashed physics), ``atoms`` (what the ranks read) and
    ``structure`` (pymatgen's ``as_dict()``); a relaxation adds ``"mode": "relax"`` and
    ``relax`` (the resolved ``RelaxSettings``).
``gpaw.txt``
    GPAW's own log.
``gpaw-stdout.txt``
    What the MPI launcher and the ranks printed (tracebacks land here).
``results.json``
    The worker's results in ASE units (see :mod:`pesbench.engines.gpaw.worker`), or the
    engine's reason when it could not start GPAW.
``gpaw.gpw``
    A GGA single point's converged state (wavefunctions in single precision), from which
    a later run of the same cell starts (``prev_dir``).

Energies are GPAW's force-consistent (Mermin free) energies, whose derivatives the forces
and stress are; they are relative to GPAW's reference atoms, so not comparable with VASP's
absolute energies.

A single point given ``prev_dir`` (r2SCAN after PBE: ``ReferenceFlowMaker``) starts from
that run's ``gpaw.gpw`` when the previous run succeeded and computed the same atoms with
the same k-points, cutoff, smearing, spin and PAW setups (every ``input_settings`` entry
but ``xc`` and ``convergence`` equal); its document's ``parent_reference_id`` is then the
previous run's reference. Otherwise it starts from scratch, and ``inputs.json``'s ``start``
says why (``results.json``'s ``start`` too when GPAW could not use the file). The run
converges to its own SCF criteria either way, so the result is a cold start's within them.

A relaxation runs an ASE optimizer on the MPI ranks around one GPAW calculator (see
:mod:`pesbench.engines.gpaw.worker`), so each step starts from the previous step's
wavefunctions. Its k-point mesh is the initial cell's, kept for the whole run (a cell
relaxation does not re-mesh as the cell changes), so ``input_settings`` describes the
whole run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from atomate2.utils.path import get_uri
from pymatgen.core import Structure

from pesbench.engines.base import EngineError
from pesbench.engines.gpaw import run as _run
from pesbench.engines.gpaw.inputs import GpawInputs, gpaw_inputs
from pesbench.engines.gpaw.restart import start_from, writes_state
from pesbench.engines.gpaw.results import (
    crash_reason,
    doc_from_results,
    outcome_from_results,
    read_json_object,
    read_results,
    stress_to_gpa,
)
from pesbench.engines.gpaw.worker import INPUTS, LOG, PROBE, RESULTS, STATE
from pesbench.relax import RelaxOutcome
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings, get_settings

__all__ = [
    "FHC_MARKER",
    "GpawEngine",
    "doc_from_results",
    "outcome_from_results",
    "paw_dataset_dirs",
    "start_from",
    "stress_to_gpa",
]


_INSTALL_HINT = "run `make setup` (as root, for its Debian libraries)"


FHC_MARKER = ".pesbench-fhc-disabled"
"""File scripts/install-gpaw.sh leaves in the prefix of the libxc it built without the
Fermi-hole-curvature check (which makes r2SCAN slabs diverge)."""


def _pkg_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def paw_dataset_dirs() -> list[Path]:
    """Folders GPAW searches for PAW datasets: ``$GPAW_SETUP_PATH``, then gpaw-data's."""
    dirs = [Path(p) for p in os.environ.get("GPAW_SETUP_PATH", "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("gpaw_data")
    if spec is not None and spec.submodule_search_locations:
        dirs += [Path(p) / "setups" for p in spec.submodule_search_locations]
    return [d for d in dirs if d.is_dir()]


def _missing_datasets(symbols: set[str]) -> list[str]:
    """Elements without a PBE PAW dataset (GPAW's r2SCAN uses the PBE ones too)."""
    dirs = paw_dataset_dirs()
    return sorted(
        s
        for s in symbols
        if not any((d / f"{s}.PBE").is_file() or (d / f"{s}.PBE.gz").is_file() for d in dirs)
    )


class GpawEngine:
    """The local DFT engine: GPAW plane waves, run under MPI in a subprocess.

    Parameters
    ----------
    settings
        Cores (``dft_cores``) and launcher (``mpi_command``); default: :func:`get_settings`.
    """

    name = "gpaw"

    def __init__(self, settings: PesbenchSettings | None = None) -> None:
        self.settings = settings or get_settings()

    def unavailable_reason(self) -> str | None:
        """None when GPAW, its PAW datasets and the MPI launcher are all found."""
        if importlib.util.find_spec("gpaw") is None:
            return f"GPAW is not installed; {_INSTALL_HINT}"
        if not paw_dataset_dirs():
            return f"GPAW's PAW datasets (gpaw-data) are not installed; {_INSTALL_HINT}"
        exe = _run.launcher(self.settings)
        if shutil.which(exe) is None:
            return (
                f"MPI launcher {exe!r} (setting mpi_command) not found; install openmpi-bin "
                "or set PESBENCH_MPI_COMMAND"
            )
        return None

    def probe(self) -> dict[str, Any]:
        """Start GPAW for real under the MPI launcher (one rank) and check it.

        Returns what the worker found: ``gpaw_version``, ``libxc_version``, ``libxc_path``,
        ``libxc_fhc_disabled``, ``dataset`` (the O PAW dataset found), ``r2scan``.

        Raises
        ------
        EngineError
            With a one-line reason when GPAW is not usable.
        """
        reason = self.unavailable_reason()
        if reason is not None:
            raise EngineError(reason)
        with tempfile.TemporaryDirectory(prefix="pesbench-gpaw-probe-") as tmp:
            out = Path(tmp)
            command = _run.gpaw_command(self.settings, "--probe", str(out), cores=1)
            code = _run.run_gpaw(command, out, _run.gpaw_env())
            try:
                info: dict[str, Any] = json.loads((out / PROBE).read_text())
            except (OSError, ValueError):
                raise EngineError(crash_reason(out, code)) from None
        if not info.get("ok"):
            raise EngineError(f"GPAW does not work: {info.get('reason')}")
        libxc = info.get("libxc_path")
        marker = Path(libxc).parent.parent / FHC_MARKER if libxc else None
        info["libxc_fhc_disabled"] = marker is not None and marker.is_file()
        return info

    def input_settings(
        self, structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The physics of a run (see :mod:`pesbench.engines.gpaw.inputs`)."""
        settings: dict[str, Any] = gpaw_inputs(structure, functional, overrides)["input_settings"]
        return settings

    def compute(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        prev_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> ReferenceDoc:
        """Run one single point in ``run_dir``; a failed run returns a failed document.

        With ``prev_dir``, the run starts from that run's state when it fits (see the
        module's docstring) and records its parent; a GGA run writes its state for later.
        Raises ``ValueError`` only for bad ``overrides`` (a caller's mistake, not a run's).
        """
        run_dir, inputs = self._write_inputs(
            structure, functional, run_dir, overrides, prev_dir=prev_dir
        )
        gpaw_version = _pkg_version("gpaw")
        base: dict[str, Any] = {
            "structure_id": structure_id(structure),
            "n_atoms": len(structure),
            "structure": structure,
            "functional": functional,
            "code": "gpaw",
            "code_version": gpaw_version,
            "input_hash": hash_inputs(inputs["input_settings"]),
            "input_settings": inputs["input_settings"],
            "run_dir": get_uri(run_dir),  # host:/path, as the VASP engine and atomate2
        }
        reason = self._blocked(inputs)
        if reason is not None:
            results: dict[str, Any] = {"status": "failed", "reason": reason}
            (run_dir / RESULTS).write_text(json.dumps(results, indent=1))
            return doc_from_results(base, results)
        results, base["wall_time_s"] = self._launch(run_dir)
        start = results.get("start")
        if isinstance(start, dict) and start.get("used"):
            plan = (read_json_object(run_dir / INPUTS) or {}).get("start") or {}
            base["parent_reference_id"] = plan.get("parent_reference_id")
        return doc_from_results(base, results)

    def relax(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        settings: RelaxSettings,
        overrides: dict[str, Any] | None = None,
    ) -> RelaxOutcome:
        """Relax ``structure`` in ``run_dir`` with an ASE optimizer on one GPAW calculator.

        The optimizer runs on the MPI ranks (:mod:`pesbench.engines.gpaw.worker`), so GPAW
        reuses its wavefunctions from step to step. The k-point mesh is the initial cell's
        for the whole relaxation (see the module's docstring). A failed run (SCF not
        converged, crash, GPAW unusable) returns an outcome with ``converged`` False, a
        one-line reason and the frames computed before it stopped.

        Parameters
        ----------
        settings
            Resolved (``fmax`` and ``max_steps`` set): what ``Side.resolve`` returns.
        overrides
            As :meth:`compute`'s (``spin_polarized`` among them).

        Raises
        ------
        ValueError
            For unresolved settings, a fixed atom out of range or bad ``overrides`` (a
            caller's mistake, not a run's).
        """
        if settings.fmax is None or settings.max_steps is None:
            raise ValueError("GpawEngine.relax needs resolved settings (fmax and max_steps)")
        if settings.fix_indices and max(settings.fix_indices) >= len(structure):
            raise ValueError(
                f"fixed atom index {max(settings.fix_indices)} out of range for "
                f"{len(structure)} atoms"
            )
        extra = {"mode": "relax", "relax": settings.model_dump(mode="json")}
        run_dir, inputs = self._write_inputs(structure, functional, run_dir, overrides, extra)
        reason = self._blocked(inputs)
        if reason is not None:
            (run_dir / RESULTS).write_text(json.dumps({"status": "failed", "reason": reason}))
            return RelaxOutcome(converged=False, n_steps=0, reason=reason)
        results, seconds = self._launch(run_dir)
        return outcome_from_results(results, len(structure), seconds)

    def _write_inputs(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        overrides: dict[str, Any] | None,
        extra: dict[str, Any] | None = None,
        prev_dir: Path | None = None,
    ) -> tuple[Path, GpawInputs]:
        """Write ``inputs.json`` (removing a previous run's outputs); the folder, resolved.

        A single point (no ``extra``) also gets ``write_state`` and, with ``prev_dir``,
        ``start`` (:func:`start_from`'s plan) and ``start_from`` (the file, or None).
        """
        inputs = gpaw_inputs(structure, functional, overrides)
        run_dir = Path(run_dir).resolve()
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in (RESULTS, LOG, _run.STDOUT, STATE):
            (run_dir / stale).unlink(missing_ok=True)
        atoms = {
            "numbers": [site.specie.Z for site in structure],
            "positions": structure.cart_coords.tolist(),
            "cell": structure.lattice.matrix.tolist(),
        }
        content: dict[str, Any] = {"functional": functional, **(extra or {}), **inputs}
        content.update(atoms=atoms, structure=structure.as_dict())
        if extra is None:
            content["write_state"] = writes_state(inputs)
            if prev_dir is not None:
                plan = start_from(Path(prev_dir).resolve(), content)
                content.update(start=plan, start_from=plan["from"])
        (run_dir / INPUTS).write_text(json.dumps(content, indent=1))
        return run_dir, inputs

    def _blocked(self, inputs: GpawInputs) -> str | None:
        """Why the run cannot start (GPAW unusable, a PAW dataset missing), else None."""
        reason = self.unavailable_reason()
        missing = [] if reason else _missing_datasets(set(inputs["input_settings"]["setups"]))
        if missing:
            reason = f"no GPAW PAW dataset for {', '.join(missing)}"
        return reason

    def _launch(self, run_dir: Path) -> tuple[dict[str, Any], float]:
        """Run the worker under MPI in ``run_dir``: its results (or why none) and seconds."""
        start = time.perf_counter()
        timeout = self.settings.dft_timeout_s
        code = _run.run_gpaw(
            _run.gpaw_command(self.settings, str(run_dir)), run_dir, _run.gpaw_env(), timeout
        )
        if code == _run.TIMED_OUT:
            reason = (
                f"GPAW run killed at the wall-time limit of {timeout:g} s with all its MPI "
                "processes (setting dft_timeout_s, or the campaign's dft.timeout_s)"
            )
            return {"status": "failed", "reason": reason}, time.perf_counter() - start
        seconds = time.perf_counter() - start
        found = read_results(run_dir)
        results = found or {"status": "failed", "reason": crash_reason(run_dir, code)}
        if code != 0 and results.get("status") == "success":
            results = {**results, "status": "failed", "reason": f"GPAW exited with code {code}"}
        return results, seconds
