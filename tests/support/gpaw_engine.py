"""GPAW engine helpers for the tests (not a test module): a usable engine, a fake run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

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


class FakeRun:
    """Stands in for run_gpaw: records the call, writes what a worker would."""

    def __init__(self, results: dict[str, Any] | None, code: int = 0, log: str = "") -> None:
        self.results, self.code, self.log = results, code, log
        self.calls: list[list[str]] = []

    def __call__(
        self,
        command: list[str],
        run_dir: Path,
        env: dict[str, str],
        timeout_s: float | None = None,
    ) -> int:
        self.calls.append(command)
        self.timeout_s = timeout_s
        self.env = env
        self.inputs = json.loads((run_dir / "inputs.json").read_text())
        (run_dir / "gpaw.txt").write_text(self.log)
        if self.results is not None:
            (run_dir / "results.json").write_text(json.dumps(self.results))
        return self.code
