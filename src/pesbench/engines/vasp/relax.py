"""VASP relaxations: the inputs over a preset's static, and every ionic step as a frame.

Inputs. A relaxation runs the physics of the preset's static, the same generator and
precedence as :meth:`VaspEngine.compute` (preset < previous calculation < the user's
``overrides``; a relaxation has no previous calculation), with the relaxation's tags on
top. Per preset:

- ``"matpes"`` (default): MatPES has no relax set (atomate2's MatPES flow is two
  statics), so PBE, PBE+U and r2SCAN relax with the MatPES static generators
  (:data:`~pesbench.engines.vasp.presets.PRESETS`) plus the tags below.
- ``"mp"``: the MP statics' generators (atomate2's ``MPGGAStaticMaker``,
  ``MPMetaGGAStaticMaker``) plus the tags below. atomate2's ``MPGGARelaxMaker`` and
  ``MPMetaGGARelaxMaker`` sets are not used. Beyond the relaxation's own tags, they differ
  from the statics in accuracy: LREAL = Auto (real-space projection), a coarser GGA k-mesh
  (64 instead of 100 k-points per Å⁻³), and ISMEAR = 0 with ALGO = All for r2SCAN. MP
  therefore ends its workflows with a static at the relaxed geometry. pesbench uses the
  last energy of a positions-only relaxation directly as a property's term, keeps every
  frame as data, and references single points to relaxed bulks. So a relaxation must
  sample the same potential energy surface as the side's single points, and
  ``VaspEngine.input_settings`` (the hash ``EngineSide`` stores with a relaxation) must
  describe it. One caveat: the MP r2SCAN static's ISMEAR = -5 gives forces in metals that
  are not the energy's derivative. For metals, pass
  ``{"incar": {"ISMEAR": 0, "SIGMA": 0.05}}``; the statics then use it too.

The tags of a relaxation (:func:`relax_incar`, over everything else): IBRION = 2
(conjugate gradient; a user's IBRION 1 or 3 is kept), ISIF = 3 with ``relax_cell``, else 2,
NSW = ``max_steps`` + 1, and EDIFFG = -``fmax``. NSW counts force evaluations, the first
included, so VASP then makes at most ``max_steps`` moves, as ASE's optimizers do. A single
point (``max_steps`` = 0) gets NSW = 0 and IBRION = -1. LWAVE and LCHARG are off
unless the user asks for them, because nothing starts from a relaxation's files. Fixed atoms
(``fix_indices``) are written as selective dynamics ``F F F``, and any selective dynamics
already on the structure is replaced. ASE's optimizer in the settings does not apply.
VASP keeps the initial cell's plane-wave basis and k-mesh for the whole relaxation, as
GPAW keeps its k-mesh; ``EngineSide`` ends a cell relaxation with a single point of the
relaxed cell (this engine's ``relax`` with ``max_steps`` = 0).

Convergence. With EDIFFG < 0, VASP stops when the force on every free atom is below
``|EDIFFG|`` (its norm, as ASE's ``fmax``). With ISIF = 3 it also needs every stress
component x volume / n_atoms below ``|EDIFFG|`` (in eV). The VASP wiki leaves this test out;
VASP's staff describe it from ``main.F`` (VASP forum, topic 20553). The emmet Si folder
shows it: VASP went on past a step with zero forces and a stress of 1.8 kBar (0.023 eV per
atom against 0.02). ASE's ``FrechetCellFilter`` compares rows of the same per-atom virial
instead of its components, so it is up to √3 stricter. The outcome applies VASP's test to
the last frame: it converged when the last SCF converged, the free atoms' largest force is
below ``fmax`` and, with ``relax_cell``, the stress test passes. It does not matter whether
VASP stopped by itself or ran out of NSW on that step.

Frames. Every ionic step of ``vasprun.xml``, in the input structure's site order (pymatgen
sorts the POSCAR by electronegativity): energy ``e_0_energy`` (σ → 0, with pymatgen's fix
of old vasprun files), the same convention as :func:`~pesbench.engines.vasp.parse.parse_run_dir`
(``Vasprun.final_energy``); forces; stress in eV/Å³ with ASE's sign (tensile positive,
``-0.1 kBar x GPa``); the cell and Cartesian positions. When custodian restarts VASP
(an SCF correction restarts from the POSCAR, an optimizer error such as ZBRENT from the
CONTCAR), the frames are those of the last run only; the earlier runs stay in custodian's
``error.N.tar.gz``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import units
from pymatgen.core import Structure
from pymatgen.io.vasp import Vasprun
from pymatgen.io.vasp.inputs import VaspInput

from pesbench.engines.vasp.files import _files_dir, _recorded_errors, vasprun_files
from pesbench.relax import RelaxOutcome
from pesbench.schemas.relaxation import RelaxSettings

__all__ = [
    "KBAR_TO_EV_PER_A3",
    "RELAX_DEFAULTS",
    "RELAX_TAGS",
    "cell_criterion",
    "constrained",
    "frame_energy",
    "in_input_order",
    "indexed",
    "outcome_from_run",
    "poscar_order",
    "relax_incar",
    "relax_overrides",
]

KBAR_TO_EV_PER_A3 = -0.1 * units.GPa
"""VASP's kBar (pressure positive) -> eV/Å³ with ASE's sign (tensile positive)."""

RELAX_TAGS = ("ISIF", "NSW", "EDIFFG")
"""INCAR tags the relaxation settings set; refused in ``overrides["incar"]``."""

RELAX_DEFAULTS: dict[str, Any] = {"IBRION": 2, "LWAVE": False, "LCHARG": False}
"""A relaxation's INCAR over the preset's, under the user's ``overrides["incar"]``."""

