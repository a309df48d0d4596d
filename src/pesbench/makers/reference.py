"""DFT references as jobflow Makers: one single point, GGA then r2SCAN, and many structures.

``ReferenceMaker`` runs one single point through the engine seam; ``ReferenceFlowMaker``
makes the references of one structure, r2SCAN started from the GGA run;
``ReferenceSetMaker`` makes those of a list of structures known only at run time (another
job's output), one ``ReferenceFlowMaker`` sub-flow per structure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jobflow import CURRENT_JOB, Flow, Job, Maker, OutputReference, Response
from pymatgen.core import Structure

from pesbench.engines.base import get_engine
from pesbench.makers.base import computed_once, pesbench_job, store_now
from pesbench.schemas.base import Functional
from pesbench.schemas.ids import structure_id
from pesbench.schemas.reference import ReferenceDoc, hash_inputs, reference_id
from pesbench.schemas.structure import StructureDoc
from pesbench.settings import get_settings
from pesbench.stores.references import ReferenceStore
from pesbench.stores.structures import job_structures

__all__ = [
    "ReferenceFlowMaker",
    "ReferenceMaker",
    "ReferenceSetMaker",
    "gga_then_r2scan",
    "local_path",
]


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
    timeout_s
        Wall-time limit of the run (s), instead of the ``dft_timeout_s`` setting: a run past
        it is killed and its document is a failure that says so (local engine).
    store
        Work with the ``references`` collection: a reference stored there successfully is
        returned, not recomputed; a worker elsewhere computing it is waited for, not
        duplicated (:func:`~pesbench.makers.base.computed_once`); and the new document is
        stored as soon as it is computed (:func:`~pesbench.makers.base.store_now`).
        False: compute, and only return the document.
    """

    name: str = ""
    functional: Functional = "PBE"
    engine: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = None
    store: bool = True

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
        settings = get_settings()
        if self.timeout_s is not None:
            settings = settings.model_copy(update={"dft_timeout_s": self.timeout_s})
        engine = get_engine(self.engine, settings)

        def run() -> ReferenceDoc:
            doc = engine.compute(
                structure,
                self.functional,
                run_dir,
                prev_dir=local_path(prev_dir) if prev_dir is not None else None,
                overrides=self.overrides or None,
            )
            if campaign is not None:
                doc = ReferenceDoc.model_validate({**doc.model_dump(), "campaign": campaign})
            if self.store:
                store_now(ReferenceStore, [doc])
            return doc

        if not self.store:
            return run()
        inputs = engine.input_settings(structure, self.functional, self.overrides or None)
        key = reference_id(structure_id(structure), self.functional, hash_inputs(inputs))
        return computed_once(ReferenceStore, key, run, campaign)


