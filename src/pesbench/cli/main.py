"""The ``pesbench`` command: parses, calls workflows and stores, prints. Nothing more."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from pesbench import __version__
from pesbench.cli.db import db_app
from pesbench.cli.demo import demo
from pesbench.cli.doctor import doctor
from pesbench.cli.finetune import finetune, fit_scale
from pesbench.cli.fworker import fworker_app
from pesbench.cli.generate import generate
from pesbench.cli.import_data import import_data
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
from pesbench.settings import get_settings

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
app.command(name="import")(import_data)
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
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of an error instead of one line."
    ),
    verbose: bool = typer.Option(
        False,
        "--verbose",
        help="Show the libraries' warnings here too (always in <data_dir>/logs/warnings.log).",
    ),
) -> None:
    """Benchmark universal ML potentials against DFT."""


def error_line(exc: Exception) -> str:
    """The one line an error becomes on the command line (after ``error:``).

    A :class:`~pesbench.errors.PesbenchError` is complete on its own; any other exception
    is a bug or an unforeseen input, shown with its type and the way to its traceback.
    """
    if isinstance(exc, PesbenchError):
        return str(exc)
    message = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {message} (run with --debug for the traceback)"


def exit_code(exc: Exception) -> int:
    """2 for a user error (:class:`~pesbench.errors.PesbenchError`), 1 for anything else."""
    return 2 if isinstance(exc, PesbenchError) else 1


def warnings_to_log() -> Path | None:
    """Send Python warnings to ``<data_dir>/logs/warnings.log`` instead of the terminal.

    Libraries warn about their own affairs (jobflow's deprecated ``cd``, CHGNet's tensor
    conversion): a user reads a warning as something wrong with their run. The log keeps
    them; ``--verbose`` shows them. Returns the log file (None: warnings are dropped, when
    the settings cannot say where the data folder is).
    """
    try:
        path = get_settings().data_dir / "logs" / "warnings.log"
        path.parent.mkdir(parents=True, exist_ok=True)
    except Exception:  # bad settings are reported by the command itself
        warnings.simplefilter("ignore")
        return None
    logger = logging.getLogger("py.warnings")
    if not any(getattr(h, "baseFilename", None) == str(path) for h in logger.handlers):
        handler = logging.FileHandler(path)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    logger.propagate = False
    logging.captureWarnings(False)  # re-install even if something replaced showwarning since
    logging.captureWarnings(True)
    return path


def main(args: list[str] | None = None) -> None:
    """Entry point: an error becomes one line on stderr, no traceback unless ``--debug``.

    Parameters
    ----------
    args
        The command line without the program name (default: ``sys.argv[1:]``).
    """
    args = sys.argv[1:] if args is None else args
    debug = "--debug" in args
    verbose = "--verbose" in args
    for flag, given in (("--verbose", verbose), ("--debug", debug)):
        if given:  # accepted anywhere on the line; the root options document them in --help
            args = [flag, *(arg for arg in args if arg != flag)]
    if not (verbose or debug):
        warnings_to_log()
    try:
        app(args=args)
    except Exception as exc:
        if debug:
            raise
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[bold red]error:[/] {escape(error_line(exc))}", markup=True
        )
        sys.exit(exit_code(exc))


if __name__ == "__main__":  # pragma: no cover
    main()
