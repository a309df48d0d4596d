"""Sides of the planted tests (tests/support/planted.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from planted import SOFTENING, model_side

from pesbench.properties import EngineSide, ModelSide
from pesbench.testing.emt import EmtEngine


@pytest.fixture
def emt_side(tmp_path: Path) -> EngineSide:
    """The EMT fake engine at "PBE" (plain EMT)."""
    return EngineSide(EmtEngine(), "PBE", workdir=tmp_path)


@pytest.fixture
def same_side() -> ModelSide:
    """Plain EMT as a uMLIP: must agree with the EMT engine to numerical precision."""
    return model_side(1.0)


@pytest.fixture
def soft_side() -> ModelSide:
    """EMT softened by :data:`planted.SOFTENING`."""
    return model_side(SOFTENING)
