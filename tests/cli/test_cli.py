from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from jobflow import Flow, run_locally
from typer.testing import CliRunner

from pesbench.cli import app
from pesbench.cli.doctor import FAILED, OK, run_checks
from pesbench.settings import PesbenchSettings, override_settings
from pesbench.stores import free_port, get_job_store
from pesbench.stores.selfcheck import random_array

runner = CliRunner()


def _command_paths(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += _command_paths(sub, (*prefix, name))
    return paths


ALL_COMMANDS = _command_paths(typer.main.get_command(app))


def test_the_commands_exist() -> None:
    assert {("doctor",), ("demo",), ("db", "start"), ("db", "stop"), ("db", "status")} <= set(
        ALL_COMMANDS
    )


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=lambda p: " ".join(p) or "pesbench")
def test_help_on_every_command(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def _pesbench(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("pesbench")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "pesbench.cli.main"]
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("PESBENCH_")}
    return subprocess.run(
        [*cmd, *args], env={**clean, **env}, capture_output=True, text=True, timeout=timeout
    )


def test_bad_uri_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = _pesbench(
        "doctor", env={"PESBENCH_DB_URI": "notaurl", "PESBENCH_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "PESBENCH_DB_URI" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_db_commands_keep_data_across_restart(tmp_path: Path, mongod_binary: Path) -> None:
    env = {"PESBENCH_DATA_DIR": str(tmp_path / "data"), "PESBENCH_MONGOD_PATH": str(mongod_binary)}
    try:
        started = _pesbench("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "started" in started.stdout
        again = _pesbench("db", "start", env=env)
        assert "already running" in again.stdout
        status = _pesbench("db", "status", env=env)
        assert status.returncode == 0, status.stderr
        port_line = next(line for line in status.stdout.splitlines() if "port" in line)
        port = int(port_line.split("port")[1].split(",")[0])
        assert f"mongodb://127.0.0.1:{port}/" in status.stdout

        with override_settings(data_dir=tmp_path / "data", mongod_path=mongod_binary) as settings:
            step = random_array(1000, seed=11)
            run_locally(Flow([step]), store=get_job_store(settings), log=False)

        assert _pesbench("db", "stop", env=env).returncode == 0
        stopped = _pesbench("db", "status", env=env)
        assert stopped.returncode == 1
        assert "not running" in stopped.stdout
        assert _pesbench("db", "start", env=env).returncode == 0

        with override_settings(data_dir=tmp_path / "data", mongod_path=mongod_binary) as settings:
            store = get_job_store(settings, start=False)
            store.connect()
            try:
                output = store.get_output(step.uuid, load=True)
            finally:
                store.close()
        assert len(output["array"]) == 1000
    finally:
        _pesbench("db", "stop", env=env)


def test_db_start_refuses_when_a_uri_is_configured(tmp_path: Path) -> None:
    env = {"PESBENCH_DB_URI": "mongodb://127.0.0.1:1/", "PESBENCH_DATA_DIR": str(tmp_path)}
    result = _pesbench("db", "start", env=env)
    assert result.returncode == 2
    assert "PESBENCH_DB_URI is set" in result.stderr


def test_doctor_with_a_reachable_database(db_settings: PesbenchSettings) -> None:
    rows = {row.component: row for row in run_checks(db_settings)}
    assert rows["MongoDB (PESBENCH_DB_URI)"].status == OK
    assert "6." in rows["MongoDB (PESBENCH_DB_URI)"].detail  # the server's version
    assert rows["uMLIP: CHGNet"].status == OK  # weights ship in the chgnet wheel
    assert rows["DFT: GPAW (local engine)"].status == OK  # the default engine, set up by make
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output  # what the settings need all works here
    assert "how to fix" in result.output
    assert "FAILED" not in result.output


def test_doctor_with_an_unreachable_database(tmp_path: Path) -> None:
    uri = f"mongodb://127.0.0.1:{free_port()}/"
    with override_settings(db_uri=uri, data_dir=tmp_path) as settings:
        rows = {row.component: row for row in run_checks(settings)}
        assert rows["MongoDB (PESBENCH_DB_URI)"].status == FAILED
        assert runner.invoke(app, ["doctor"]).exit_code == 1
