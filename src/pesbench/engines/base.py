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
import re
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pymatgen.core import Structure

from pesbench.errors import PesbenchError
from pesbench.schemas.base import Functional
from pesbench.schemas.reference import ReferenceDoc
from pesbench.settings import PesbenchSettings, get_settings

__all__ = ["ENGINES", "DFTEngine", "EngineError", "get_engine", "is_engine_name"]


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


_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")


def is_engine_name(name: str) -> bool:
    """Whether ``name`` is a registered engine or a ``module:Class`` import path."""
    return name in ENGINES or bool(_IMPORT_PATH.match(name))


def get_engine(name: str | None = None, settings: PesbenchSettings | None = None) -> DFTEngine:
    """Build the engine ``name`` (default: the ``dft_engine`` setting).

    ``name`` is a key of :data:`ENGINES` or an import path ``module:Class`` of your own
    class implementing :class:`DFTEngine` (e.g. ``pesbench.testing.emt:EmtEngine``).

    Raises
    ------
    EngineError
        For an unknown name, or an engine whose module cannot be imported.
    """
    settings = settings or get_settings()
    name = name or settings.dft_engine
    target = ENGINES.get(name) or (name if _IMPORT_PATH.match(name) else None)
    if target is None:
        raise EngineError(
            f"unknown DFT engine {name!r}; known: {', '.join(sorted(ENGINES))}, "
            "or an import path module:Class"
        )
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineError(f"DFT engine {name!r} cannot be imported: {exc}") from None
    if not hasattr(module, class_name):
        raise EngineError(f"DFT engine {name!r}: {module_name} has no {class_name}")
    engine = getattr(module, class_name)(settings)
    if not isinstance(engine, DFTEngine):
        raise EngineError(f"{target} does not implement DFTEngine")
    return engine
