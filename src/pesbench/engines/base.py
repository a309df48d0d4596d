"""The one seam every DFT engine sits behind: ``get_engine(name).compute(...)``.

The rest of the pipeline (makers, workflows) only calls :func:`get_engine` and the
:class:`DFTEngine` methods, so it never knows which code ran. An engine:

- writes its inputs from the structure and the functional (pure, testable without the
  executable; presets < previous calculation < user overrides);
- runs its external program through ONE module-level function of its own module (the
  place tests patch);
- returns a :class:`~pesbench.schemas.reference.ReferenceDoc`, ``status="failed"`` with a
  one-line reason when the run failed (unconverged SCF, crash, missing data), never raising
  for a failure of the calculation itself.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pymatgen.core import Structure

from pesbench.errors import PesbenchError
from pesbench.schemas.base import Functional
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings

__all__ = ["ENGINES", "DFTEngine", "EngineError", "get_engine"]


class EngineError(PesbenchError):
    """An engine cannot be used at all (not installed, not configured)."""


@runtime_checkable
class DFTEngine(Protocol):
    """What a DFT engine provides."""

    name: str

    def unavailable_reason(self) -> str | None:
        """None when the engine can run here, else why not and how to fix it (one line)."""
        ...

    def input_settings(
        self, structure: Structure, functional: Functional, overrides: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The physically relevant settings of a run (what ``hash_inputs`` hashes)."""
        ...

    def compute(
        self,
        structure: Structure,
        functional: Functional,
        run_dir: Path,
        *,
        prev_dir: Path | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> ReferenceDoc:
        """Run one single point in ``run_dir`` and return its document (failed ones too)."""
        ...


ENGINES: dict[str, str] = {
    "gpaw": "pesbench.engines.gpaw:GpawEngine",
    "vasp": "pesbench.engines.vasp:VaspEngine",
}
"""Engine name -> "module:class"; the class is built with the settings."""


def get_engine(name: str | None = None, settings: PesbenchSettings | None = None) -> DFTEngine:
    """Build the engine ``name`` (default: the ``dft_engine`` setting).

    Raises
    ------
    EngineError
        For an unknown name, or an engine whose module cannot be imported.
    """
    settings = settings or get_settings()
    name = name or settings.dft_engine
    if name not in ENGINES:
        raise EngineError(f"unknown DFT engine {name!r}; known: {', '.join(sorted(ENGINES))}")
    module_name, class_name = ENGINES[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"DFT engine {name!r} cannot be imported: {exc}") from None
    engine = getattr(module, class_name)(settings)
    if not isinstance(engine, DFTEngine):
        raise EngineError(f"{ENGINES[name]} does not implement DFTEngine")
    return engine
