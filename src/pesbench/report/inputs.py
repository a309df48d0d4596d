"""What the report is made from, as read from MongoDB: frames, arrays and documents.

:mod:`pesbench.report.queries` fills a :class:`ReportInputs`;
:mod:`pesbench.report.assemble` turns it into what the page shows. Plain containers: no
database, no drawing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from pesbench.report.relaxed import RelaxedProperties

__all__ = ["ForcePairs", "ReportInputs"]


@dataclass
class ForcePairs:
    """All force components of one (model, functional, reference code): DFT and model."""

    title: str
    reference: np.ndarray
    model: np.ndarray


@dataclass
class ReportInputs:
    """What the report of one campaign is made from."""

    campaign: str
    material: pd.DataFrame
    structure: pd.DataFrame
    relaxed: RelaxedProperties
    forces: list[ForcePairs] = field(default_factory=list)
    gga_r2scan: list[dict[str, Any]] = field(default_factory=list)
    """The campaign's successful GGA and r2SCAN references (energies, no forces)."""
    finetunes: pd.DataFrame = field(default_factory=pd.DataFrame)
    scale_fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """The fine-tunes' warnings, as (model id, note)."""
    unfinished: bool = False
    planned_at: datetime | None = None
    """When the unfinished last run was planned, where known."""
