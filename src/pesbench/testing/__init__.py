"""Fakes shipped with the package, for users to test their own campaigns."""

from __future__ import annotations

from pesbench.testing.vasp import (
    CHECKS,
    FakeVaspError,
    MockVasp,
    VaspReference,
    check_inputs,
    copy_outputs,
    fake_run_vasp,
    fake_vasp_command,
    mock_vasp,
)

__all__ = [
    "CHECKS",
    "FakeVaspError",
    "MockVasp",
    "VaspReference",
    "check_inputs",
    "copy_outputs",
    "fake_run_vasp",
    "fake_vasp_command",
    "mock_vasp",
]
