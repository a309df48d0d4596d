"""The report's page: :class:`~pesbench.report.data.ReportData` rendered by Jinja2 templates.

The templates (``pesbench/report/templates``: a base layout, one partial per section and
the style sheet) ship with the package. Autoescaping is on: campaign names, model ids and
notes reach the page as text, never as markup. No database, no files: a string out.
"""

from __future__ import annotations

import base64
import math
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pesbench.report.data import Cell, PropertiesData, ReportData, Routes

__all__ = ["environment", "format_cell", "render_properties", "render_report", "render_routes"]

MISSING = "–"
"""How a missing value reads in a table."""


def format_cell(value: Cell) -> str:
    """A table cell as text: floats to 4 significant digits, missing values as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _data_uri(png: bytes) -> str:
    """PNG bytes as a ``data:`` URI (the page embeds its figures)."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


@cache
def environment() -> Environment:
    """The Jinja2 environment of the report's templates (autoescaped, strict)."""
    env = Environment(
        loader=PackageLoader("pesbench.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = format_cell
    env.filters["data_uri"] = _data_uri
    return env


def _render(template: str, **context: Any) -> str:
    """One template of the report, rendered with ``context``."""
    return environment().get_template(template).render(**context)


def render_report(data: ReportData) -> str:
    """The whole page of ``data``: one self-contained HTML document.

    Parameters
    ----------
    data
        What the page shows (:func:`pesbench.report.assemble.assemble_report`, or built by
        hand).
    """
    return _render("report.html.j2", report=data)


def render_properties(section: PropertiesData) -> str:
    """The "Properties (relaxed)" section alone (an HTML fragment)."""
    return _render("properties.html.j2", properties=section)


def render_routes(routes: Routes) -> str:
    """The routes from GGA to r2SCAN alone, held-out comparisons included (a fragment)."""
    return _render("routes.html.j2", routes=routes)