_IONIC_IBRION = (1, 2, 3)
_TOLERANCE = 1e-6
"""eV/Å (or eV) above ``fmax`` still passing: vasprun.xml rounds to 8 decimals."""
_INDEX = "pesbench_index"
"""Site property carrying each site's index in the input structure through pymatgen."""


def relax_incar(settings: RelaxSettings) -> dict[str, Any]:
    """The INCAR tags of resolved ``settings``: they win over every other source."""
    if settings.fmax is None or settings.max_steps is None:
        raise ValueError("resolve fmax and max_steps first (RelaxSettings.resolved)")
    if settings.is_static:
        return {"NSW": 0, "IBRION": -1, "ISIF": 2}
    return {
        "NSW": settings.max_steps + 1,
        "ISIF": 3 if settings.relax_cell else 2,
        "EDIFFG": -float(settings.fmax),
    }


def relax_overrides(
    settings: RelaxSettings, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``overrides`` of the static with the relaxation's INCAR merged in (see the module).

    Raises
    ------
    ValueError
        When ``overrides["incar"]`` sets ISIF, NSW or EDIFFG (the relaxation settings set
        them), or an IBRION that is not an ionic optimizer (1, 2 or 3).
    """
    merged = dict(overrides or {})
    user = dict(merged.get("incar") or {})
    clash = sorted(key for key in user if key.upper() in RELAX_TAGS)
    if clash:
        raise ValueError(
            f"INCAR {', '.join(clash)} of a relaxation come from its settings "
            "(relax_cell, fmax, max_steps); remove them from the overrides"
        )
    ibrion = next((v for k, v in user.items() if k.upper() == "IBRION"), None)
    if ibrion is not None and not settings.is_static and int(ibrion) not in _IONIC_IBRION:
        raise ValueError(f"IBRION={ibrion} does not relax; use 1, 2 or 3")
    merged["incar"] = {**RELAX_DEFAULTS, **user, **relax_incar(settings)}
    return merged


def indexed(structure: Structure) -> Structure:
    """A copy whose sites carry their index, for :func:`poscar_order` (pymatgen sorts them)."""
    out = structure.copy()
    out.add_site_property(_INDEX, list(range(len(out))))
    return out


def constrained(structure: Structure, fix_indices: Sequence[int] = ()) -> Structure:
    """An :func:`indexed` copy with selective dynamics ``F F F`` on ``fix_indices``.

    No ``fix_indices``: no flags (selective dynamics already on ``structure`` is dropped).
    """
    out = indexed(structure)
    if "selective_dynamics" in out.site_properties:
        out.remove_site_property("selective_dynamics")
    if fix_indices:
        fixed = set(fix_indices)
        out.add_site_property("selective_dynamics", [[i not in fixed] * 3 for i in range(len(out))])
    return out


def poscar_order(vis: VaspInput) -> list[int] | None:
    """Input index of each POSCAR site (None when the structure carried no indices)."""
    order = vis["POSCAR"].structure.site_properties.get(_INDEX)
    return [int(i) for i in order] if order is not None else None


def in_input_order(rows: Any, order: Sequence[int] | None) -> list[Any]:
    """Per-site ``rows`` (forces, moments) of the POSCAR put in the input's site order."""
    array = np.asarray(rows, dtype=float)
    return (array[np.argsort(order)] if order is not None else array).tolist()


def frame_energy(step: Mapping[str, Any]) -> float:
    """``e_0_energy`` of an ionic step, fixed as ``Vasprun.final_energy`` fixes the last.

    Old vasprun files (VASP 5) write a wrong ionic-step ``e_0_energy`` (often 0); the
    step's free energy plus its last electronic step's σ → 0 correction is right.
    """
    total = float(step["e_0_energy"])
    electronic = step.get("electronic_steps") or []
    if not electronic or "e_0_energy" not in electronic[-1]:
        return total
    last = electronic[-1]
    fixed = float(np.round(last["e_0_energy"] - last["e_fr_energy"] + step["e_fr_energy"], 8))
    return fixed if abs(total - fixed) > 1e-7 else total


def _frames(run: Vasprun, order: Sequence[int] | None) -> RelaxOutcome:
    """Every ionic step in the input's site order (``order``: input index per POSCAR site)."""
    outcome = RelaxOutcome(converged=False, n_steps=max(len(run.ionic_steps) - 1, 0), reason=None)
    for step in run.ionic_steps:
        structure = step["structure"]
        outcome.energies.append(frame_energy(step))
        outcome.forces.append(in_input_order(step["forces"], order))
        stress = KBAR_TO_EV_PER_A3 * np.asarray(step["stress"], dtype=float)
        outcome.stresses.append(stress.tolist())
        outcome.cells.append(structure.lattice.matrix.tolist())
        outcome.positions.append(in_input_order(structure.cart_coords, order))
    return outcome


def cell_criterion(stress: np.ndarray, cell: np.ndarray, n_atoms: int) -> float:
    """VASP's stress test of a cell relaxation (eV): max |stress component| x volume / n_atoms.

    ``stress`` in eV/Å³, ``cell`` the lattice matrix (Å).
    """
    return float(np.abs(stress).max() * abs(np.linalg.det(cell)) / n_atoms)


def _read(folder: Path) -> tuple[Vasprun | None, str | None]:
    """The folder's last vasprun, or None and why (crashed), with the VASP errors recorded.

    The last of :func:`~pesbench.engines.vasp.parse.vasprun_files`: a double relaxation's
    ``vasprun.xml.relax2.gz``, not relax1's.
    """
    files = _files_dir(folder)
    path = next(reversed(vasprun_files(folder)), None)
    if path is None:
        reason = "crashed: no vasprun.xml"
    else:
        try:
            with warnings.catch_warnings():  # an unconverged run warns; the reason says it
                warnings.simplefilter("ignore")
                run = Vasprun(
                    str(path), parse_potcar_file=False, parse_dos=False, parse_eigen=False
                )
            if run.ionic_steps:
                return run, None
            reason = f"crashed: no ionic step in {path.name}"
        except Exception as exc:  # a truncated XML: VASP died mid-run
            reason = f"crashed: {path.name} unreadable ({type(exc).__name__})"
    errors = _recorded_errors(files)
    return None, reason + (f"; VASP errors: {', '.join(errors)}" if errors else "")


def _reasons(run: Vasprun, outcome: RelaxOutcome, settings: RelaxSettings) -> list[str]:
    """Why the relaxation in ``outcome`` (frames filled, max_force set) has not converged."""
    reasons = []
    if not run.converged_electronic:
        reasons.append(
            f"SCF not converged within NELM={run.parameters.get('NELM', 60)} steps "
            f"(ionic step {len(run.ionic_steps)})"
        )
    if settings.is_static:
        return reasons
    fmax = float(settings.fmax or 0.0)
    nsw = int(relax_incar(settings)["NSW"])  # what the engine wrote; custodian keeps it
    where = (
        f"in {outcome.n_steps} VASP ionic steps (NSW={nsw})"
        if len(run.ionic_steps) >= nsw
        else f"when VASP stopped after {outcome.n_steps} ionic steps"
    )
    unmet = []
    force = outcome.max_force or 0.0
    if force > fmax + _TOLERANCE:
        unmet.append(f"largest force {force:.3f} eV/Å, asked < {fmax} eV/Å")
    if settings.relax_cell:
        stress = np.asarray(outcome.stresses[-1])
        cell = cell_criterion(stress, np.asarray(outcome.cells[-1]), len(outcome.forces[-1]))
        if cell > fmax + _TOLERANCE:
            gpa = float(np.abs(stress).max()) / units.GPa
            unmet.append(
                f"cell stress x volume per atom {cell:.3f} eV (stress up to {gpa:.2f} GPa), "
                f"asked < {fmax} eV"
            )
    if unmet:
        reasons.append(f"not converged {where}: {'; '.join(unmet)}")
    return reasons


def outcome_from_run(
    folder: Path,
    settings: RelaxSettings,
    *,
    order: Sequence[int] | None = None,
    run_error: str | None = None,
) -> RelaxOutcome:
    """A relaxation's outcome from its run folder (or an atomate2-style ``outputs/``).

    Parameters
    ----------
    folder
        The run folder.
    settings
        The resolved settings it ran with (``fix_indices`` in the input's site order).
    order
        Input index of each POSCAR site (:func:`poscar_order`); None: the POSCAR's order.
    run_error
        Why custodian stopped, if it did: the outcome is then not converged.

    Returns
    -------
    RelaxOutcome
        Frames of every ionic step (none when VASP crashed without a readable
        vasprun.xml), ``converged`` as the module says, and the reasons against it in one
        line. ``seconds`` is left at 0 (the engine times the whole run).
    """
    run, crashed = _read(Path(folder))
    if run is None:
        reason = "; ".join(r for r in (run_error, crashed) if r)
        return RelaxOutcome(converged=False, n_steps=0, reason=reason)
    outcome = _frames(run, order)
    forces = np.asarray(outcome.forces[-1])
    free = np.ones(len(forces), dtype=bool)
    free[list(settings.fix_indices)] = False
    outcome.max_force = float(np.linalg.norm(forces[free], axis=1).max()) if free.any() else 0.0
    reasons = ([run_error] if run_error else []) + _reasons(run, outcome, settings)
    outcome.converged = not reasons
    outcome.reason = "; ".join(reasons) or None
    return outcome
