"""VASP runs: every ionic step of every run at or under a path (relaxations, MD).

Each step is one frame, linked to its run by ``run_id`` (the run's vasprun path) and
``ionic_step``; energies, forces and stresses are those of
:func:`pesbench.engines.vasp.parse.parse_ionic_steps` (pymatgen's ``Vasprun``; stress from
VASP's kBar, pressure positive, to GPa, tensile positive). The functional is the one the
echoed INCAR names. A step whose SCF stopped at NELM is stored as failed, with the reason;
a run pesbench has no functional name for, or no readable vasprun.xml, is one bad record.
The OUTCAR's magnetic moments belong to the last step only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pesbench.engines.vasp.parse import find_run_dirs, parse_ionic_steps
from pesbench.engines.vasp.physics import UnsupportedRunError
from pesbench.errors import PesbenchError
from pesbench.importers.record import BadRecord, Frame

__all__ = ["read_vasp"]


def _run_folders(path: Path) -> list[Path]:
    if path.is_file():
        return [path.parent]
    return find_run_dirs(path)


def read_vasp(path: Path) -> Iterator[Frame | BadRecord]:
    """The ionic steps of the runs at or under ``path`` (a folder or a vasprun file).

    The index runs over all steps of all runs, runs in sorted folder order.
    """
    index = 0
    for folder in _run_folders(path):
        try:
            run = parse_ionic_steps(folder)
        except (PesbenchError, UnsupportedRunError) as exc:
            yield BadRecord(index, f"{folder}: {exc}")
            index += 1
            continue
        last = len(run.steps) - 1
        run_id = str(run.vasprun.resolve())
        for k, step in enumerate(run.steps):
            reasons = []
            if not step.converged_electronic:
                reasons.append("SCF not converged within NELM steps")
            if run.warning:
                reasons.append(run.warning)
            yield Frame(
                index=index,
                structure=step.structure,
                energy=step.energy,
                forces=step.forces,
                stress=step.stress,
                magmoms=run.magmoms if k == last else None,
                functional=run.functional,
                frame_id=f"{run.vasprun.name}:{k}",
                run_id=run_id,
                ionic_step=k,
                code="vasp",
                code_version=run.code_version,
                source_settings=run.settings,
                failure_reason="; ".join(reasons) or None,
                converged_electronic=step.converged_electronic,
                converged_ionic=(run.converged_ionic if k == last else None),
            )
            index += 1
