"""The mock-VASP pytest fixture.

Enable it with ``pytest_plugins = ["pesbench.testing.pytest_plugin"]`` in a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import pytest

from pesbench.testing.vasp import MockVasp, VaspReference, mock_vasp

__all__ = ["mock_vasp_refs"]


@pytest.fixture
def mock_vasp_refs() -> Iterator[Callable[[Mapping[str, Path | str | VaspReference]], MockVasp]]:
    """Call with {key: reference folder} to fake VASP until the test ends."""
    with ExitStack() as stack:

        def start(references: Mapping[str, Path | str | VaspReference]) -> MockVasp:
            return stack.enter_context(mock_vasp(references))

        yield start
