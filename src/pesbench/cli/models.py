"""``pesbench models``: the model ids this machine can load, and why the others cannot be."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from pesbench.cli.console import console
from pesbench.mlip import known_model_ids, model_status

__all__ = ["models"]


def models(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List model ids: loaded and sanity-checked here, or why not (and how to supply them)."""
    rows = [model_status(model_id) for model_id in known_model_ids()]
    if as_json:
        typer.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        return
    table = Table(title="uMLIP models", show_lines=True)
    for column in ("model id", "loads", "details / how to supply it"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = "[green]yes[/]" if row.ok else "[yellow]no[/]"
        table.add_row(row.model_id, status, row.detail)
    console.print(table)
