"""``pesbench init``: write a commented campaign template."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import typer

from pesbench.cli.console import console

__all__ = ["init"]


def init(
    path: Path = typer.Argument(  # noqa: B008  # typer's way of declaring arguments
        "campaign.yaml", help="Where to write the template."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented campaign spec to edit (see examples/ for complete ones)."""
    if path.exists() and not force:
        console.print(f"{path} exists; use --force to overwrite it")
        raise typer.Exit(1)
    template = files("pesbench.workflows").joinpath("templates/campaign.yaml").read_text()
    path.write_text(template)
    console.print(f"wrote {path}: list your structures, then `pesbench run {path} --dry-run`")
