"""VASP runs: every ionic step of every run at or under a path (relaxations, MD).

A folder may hold several runs, each its own vasprun: custodian's and atomate's double
relaxation leave ``vasprun.xml.relax1.gz`` and ``vasprun.xml.relax2.gz`` side by side
(:func:`pesbench.engines.vasp.parse.vasprun_files`); every one is read, in run order. A
path naming one vasprun file reads that one only.

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

from pesbench.engines.vasp.parse import find_run_dirs, parse_ionic_steps, vasprun_files
from pesbench.engines.vasp.physics import UnsupportedRunError
from pesbench.errors import PesbenchError
from pesbench.importers.record import BadRecord, Frame

__all__ = ["read_vasp"]


def _runs(path: Path) -> Iterator[tuple[Path, Path | None]]:
    """``(folder, vasprun)`` of each run at or under ``path``.

    ``vasprun`` None: the folder has none (a bad record).
    """
    if path.is_file():
        yield path.parent, path
        return
    for folder in find_run_dirs(path):
        runs: list[Path | None] = [*vasprun_files(folder)]
        yield from ((folder, vasprun) for vasprun in runs or [None])


def read_vasp(path: Path) -> Iterator[Frame | BadRecord]:
    """The ionic steps of the runs at or under ``path`` (a folder or a vasprun file).

    The index runs over all steps of all runs: folders in sorted order, the runs of a
    folder in run order.
    """
    index = 0
    for folder, vasprun in _runs(path):
        try:
            run = parse_ionic_steps(folder, vasprun)
        except (PesbenchError, UnsupportedRunError) as exc:
            yield BadRecord(index, f"{vasprun or folder}: {exc}")
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
