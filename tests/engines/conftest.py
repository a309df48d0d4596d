"""Fixtures of the engine tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pesbench.engines.gpaw import GpawEngine


@pytest.fixture
def available(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """GPAW counted as usable, with PAW datasets for Si only (in a private folder)."""
    datasets = tmp_path / "setups"
    datasets.mkdir()
    (datasets / "Si.PBE.gz").write_bytes(b"")
    monkeypatch.setenv("GPAW_SETUP_PATH", str(datasets))
    monkeypatch.setattr(GpawEngine, "unavailable_reason", lambda self: None)
    return datasets
