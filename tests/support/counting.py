"""A slow EMT engine that logs every single point it runs (not a test module).

``COUNTING_ENGINE_LOG`` names the log file; each computed reference appends one line, its
reference_id, with O_APPEND (whole lines from concurrent processes). Each single point takes
``COUNTING_ENGINE_SECONDS`` (default 1 s), so that two workers overlap. With
``COUNTING_ENGINE_CRASH_AT=n``, the n-th single point (counted in the log) stops the process
instead (SystemExit, which jobflow does not catch): a worker killed mid-campaign.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ase.calculators.emt import EMT
from pymatgen.core import Structure

from pesbench.schemas.reference import ReferenceDoc
from pesbench.testing.emt import EmtEngine

COUNTING = "counting:CountingEmtEngine"
"""The engine by import path (tests/support is on the path of the tests' processes)."""


class CountingEmtEngine(EmtEngine):
    """EMT, slowed down, with a log of what it computed."""

    name = "emt-counting"

    def compute(self, structure: Structure, *args: Any, **kwargs: Any) -> ReferenceDoc:
        """EMT's single point after a pause; its reference_id logged."""
        time.sleep(float(os.environ.get("COUNTING_ENGINE_SECONDS", "1")))
        log_path = Path(os.environ["COUNTING_ENGINE_LOG"])
        done = len(log_path.read_text().split()) if log_path.exists() else 0
        if done + 1 == int(os.environ.get("COUNTING_ENGINE_CRASH_AT", "0")):
            raise SystemExit(f"planted kill at single point {done + 1}")
        doc = super().compute(structure, *args, **kwargs)
        with log_path.open("a") as log:
            log.write(doc.reference_id + "\n")
        return doc


class DyingEMT(EMT):
    """ASE's EMT as a model, whose process dies at its ``DYING_EMT_AT``-th evaluation.

    ``ase:counting.DyingEMT``: every evaluation is counted in the file ``DYING_EMT_LOG``;
    the evaluation numbered ``DYING_EMT_AT`` stops the process (SystemExit).
    """

    def calculate(self, *args: Any, **kwargs: Any) -> None:
        """EMT, unless this evaluation is the planted kill."""
        log = Path(os.environ["DYING_EMT_LOG"])
        with log.open("a") as handle:
            handle.write("x")
        if len(log.read_text()) == int(os.environ.get("DYING_EMT_AT", "0")):
            raise SystemExit("planted kill of the prediction worker")
        super().calculate(*args, **kwargs)
