"""A DFT engine as a side: its own ``relax`` (ASE loop or VASP's ionic loop).

See :mod:`pesbench.properties.sides`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from atomate2.utils.path import get_uri
from pymatgen.core import Structure

from pesbench.engines.base import DFTEngine, EngineError
from pesbench.properties.side import Side, outcome_to_doc
from pesbench.relax import RelaxOutcome
from pesbench.schemas.base import Functional
from pesbench.schemas.reference import hash_inputs
from pesbench.schemas.relaxation import RelaxationDoc, RelaxSettings

__all__ = ["EngineSide"]


class EngineSide(Side):
    """A DFT engine at one functional relaxing its own copy of every structure.

    Parameters
    ----------
    engine
        Built by :func:`~pesbench.engines.base.get_engine`; it must have a ``relax`` method.
    functional
        Level of theory.
    overrides
        Engine overrides of every run (``input_settings`` hashes them).
    workdir
        Parent folder of the run folders.
    """

    kind = "dft"
    claimed = True  # a DFT relaxation is hours: two campaigns must not both run it

    def __init__(
        self,
        engine: DFTEngine,
        functional: Functional,
        *,
        overrides: dict[str, Any] | None = None,
        workdir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(getattr(engine, "relax", None)):
            raise EngineError(f"DFT engine {engine.name!r} cannot relax structures yet")
        self.engine = engine
        self._functional = functional
        self.overrides = dict(overrides or {})
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()

    @property
    def label(self) -> str:
        """'PBE (gpaw)'-like."""
        return f"{self._functional} ({self.engine.name})"

    @property
    def key(self) -> str:
        """``dft:<engine>:<functional>:<hash of the overrides>``."""
        return f"dft:{self.engine.name}:{self._functional}:{hash_inputs(self.overrides)}"

    @property
    def functional(self) -> str | None:
        """The DFT functional."""
        return self._functional

    def open_shell(self) -> EngineSide:
        """The same engine with the override ``spin_polarized: True``.

        The engine starts from ferromagnetic moments and lets them relax.
        """
        if self.overrides.get("spin_polarized"):
            return self
        return EngineSide(
            self.engine,
            self._functional,
            overrides={**self.overrides, "spin_polarized": True},
            workdir=self.workdir,
            cache=self.cache,
            settings=self.settings,
            campaign=self.campaign,
        )

    def key_for(self, structure: Structure) -> str:
        """With the hash of the engine's input settings for ``structure`` (k-mesh, spin)."""
        inputs = self.engine.input_settings(structure, self._functional, self.overrides or None)
        return f"dft:{self.engine.name}:{self._functional}:{hash_inputs(inputs)}"

    def _relax(
        self, structure: Structure, settings: RelaxSettings, relax_id: str, parent_id: str | None
    ) -> RelaxationDoc:
        inputs = self.engine.input_settings(structure, self._functional, self.overrides or None)
        run_dir = self.workdir / f"relax_{relax_id[:16]}_{int(time.time())}"
        outcome = self._run(structure, run_dir, settings)
        doc = outcome_to_doc(
            structure,
            outcome,
            side=self,
            settings=settings,
            relax_id=relax_id,
            parent_id=parent_id,
            input_hash=hash_inputs(inputs),
            input_settings=inputs,
            run_dir=get_uri(run_dir),  # host:/path, as atomate2
        )
        if settings.relax_cell and doc.status == "success" and doc.final_structure is not None:
            doc = self._final_single_point(doc, run_dir / "final_single_point")
        return doc

    def _run(self, structure: Structure, run_dir: Path, settings: RelaxSettings) -> RelaxOutcome:
        return self.engine.relax(  # type: ignore[attr-defined]
            structure,
            self._functional,
            run_dir,
            settings=settings,
            overrides=self.overrides or None,
        )

    def _final_single_point(self, doc: RelaxationDoc, run_dir: Path) -> RelaxationDoc:
        """A cell relaxation's energy, forces and stress again, fresh at the relaxed cell.

        The engine keeps the initial cell's basis and k-mesh through a cell relaxation, so
        its last frame is not what a calculation of the relaxed cell gives (with a k-mesh
        by density the mesh itself may differ). Every other term is a fresh calculation
        of its own cell: so is this one (atomate2's relax-then-static).
        """
        assert doc.final_structure is not None
        static = self.resolve(RelaxSettings.static())
        outcome = self._run(doc.final_structure, run_dir, static)
        if not outcome.energies:
            reason = f"single point at the relaxed cell failed: {outcome.reason}"
            return doc.model_copy(update={"status": "failed", "failure_reason": reason})
        final = outcome_to_doc(
            doc.final_structure, outcome, side=self, settings=static, relax_id=doc.relaxation_id
        )
        return doc.model_copy(
            update={
                "energy": final.energy,
                "energy_per_atom": final.energy_per_atom,
                "forces": final.forces,
                "stress": final.stress,
                "final_single_point": True,
            }
        )
