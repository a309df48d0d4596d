"""A slow EMT engine that logs every single point it runs (not a test module).

``COUNTING_ENGINE_LOG`` names the log file; each computed reference appends one line, its
reference_id, with O_APPEND (whole lines from concurrent processes). Each single point takes
``COUNTING_ENGINE_SECONDS`` (default 1 s), so that two workers overlap.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

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
        doc = super().compute(structure, *args, **kwargs)
        with Path(os.environ["COUNTING_ENGINE_LOG"]).open("a") as log:
            log.write(doc.reference_id + "\n")
        return doc
