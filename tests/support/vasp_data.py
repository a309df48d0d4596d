"""Where the shared VASP reference outputs are, for the VASP tests (not a test module)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "vasp-reference"
"""The checkout root's parent / shared / vasp-reference (CI clones shared/ beside it)."""


def vasp_reference() -> Path:
    """The folder; skip (fail under CI) when it is absent."""
    if not (SHARED / "PROVENANCE.md").is_file():
        msg = f"VASP reference outputs not found at {SHARED} (a clone without ../shared)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED
