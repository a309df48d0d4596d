"""A usable GPAW engine for the tests that run real DFT (not a test module)."""

from __future__ import annotations

import os

import pytest

from pesbench.engines.gpaw import GpawEngine
from pesbench.settings import PesbenchSettings


def usable_gpaw(settings: PesbenchSettings) -> GpawEngine:
    """The GPAW engine of ``settings``; unusable, it fails the test under CI, else skips it."""
    engine = GpawEngine(settings)
    reason = engine.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs GPAW: {reason}")
        pytest.skip(f"GPAW is not usable here: {reason}")
    return engine
