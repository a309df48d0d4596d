"""The ``pesbench`` command: parses, calls workflows and stores, prints. Nothing more."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from pesbench import __version__
from pesbench.cli.db import db_app
from pesbench.cli.demo import demo
from pesbench.cli.doctor import doctor
from pesbench.cli.finetune import finetune, fit_scale
from pesbench.cli.fworker import fworker_app
from pesbench.cli.generate import generate
from pesbench.cli.import_vasp import import_vasp
from pesbench.cli.init import init
from pesbench.cli.models import models
from pesbench.cli.predict import predict
from pesbench.cli.property import property_command
from pesbench.cli.query import query
from pesbench.cli.report import report
from pesbench.cli.run import run, submit
from pesbench.cli.status import resume, status
from pesbench.cli.worker import worker
from pesbench.errors import PesbenchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="pesbench",
    help=(
        "Benchmark universal ML potentials against DFT on out-of-distribution structures: "
        "PES softening and the GGA -> r2SCAN gap."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
app.add_typer(db_app, name="db")
app.add_typer(fworker_app, name="fworker")
app.command()(doctor)
app.command(name="import-vasp")(import_vasp)
app.command()(demo)
app.command()(generate)
app.command()(predict)
app.command(name="property")(property_command)
app.command()(models)
app.command()(init)
app.command()(worker)
app.command()(run)
app.command()(submit)
app.command()(status)
app.command()(resume)
app.command()(query)
app.command()(report)
app.command()(finetune)
app.command(name="fit-scale")(fit_scale)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pesbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Benchmark universal ML potentials against DFT."""


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2, no traceback."""
    try:
        app()
    except PesbenchError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {exc}", markup=True
        )
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
