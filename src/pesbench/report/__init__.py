"""The campaign report: one self-contained HTML page (figures embedded) plus CSV tables.

Queries (MongoDB to frames: :mod:`~pesbench.report.queries`), assembly (frames to what the
page shows, plain values: :mod:`~pesbench.report.assemble`, :mod:`~pesbench.report.data`)
and rendering (Jinja2 templates: :mod:`~pesbench.report.render`) are kept apart.

Reads the ``comparisons`` (brought up to date first, incrementally), and the forces of the
references and predictions they name; draws with :mod:`pesbench.analysis.plots`.
Corrected models (``corrections``: fine-tunes and softening-scale fits trained on the
campaign's references or predicted with in it) get a section of their own, with the
held-out errors before and after. References whose code is not a DFT code (a uMLIP
standing in for DFT) are flagged at the top of the page and in every table (column
``reference_code``). Energy errors are never of absolute totals (codes differ in their
energy zero): of energies referenced to each side's own relaxed parent bulk where both
sides relaxed it, else with the set's mean offset removed; the tables and the parity
figure say which. Properties are those computed by each side from its own relaxed
geometries (:mod:`pesbench.report.relaxed`); a campaign with properties and no comparisons
gets a report of its properties.
"""

from __future__ import annotations

from pesbench.report.assemble import assemble_report
from pesbench.report.comparisons import DFT_CODES, REFERENCING_LABELS, energy_summary
from pesbench.report.data import ReportData
from pesbench.report.inputs import ReportInputs
from pesbench.report.properties import RELAXED_STATEMENT
from pesbench.report.queries import load_report_inputs
from pesbench.report.relaxed import RelaxedProperties, load_relaxed_properties
from pesbench.report.render import render_report
from pesbench.report.write import ReportFiles, write_report

__all__ = [
    "DFT_CODES",
    "REFERENCING_LABELS",
    "RELAXED_STATEMENT",
    "RelaxedProperties",
    "ReportData",
    "ReportFiles",
    "ReportInputs",
    "assemble_report",
    "energy_summary",
    "load_relaxed_properties",
    "load_report_inputs",
    "render_report",
    "write_report",
]
