"""``VaspEngine``: VASP behind the :class:`~pesbench.engines.base.DFTEngine` seam."""

from __future__ import annotations

import contextlib
import gzip
import shlex
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from atomate2.utils.path import get_uri
from pymatgen.core import SETTINGS as PMG_SETTINGS
from pymatgen.core import Structure
from pymatgen.io.vasp import Poscar
from pymatgen.io.vasp.inputs import VaspInput

from pesbench.engines.vasp import run
from pesbench.engines.vasp.files import NotAVaspRunError, _files_dir, _run_suffix, vasprun_files
from pesbench.engines.vasp.parse import parse_run_dir
from pesbench.engines.vasp.physics import functional_from_incar, physics_settings
from pesbench.engines.vasp.presets import DEFAULT_PRESET, input_set_generator
from pesbench.engines.vasp.relax import (
    constrained,
    in_input_order,
    indexed,
    outcome_from_run,
    poscar_order,
    relax_overrides,
)
from pesbench.relax import RelaxOutcome
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs
from pesbench.schemas.relaxation import RelaxSettings
from pesbench.settings import PesbenchSettings, get_settings

__all__ = ["START_FILES", "VaspEngine", "potcar_dir"]

START_FILES = ("WAVECAR", "CHGCAR")
"""Copied from ``prev_dir`` so that r2SCAN starts from the GGA run (VASP's default ISTART=1
and ICHARG=0 read them when present)."""


def potcar_dir(settings: PesbenchSettings) -> Path | None:
    """The POTCAR folder: ``vasp_potcar_dir``, else pymatgen's ``PMG_VASP_PSP_DIR``."""
    if settings.vasp_potcar_dir is not None:
        return settings.vasp_potcar_dir
    env = PMG_SETTINGS.get("PMG_VASP_PSP_DIR")
    return Path(env) if env else None


