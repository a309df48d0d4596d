"""``ReferenceMaker``: one DFT single point through the engine seam, as a jobflow job."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import CURRENT_JOB, Flow, Maker
from pymatgen.core import Structure

from pesbench.engines.base import get_engine
from pesbench.makers.base import pesbench_job
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc

__all__ = ["ReferenceMaker", "gga_then_r2scan", "local_path"]


def local_path(run_dir: str | Path) -> Path:
    """``host:/path`` (a ReferenceDoc's ``run_dir``) -> ``/path``."""
    text = str(run_dir)
    head, sep, tail = text.partition(":")
    if sep and "/" not in head and tail.startswith("/"):
        return Path(tail)
    return Path(text)


@dataclass
class ReferenceMaker(Maker):
    """Compute the DFT reference of one structure at one functional.

    Parameters
    ----------
    name
        Job name (``"reference <functional>"`` when left empty).
    functional
        PBE, PBE+U or r2SCAN.
    engine
        "vasp" or "gpaw"; None takes the ``dft_engine`` setting when the job runs.
    overrides
        Engine overrides (VASP: ``{"preset": "mp", "incar": {...}, "kpoints": {...}}``).
    """

    name: str = ""
    functional: Functional = "PBE"
    engine: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = self.name or f"reference {self.functional}"

    @pesbench_job
    def make(
        self,
        structure: Structure,
        prev_dir: str | Path | None = None,
        campaign: str | None = None,
    ) -> ReferenceDoc:
        """Run the single point in a folder of the current directory; return its document.

        Parameters
        ----------
        structure
            The structure.
        prev_dir
            A previous run (``host:/path`` or a path) to start from: r2SCAN from PBE.
        campaign
            Recorded in the document.
        """
        job_id = CURRENT_JOB.job.uuid[:8] if CURRENT_JOB.job is not None else "local"
        tag = self.functional.replace("+", "U")
        run_dir = Path.cwd() / f"{structure_id(structure)}_{tag}_{job_id}"
        doc = get_engine(self.engine).compute(
            structure,
            self.functional,
            run_dir,
            prev_dir=local_path(prev_dir) if prev_dir is not None else None,
            overrides=self.overrides or None,
        )
        if campaign is not None:
            doc = ReferenceDoc.model_validate({**doc.model_dump(), "campaign": campaign})
        return doc


def gga_then_r2scan(
    structure: Structure,
    *,
    gga: ReferenceMaker | None = None,
    r2scan: ReferenceMaker | None = None,
    campaign: str | None = None,
) -> Flow:
    """A PBE (or PBE+U) reference, then r2SCAN started from its wavefunction.

    atomate2's MatPES pattern: the GGA run writes a WAVECAR, and the r2SCAN job gets the
    GGA run folder as ``prev_dir`` (the engine copies WAVECAR and CHGCAR from it).
    """
    gga = gga or ReferenceMaker(functional="PBE")
    r2scan = r2scan or ReferenceMaker(functional="r2SCAN", engine=gga.engine)
    first = gga.make(structure, campaign=campaign)
    second = r2scan.make(structure, prev_dir=first.output.run_dir, campaign=campaign)
    return Flow([first, second], output=[first.output, second.output], name="GGA then r2SCAN")