@dataclass
class ReferenceFlowMaker(Maker):
    """The references of one structure: GGA first, then r2SCAN started from the GGA run.

    atomate2's MatPES pattern (``MatPesStaticFlowMaker``): the r2SCAN job gets the folder
    of the first GGA run as ``prev_dir``, and the engine starts from that run's state: VASP
    copies its WAVECAR and CHGCAR, GPAW reads its ``gpaw.gpw`` (when the two runs' cells and
    settings match, else it starts from scratch; see :mod:`pesbench.engines.gpaw.engine`).
    The r2SCAN document's ``parent_reference_id`` names the GGA reference it started from.
    The chaining is coded here only; campaigns use it.

    Parameters
    ----------
    name
        Flow name.
    gga_maker
        Maker of the GGA reference; every functional but ``r2scan_maker``'s (PBE+U, say) is
        this maker with its functional replaced.
    r2scan_maker
        Maker of the reference started from the GGA run.
    """

    name: str = "GGA then r2SCAN"
    gga_maker: ReferenceMaker = field(default_factory=ReferenceMaker)
    r2scan_maker: ReferenceMaker = field(
        default_factory=lambda: ReferenceMaker(functional="r2SCAN")
    )

    def maker_for(self, functional: Functional) -> ReferenceMaker:
        """The maker that computes ``functional``: ``r2scan_maker`` or a GGA maker."""
        if functional == self.r2scan_maker.functional:
            return self.r2scan_maker
        if functional == self.gga_maker.functional:
            return self.gga_maker
        return replace(self.gga_maker, functional=functional, name="")

    def make(
        self,
        structure: Structure,
        functionals: Sequence[Functional] | None = None,
        campaign: str | None = None,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """One reference job per functional; the r2SCAN one starts from the first GGA run.

        Parameters
        ----------
        structure
            The structure.
        functionals
            Which references (default: the GGA maker's and the r2SCAN maker's).
        campaign
            Recorded in the documents.
        prev_dir
            Where r2SCAN starts when ``functionals`` has no GGA one: a GGA run computed
            before (a stored reference's ``run_dir``); None, or a folder no longer there,
            and r2SCAN starts from scratch.

        Returns
        -------
        Flow
            The jobs, GGA first; its output is the list of their ``ReferenceDoc`` outputs.
        """
        last = self.r2scan_maker.functional
        if functionals is None:
            functionals = [self.gga_maker.functional, last]
        jobs = []
        gga_run: OutputReference | str | Path | None = prev_dir
        for functional in sorted(functionals, key=lambda f: f == last):  # GGA first
            start = gga_run if functional == last else None
            step = self.maker_for(functional).make(structure, prev_dir=start, campaign=campaign)
            if functional != last and not isinstance(gga_run, OutputReference):
                gga_run = step.output.run_dir  # a GGA run of this flow wins over prev_dir
            jobs.append(step)
        return Flow(jobs, output=[step.output for step in jobs], name=self.name)


@dataclass
class ReferenceSetMaker(Maker):
    """The references of many structures: one ``reference_maker`` sub-flow per structure.

    The structures are usually another job's output (a generate job's
    ``output.structure_ids``), so their number is known only when this job runs: it then
    replaces itself (jobflow ``Response(replace=...)``) with one
    :class:`ReferenceFlowMaker` flow per structure, and its output becomes theirs: per
    structure, the list of its ``ReferenceDoc``s. ``update_kwargs`` on this maker (or
    ``update_maker_kwargs`` on a Flow holding its job) reaches the sub-makers, e.g. the
    engine of every reference::

        maker = ReferenceSetMaker().update_kwargs({"engine": "vasp"}, class_filter=ReferenceMaker)

    Each reference job stores its document in ``references`` as it lands and skips one
    stored already (:attr:`ReferenceMaker.store`).

    Parameters
    ----------
    name
        Job name.
    reference_maker
        The references of one structure: GGA, then r2SCAN started from the GGA run.
    """

    name: str = "references"
    reference_maker: ReferenceFlowMaker = field(default_factory=ReferenceFlowMaker)

    @pesbench_job
    def make(
        self,
        structures: Sequence[Structure | StructureDoc] | None = None,
        structure_ids: Sequence[str] | None = None,
        functionals: Sequence[Functional] | None = None,
        campaign: str | None = None,
    ) -> Response:
        """Replace this job with the reference flows of ``structures``.

        Parameters
        ----------
        structures
            Structures, or ``StructureDoc``s (a generate job's ``output.structures``).
        structure_ids
            Their ids; alone, the structures are read from the database (a generate job's
            ``output.structure_ids``: :func:`~pesbench.stores.structures.job_structures`).
        functionals
            Which references of each (default: the GGA maker's and the r2SCAN maker's).
        campaign
            Recorded in the documents.
        """
        cells, ids = job_structures(structures, structure_ids)
        flows: list[Flow | Job] = []
        for cell, sid in zip(cells, ids, strict=True):
            flow = self.reference_maker.make(cell, functionals, campaign=campaign)
            for step in flow.jobs:
                step.name = f"{step.name} {sid}"
            flows.append(flow)
        if not flows:
            return Response(output=[])
        return Response(replace=Flow(flows, output=[flow.output for flow in flows]))


def gga_then_r2scan(
    structure: Structure,
    *,
    gga: ReferenceMaker | None = None,
    r2scan: ReferenceMaker | None = None,
    campaign: str | None = None,
) -> Flow:
    """A PBE (or PBE+U) reference, then r2SCAN started from it (:class:`ReferenceFlowMaker`).

    ``r2scan`` defaults to an r2SCAN maker on the engine of ``gga``.
    """
    gga = gga or ReferenceMaker(functional="PBE")
    r2scan = r2scan or ReferenceMaker(functional="r2SCAN", engine=gga.engine)
    maker = ReferenceFlowMaker(gga_maker=gga, r2scan_maker=r2scan)
    return maker.make(structure, campaign=campaign)
