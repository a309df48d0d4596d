"""What the report shows, as plain values: tables, figures (PNG bytes) and texts, no HTML.

:mod:`pesbench.report.assemble` builds a :class:`ReportData` from what
:mod:`pesbench.report.queries` read; :mod:`pesbench.report.render` turns it into the page.
A :class:`ReportData` can be built by hand (tests, other front ends) without a database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Cell",
    "Comparisons",
    "Convention",
    "Corrections",
    "CrossFunctional",
    "Figure",
    "HeldOutRoutes",
    "PropertiesData",
    "ReportData",
    "Routes",
    "Table",
]

Cell = str | int | float | bool | None
"""One table cell: ``None`` where the value is missing."""


def _plain(value: Any) -> Cell:
    """A cell as a plain Python value (``None`` for NaN and NA)."""
    if value is None or (not isinstance(value, str) and pd.api.types.is_scalar(value)
                         and pd.isna(value)):  # fmt: skip
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value if isinstance(value, str) else str(value)


@dataclass
class Table:
    """A table: column names and rows of plain values."""

    columns: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, columns: list[str] | None = None) -> Table:
        """The ``columns`` of ``frame`` that it has (default all), in that order.

        Parameters
        ----------
        frame
            The data.
        columns
            Wanted columns; those ``frame`` lacks are left out.
        """
        cols = [str(c) for c in (frame.columns if columns is None else columns)
                if c in frame.columns]  # fmt: skip
        picked = frame.set_axis([str(c) for c in frame.columns], axis=1)[cols]
        rows = [[_plain(v) for v in row] for row in picked.itertuples(index=False, name=None)]
        return cls(columns=cols, rows=rows)

    @property
    def empty(self) -> bool:
        """Whether the table has no row."""
        return not self.rows


@dataclass
class Figure:
    """A drawn figure: PNG bytes and the alternative text of the image."""

    alt: str
    png: bytes


@dataclass
class Convention:
    """The energies a model predicts, and what was done where they meet DFT, in words."""

    model_id: str
    text: str


@dataclass
class Comparisons:
    """The sections of the comparisons of models with references."""

    summary: Table
    stand_ins: list[str] = field(default_factory=list)
    """Reference codes that are not DFT codes (a uMLIP standing in for DFT)."""
    force_parity: Figure | None = None
    energy_parity: Figure | None = None
    conventions: list[Convention] = field(default_factory=list)
    softening: Table | None = None
    """Softening scale per material and category, the models side by side."""
    softening_figure: Figure | None = None
    one_point: Figure | None = None

    @property
    def figure_names(self) -> list[str]:
        """The names of the figures drawn, in page order."""
        named = [
            ("force parity", self.force_parity),
            ("energy parity", self.energy_parity),
            ("softening distribution", self.softening_figure),
            ("one-point correction", self.one_point),
        ]
        return [name for name, fig in named if fig is not None]


@dataclass
class HeldOutRoutes:
    """An r2SCAN fine-tune beside the other routes, on its held-out materials."""

    model_id: str
    test: list[str]
    train: str
    table: Table


@dataclass
class Routes:
    """The routes from GGA to r2SCAN on the same r2SCAN references."""

    table: Table
    held_out: list[HeldOutRoutes] = field(default_factory=list)


@dataclass
class PropertiesData:
    """The "Properties (relaxed)" section."""

    statement: str
    pairing: str
    computed: bool = False
    """Whether the campaign asked for any property at all."""
    summary: Table | None = None
    underpredicted: Table | None = None
    categories: list[tuple[str, Table]] = field(default_factory=list)
    phonons: Table | None = None
    parity: Figure | None = None
    dos: Figure | None = None
    unpaired: list[str] = field(default_factory=list)
    """Model values without a DFT value, each ``side material name label``."""
    notes: list[str] = field(default_factory=list)


@dataclass
class CrossFunctional:
    """GGA against r2SCAN references: a figure where there are enough pairs, and words."""

    text: str
    figure: Figure | None = None


@dataclass
class Corrections:
    """The campaign's corrected models: fine-tunes and softening-scale fits."""

    finetunes: Table | None = None
    warnings: list[tuple[str, str]] = field(default_factory=list)
    """The fine-tunes' warnings, as (model id, note)."""
    scale_fits: Table | None = None


@dataclass
class ReportData:
    """Everything on the page of a campaign's report."""

    campaign: str
    version: str
    stamp: str
    """When it was written (UTC, to the minute)."""
    csv_names: list[str]
    properties: PropertiesData
    cross_functional: CrossFunctional
    corrections: Corrections = field(default_factory=Corrections)
    partial: bool = False
    """Whether the campaign's last run had not finished."""
    planned_at: str = ""
    """When that unfinished run was planned (``YYYY-MM-DD HH:MM``), where known."""
    comparisons: Comparisons | None = None
    routes: Routes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def figure_names(self) -> list[str]:
        """The names of the figures drawn, in page order (the phonon DOS is not named)."""
        names = self.comparisons.figure_names if self.comparisons else []
        names += ["property parity"] if self.properties.parity else []
        return names + (["GGA vs r2SCAN"] if self.cross_functional.figure else [])
