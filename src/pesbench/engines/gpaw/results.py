"""The GPAW worker's ``results.json`` read back: reference documents, relaxation outcomes, crashes.

See :mod:`pesbench.engines.gpaw.engine` for the run folder.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from ase.units import GPa

from pesbench.engines.gpaw import run as _run
from pesbench.engines.gpaw.worker import LOG, RESULTS
from pesbench.relax import RelaxOutcome
from pesbench.schemas.reference import ReferenceDoc

__all__ = [
    "crash_reason",
    "doc_from_results",
    "outcome_from_results",
    "read_json_object",
    "read_results",
    "stress_to_gpa",
]


def stress_to_gpa(voigt: list[float]) -> list[list[float]]:
    """ASE's Voigt stress (xx, yy, zz, yz, xz, xy), eV/Å³ -> 3x3 GPa, same sign (tensile +)."""
    xx, yy, zz, yz, xz, xy = (float(v) / GPa for v in voigt)
    return [[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]


def doc_from_results(base: dict[str, Any], results: dict[str, Any]) -> ReferenceDoc:
    """Build the document from the engine's fields ``base`` and the worker's ``results``."""
    fields = dict(base)
    if results.get("gpaw_version"):
        xc = f", libxc {results['libxc_version']}" if results.get("libxc_version") else ""
        fields["code_version"] = f"{results['gpaw_version']}{xc}"
    fields["converged_electronic"] = results.get("converged")
    if results.get("status") != "success":
        reason = results.get("reason") or "GPAW failed without a reason"
        return ReferenceDoc(**fields, status="failed", failure_reason=reason)
    energy = float(results["free_energy"])
    forces = np.asarray(results["forces"], dtype=float)
    if forces.shape != (fields["n_atoms"], 3) or not np.isfinite(forces).all():
        return ReferenceDoc(**fields, status="failed", failure_reason="malformed forces")
    magmoms = results.get("magmoms")
    return ReferenceDoc(
        **fields,
        energy=energy,
        energy_per_atom=energy / fields["n_atoms"],
        forces=forces.tolist(),
        stress=stress_to_gpa(results["stress_voigt"]),
        magmoms=[float(m) for m in magmoms] if magmoms is not None else None,
    )


def _frames_ok(outcome: RelaxOutcome, n_atoms: int) -> bool:
    n = len(outcome.energies)
    if not all(len(x) == n for x in (outcome.forces, outcome.stresses, outcome.cells)):
        return False
    if len(outcome.positions) != n or not np.isfinite(outcome.energies).all():
        return False
    shapes = {
        "forces": (n_atoms, 3),
        "stresses": (3, 3),
        "cells": (3, 3),
        "positions": (n_atoms, 3),
    }
    for name, shape in shapes.items():
        frames = getattr(outcome, name)
        if n and (np.shape(frames)[1:] != shape or not np.isfinite(frames).all()):
            return False
    return True


def outcome_from_results(
    results: dict[str, Any], n_atoms: int, seconds: float = 0.0
) -> RelaxOutcome:
    """The relaxation's outcome (ASE units) from the worker's ``results`` of a relax run.

    A failed run (an SCF that did not converge, a crash) is an outcome with ``converged``
    False, the run's one-line reason, and the frames computed before it stopped.
    """
    reason = str(results.get("reason") or "GPAW failed without a reason").splitlines()[0]
    data = results.get("outcome")
    if not isinstance(data, dict):
        data = {}
    names = {f.name for f in fields(RelaxOutcome)}
    try:
        outcome = RelaxOutcome(**{k: v for k, v in data.items() if k in names})
        ok = _frames_ok(outcome, n_atoms)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        failed = results.get("status") != "success"
        return RelaxOutcome(False, 0, reason if failed else "malformed relaxation results")
    outcome.seconds = float(seconds)
    if results.get("status") != "success":
        outcome.converged = False
        outcome.reason = reason
    return outcome


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``; None when missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """The worker's ``results.json`` of ``run_dir``, if it wrote one."""
    return read_json_object(run_dir / RESULTS)


def crash_reason(run_dir: Path, code: int) -> str:
    """One line: the exit status and the last meaningful line GPAW or MPI printed."""
    text = ""
    for name in (_run.STDOUT, LOG):
        try:
            text += (run_dir / name).read_text(errors="replace")
        except OSError:
            continue
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "Error" in ln or "error" in ln]
    last = (errors or lines or ["no output"])[-1][:200]
    what = "launcher not found" if code == 127 else f"exited with code {code}"
    return f"GPAW {what}: {last}"
