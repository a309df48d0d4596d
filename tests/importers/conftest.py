"""Small labelled data sets written by the tests: EMT energies, forces and stresses."""

from __future__ import annotations

import pytest
from ase import Atoms
from emt_frames import emt_frames


@pytest.fixture
def frames() -> list[Atoms]:
    """Four EMT-labelled frames."""
    return emt_frames(4)
