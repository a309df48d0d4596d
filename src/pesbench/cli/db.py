"""``pesbench db start | stop | status``: the managed local MongoDB server."""

from __future__ import annotations

import typer

from pesbench.cli.console import console
from pesbench.errors import DatabaseError
from pesbench.settings import get_settings, redact_uri
from pesbench.stores import local_server, ping, require_database

__all__ = ["CHECK_TIMEOUT_MS", "check_database", "db_app"]

CHECK_TIMEOUT_MS = 3000
"""How long a command waits for the database to answer before it refuses (ms)."""

db_app = typer.Typer(
    help="The private MongoDB server pesbench runs when PESBENCH_DB_URI is not set.",
    no_args_is_help=True,
)


def _refuse_with_uri() -> None:
    if get_settings().db_uri:
        raise DatabaseError(
            "PESBENCH_DB_URI is set, so pesbench uses that server and manages none; "
            "unset it to use the managed local server"
        )


def check_database() -> None:
    """Refuse in one line, within seconds, when the configured database does not answer.

    Commands call it before their first query: pymongo alone would wait 30 s, then raise
    a ``ServerSelectionTimeoutError`` that says neither which setting nor what to do.
    """
    require_database(get_settings(), timeout_ms=CHECK_TIMEOUT_MS)


@db_app.command()
def start() -> None:
    """Start the managed server (does nothing if it already runs) and print its URI."""
    _refuse_with_uri()
    server = local_server()
    state, started = server.start()
    verb = "started" if started else "already running"
    console.print(f"mongod {verb}: PID {state.pid}, port {state.port}")
    console.print(f"uri: {state.uri}")


@db_app.command()
def stop() -> None:
    """Stop the managed server (clean shutdown; the data stay)."""
    _refuse_with_uri()
    state = local_server().stop()
    if state is None:
        console.print("mongod was not running")
    else:
        console.print(f"mongod stopped (PID {state.pid}, port {state.port})")


@db_app.command()
def status() -> None:
    """Say whether the database answers, with its URI; exit 1 when it does not."""
    settings = get_settings()
    if settings.db_uri:
        version = ping(settings.db_uri)
        console.print(f"uri: {redact_uri(settings.db_uri)} (PESBENCH_DB_URI)")
        console.print(f"database: {settings.db_name}")
        if version is None:
            console.print("[red]not answering[/]")
            raise typer.Exit(1)
        console.print(f"MongoDB {version}: answering")
        return
    server = local_server()
    state = server.status()
    console.print(f"data: {server.dbpath}")
    if state is None:
        console.print("mongod: not running (`pesbench db start`)")
        raise typer.Exit(1)
    version = ping(state.uri)
    console.print(f"mongod: running, PID {state.pid}, port {state.port}, since {state.started}")
    console.print(f"uri: {state.uri}")
    console.print(f"database: {settings.db_name}")
    console.print(f"log: {server.logpath}")
    if version is None:
        console.print("[red]not answering[/]")
        raise typer.Exit(1)
    console.print(f"MongoDB {version}: answering")