@contextlib.contextmanager
def _pmg_potcars(folder: Path | None) -> Iterator[None]:
    """Pymatgen reads POTCARs from its SETTINGS; point it at ``folder`` meanwhile."""
    previous = PMG_SETTINGS.get("PMG_VASP_PSP_DIR")
    if folder is not None:
        PMG_SETTINGS["PMG_VASP_PSP_DIR"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            PMG_SETTINGS.pop("PMG_VASP_PSP_DIR", None)
        else:
            PMG_SETTINGS["PMG_VASP_PSP_DIR"] = previous


def _copy_start_files(prev_dir: Path, run_dir: Path) -> list[str]:
    """Copy (gunzipped) the :data:`START_FILES` of ``prev_dir``'s last run; the names copied.

    Not atomate2's ``copy_vasp_outputs``: it copies into the cwd, and the old vasprun.xml too.
    (A crashed run would then be parsed as the previous one.) The last run is the one
    :func:`parse_run_dir` reads (:func:`vasprun_files`), as ``copy_vasp_outputs`` takes the
    highest ``.relaxN``: a double relaxation's ``WAVECAR.relax2.gz`` is copied as ``WAVECAR``.
    """
    files = _files_dir(prev_dir)
    runs = vasprun_files(prev_dir)
    suffix = _run_suffix(runs[-1]) if runs else ""
    copied = []
    for name in START_FILES:
        suffixed = [files / f"{name}{suffix}{gz}" for gz in ("", ".gz")]
        plain = [files / f"{name}{gz}" for gz in ("", ".gz")]
        for src in dict.fromkeys(suffixed + plain):
            if src.is_file():
                dest = run_dir / name
                if src.suffix == ".gz":
                    with gzip.open(src, "rb") as fin, open(dest, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                else:
                    shutil.copyfile(src, dest)
                copied.append(name)
                break
    return copied


class VaspEngine:
    """VASP single points and relaxations on atomate2's MatPES / MP static inputs, custodian.

    Parameters
    ----------
    settings
        ``vasp_cmd``, ``vasp_gamma_cmd`` and ``vasp_potcar_dir`` are read from it.

    Notes
    -----
    ``overrides`` of :meth:`compute` and :meth:`input_settings`: ``{"preset": "matpes" |
    "mp", "incar": {...}, "kpoints": {...}, "spin_polarized": bool}`` (see
    :mod:`pesbench.engines.vasp.presets`). :meth:`relax` runs VASP's own optimizer on the
    same physics (see :mod:`pesbench.engines.vasp.relax`).
    Without POTCARs configured, inputs are written with a POTCAR.spec (symbols only) and
    :func:`~pesbench.engines.vasp.run.run_vasp` refuses to start, so the reference is
    stored as failed with the setting to fix.
    """

    name = "vasp"

    def __init__(self, settings: PesbenchSettings | None = None) -> None:
        self.settings = settings or get_settings()

    def unavailable_reason(self) -> str | None:
        """None when VASP can run here, else what is missing, naming the setting."""
        problems = []
        tokens = shlex.split(self.settings.vasp_cmd)
        exe = next((t for t in tokens if "vasp" in Path(t).name), tokens[-1] if tokens else "")
        if not exe or shutil.which(exe) is None:
            problems.append(f"VASP executable {exe!r} not found (set PESBENCH_VASP_CMD)")
        folder = potcar_dir(self.settings)
        if folder is None or not folder.is_dir():
            problems.append("no POTCAR folder (set PESBENCH_VASP_POTCAR_DIR)")
        return "; ".join(problems) or None

    def input_set(
        self, structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
    ) -> VaspInput:
        """The VASP inputs of a single point (pure: nothing is written or run).

        Raises
        ------
        ValueError
            For an unknown preset, override or functional, or when the generated INCAR
            computes another functional (PBE+U asked for a structure no U applies to).
        """
        overrides = overrides or {}
        gen = input_set_generator(functional, overrides.get("preset", DEFAULT_PRESET), overrides)
        folder = potcar_dir(self.settings)
        with _pmg_potcars(folder):
            vis = gen.get_input_set(indexed(structure), potcar_spec=folder is None)
        got, _ = functional_from_incar(vis["INCAR"])
        if got != functional:
            raise ValueError(
                f"{functional} asked, but the inputs for {structure.formula} compute {got} "
                "(no Materials Project U value applies)"
                if functional.endswith("+U")
                else f"{functional} asked, but the inputs compute {got}"
            )
        return vis

    def input_settings(
        self, structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The physically relevant settings of the run (what ``hash_inputs`` hashes)."""
        return self._settings_of(self.input_set(structure, functional, overrides))

    @staticmethod
    def _settings_of(vis: VaspInput) -> dict[str, Any]:
        poscar: Poscar = vis["POSCAR"]
        potcar = vis.get("POTCAR")
        symbols = potcar if isinstance(potcar, list) else getattr(potcar, "symbols", [])
        if not symbols and "POTCAR.spec" in vis:
            symbols = str(vis["POTCAR.spec"]).split()
        return physics_settings(vis["INCAR"], vis.get("KPOINTS"), symbols, poscar.site_symbols)

    def write_inputs(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        prev_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> VaspInput:
        """Write INCAR, POSCAR, KPOINTS and POTCAR (or POTCAR.spec) into ``run_dir``.

        With ``prev_dir``, its WAVECAR and CHGCAR are copied too (of its last run), so that
        the run starts from that calculation's wavefunction and density.
        """
        vis = self.input_set(structure, functional, overrides)
        run_dir.mkdir(parents=True, exist_ok=True)
        vis.write_input(str(run_dir))
        if prev_dir is not None:
            _copy_start_files(Path(prev_dir), run_dir)
        return vis

    def compute(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        prev_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> ReferenceDoc:
        """Write the inputs, run VASP through custodian, parse the folder (see base).

        Forces and magnetic moments come back in ``structure``'s site order (pymatgen
        writes the POSCAR sorted by electronegativity).
        """
        run_dir = Path(run_dir)
        sid = structure_id(structure)
        parent = None
        if prev_dir is not None:
            try:
                parent = parse_run_dir(Path(prev_dir)).reference_id
            except NotAVaspRunError:
                parent = None
        try:
            vis = self.write_inputs(
                structure, functional, run_dir, prev_dir=prev_dir, overrides=overrides
            )
        except (ValueError, OSError, KeyError) as exc:  # no POTCAR for an element, ...
            return self._failed(structure, functional, f"inputs: {exc}", {}, run_dir)
        expected = self._settings_of(vis)
        run_error = self._run(run_dir)
        try:
            doc = parse_run_dir(run_dir)
        except NotAVaspRunError:
            return self._failed(structure, functional, run_error or "no output", expected, run_dir)
        values = doc.model_dump()
        values.update(structure=structure, structure_id=sid, n_atoms=len(structure))
        order = poscar_order(vis)  # pymatgen sorted the POSCAR: back to the input's order
        for key in ("forces", "magmoms"):
            if values.get(key) is not None:
                values[key] = in_input_order(values[key], order)
        values["parent_reference_id"] = parent
        if run_error is not None:
            values["status"] = "failed"
            values["failure_reason"] = "; ".join(
                r for r in (run_error, values.get("failure_reason")) if r
            )
        return ReferenceDoc(**values)

    def relax_input_set(
        self,
        structure: Structure,
        functional: Functional,
        settings: RelaxSettings,
        overrides: dict[str, Any] | None = None,
    ) -> VaspInput:
        """The VASP inputs of a relaxation (pure): the static's with the relaxation's tags.

        See :mod:`pesbench.engines.vasp.relax` for the tags, the precedence and the
        selective dynamics of ``settings.fix_indices``.

        Raises
        ------
        ValueError
            As :meth:`input_set`, and for overrides that set the relaxation's own tags.
        """
        return self.input_set(
            constrained(structure, settings.fix_indices),
            functional,
            relax_overrides(settings, overrides),
        )

    def relax(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        settings: RelaxSettings,
        overrides: dict[str, Any] | None = None,
    ) -> RelaxOutcome:
        """Relax ``structure`` in ``run_dir`` with VASP's optimizer, run by custodian.

        Custodian runs it as it runs :meth:`compute`, with atomate2's handlers, except that
        an ionically unconverged relaxation is not continued
        (:data:`~pesbench.engines.vasp.run.RELAX_HANDLERS`).

        Parameters
        ----------
        settings
            Resolved (``fmax`` and ``max_steps`` set). Their ``optimizer`` (ASE's) does
            not apply: VASP's IBRION relaxes.
        overrides
            As :meth:`compute`'s, except INCAR ISIF, NSW and EDIFFG.

        Returns
        -------
        RelaxOutcome
            Every ionic step of the last VASP run as a frame, in the input's site order
            (no frame when VASP did not start or crashed); ``converged`` False with a
            one-line reason when custodian stopped, the SCF or the relaxation did not
            converge (:func:`~pesbench.engines.vasp.relax.outcome_from_run`).

        Raises
        ------
        ValueError
            For unresolved settings, a fixed atom out of range or bad ``overrides`` (a
            caller's mistake, not a run's).
        """
        start = time.perf_counter()
        if settings.fix_indices and max(settings.fix_indices) >= len(structure):
            raise ValueError(
                f"fixed atom index {max(settings.fix_indices)} out of range for "
                f"{len(structure)} atoms"
            )
        run_dir = Path(run_dir)
        try:
            vis = self.relax_input_set(structure, functional, settings, overrides)
        except (OSError, KeyError) as exc:  # no POTCAR for an element, ...
            return RelaxOutcome(converged=False, n_steps=0, reason=f"inputs: {exc}")
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in run_dir.glob("vasprun*"):
            stale.unlink()
        vis.write_input(str(run_dir))
        run_error = self._run(run_dir, run.RELAX_HANDLERS)
        outcome = outcome_from_run(run_dir, settings, order=poscar_order(vis), run_error=run_error)
        outcome.seconds = time.perf_counter() - start
        return outcome

    def _run(self, run_dir: Path, handlers: Sequence[Any] = run.DEFAULT_HANDLERS) -> str | None:
        """Run VASP in ``run_dir`` through custodian; why it stopped, or None."""
        try:
            run.run_vasp(
                run_dir,
                vasp_cmd=self.settings.vasp_cmd,
                vasp_gamma_cmd=self.settings.vasp_gamma_cmd,
                handlers=handlers,
            )
        except run.VaspRunError as exc:
            return str(exc)
        return None

    def _failed(
        self,
        structure: Structure,
        functional: Functional,
        reason: str,
        settings: dict[str, Any],
        run_dir: Path,
    ) -> ReferenceDoc:
        settings = settings or {"code": "vasp", "functional": functional}
        return ReferenceDoc.model_validate(
            {
                "structure_id": structure_id(structure),
                "n_atoms": len(structure),
                "status": "failed",
                "failure_reason": reason,
                "structure": structure,
                "functional": functional,
                "code": "vasp",
                "input_hash": hash_inputs(settings),
                "input_settings": settings,
                "run_dir": get_uri(Path(run_dir).resolve()),
            }
        )
