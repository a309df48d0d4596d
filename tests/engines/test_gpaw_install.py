"""scripts/install-gpaw.sh: quick when GPAW is built; skips (exit 0) without root and packages."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install-gpaw.sh"
VENV = Path(sys.prefix)

pytestmark = pytest.mark.skipif(not SCRIPT.is_file(), reason="no scripts/ (not a checkout)")


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "VENV": str(VENV), **env},  # env may name another VENV
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_skips_quickly_when_gpaw_is_built() -> None:
    if importlib.util.find_spec("gpaw") is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs GPAW installed by `make setup`")
        pytest.skip("GPAW is not installed here")
    start = time.perf_counter()
    result = _run({})
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert time.perf_counter() - start < 10


def test_not_root_without_packages_prints_what_to_install(tmp_path: Path) -> None:
    shims = tmp_path / "bin"
    shims.mkdir()
    (shims / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")  # nothing installed
    (shims / "id").write_text('#!/bin/sh\n[ "$1" = -u ] && echo 1000 || echo someone\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    venv = tmp_path / "venv"  # never the real one: this run must not touch it
    venv.mkdir()
    path = f"{shims}:{os.environ['PATH']}"
    result = _run({"PATH": path, "GPAW_FORCE": "1", "VENV": str(venv)})
    assert result.returncode == 0, result.stderr
    assert "SKIPPED" in result.stderr
    assert "libopenmpi-dev" in result.stderr
    assert "sudo apt-get install" in result.stderr
    assert list(venv.iterdir()) == []
