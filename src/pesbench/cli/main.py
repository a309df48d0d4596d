"""The ``pesbench`` command: parses, calls workflows and stores, prints. Nothing more."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer import _click as click  # typer's own click (vendored since typer 0.26)
from typer.core import TyperGroup
from typer.models import CommandInfo

from pesbench import __version__
from pesbench.errors import PesbenchError
from pesbench.settings import get_settings

__all__ = ["app", "main"]

COMMANDS: dict[str, str] = {
    "db": "pesbench.cli.db:db_app",
    "fworker": "pesbench.cli.fworker:fworker_app",
    "doctor": "pesbench.cli.doctor:doctor",
    "import": "pesbench.cli.import_data:import_data",
    "import-vasp": "pesbench.cli.import_vasp:import_vasp",
    "demo": "pesbench.cli.demo:demo",
    "generate": "pesbench.cli.generate:generate",
    "predict": "pesbench.cli.predict:predict",
    "property": "pesbench.cli.property:property_command",
    "models": "pesbench.cli.models:models",
    "init": "pesbench.cli.init:init",
    "worker": "pesbench.cli.worker:worker",
    "run": "pesbench.cli.run:run",
    "submit": "pesbench.cli.run:submit",
    "status": "pesbench.cli.status:status",
    "resume": "pesbench.cli.status:resume",
    "query": "pesbench.cli.query:query",
    "report": "pesbench.cli.report:report",
    "finetune": "pesbench.cli.finetune:finetune",
    "fit-scale": "pesbench.cli.finetune:fit_scale",
}
"""Every command (or sub-command group) and where it is defined, in ``--help`` order.

A command's module is imported when that command runs (or ``--help`` lists it): ``pesbench
predict`` does not pay for the database, workflow and DFT-engine libraries the other
commands import (issue 14: the start-up of a prediction)."""


def _load_command(name: str) -> click.Command:
    """Import the module of command ``name`` and build its click command."""
    module, attr = COMMANDS[name].split(":")
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
        command.name = name
        return command
    return typer.main.get_command_from_info(
        CommandInfo(name=name, callback=target),
        pretty_exceptions_short=True,
        rich_markup_mode="rich",
    )


class _LazyCommands(MutableMapping[str, click.Command]):
    """Name -> command; a command of :data:`COMMANDS` is built on first access."""

    def __init__(self) -> None:
        self._built: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(name for name in self._built if name not in COMMANDS)])

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._built))


class LazyGroup(TyperGroup):
    """The root command group: a command's module is imported on first use (:data:`COMMANDS`).

    Running one command builds that command only; ``--help`` (which lists them all) and
    iterating ``commands`` build every one.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        built = self.commands
        self.commands = _LazyCommands()
        self.commands.update(built)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, in :data:`COMMANDS` order, none of them built."""
        return list(self.commands)


app = typer.Typer(
    name="pesbench",
    cls=LazyGroup,
    help=(
        "Benchmark universal ML potentials against DFT on out-of-distribution structures: "
        "PES softening and the GGA -> r2SCAN gap."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


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
