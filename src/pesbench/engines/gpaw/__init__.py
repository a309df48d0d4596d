"""The local DFT engine: GPAW (plane-wave PAW, libxc), PBE, PBE+U and r2SCAN."""

from __future__ import annotations

from pesbench.engines.gpaw.engine import GpawEngine

__all__ = ["GpawEngine"]
