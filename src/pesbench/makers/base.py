"""The package's job decorator: every Maker's ``make`` is decorated with it, once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobflow import job
from pymatgen.core.trajectory import Trajectory

__all__ = ["DATA_OBJECTS", "pesbench_job"]

DATA_OBJECTS: list[Any] = [Trajectory, "large_arrays"]
"""What goes to the JobStore's GridFS store ``data`` instead of the docs store:
pymatgen Trajectories, and any output field named ``large_arrays``. Extend it here only."""


def pesbench_job(method: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a Maker's ``make`` as a jobflow job whose large outputs go to GridFS.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from jobflow import Maker
    >>> @dataclass
    ... class EchoMaker(Maker):
    ...     name: str = "echo"
    ...
    ...     @pesbench_job
    ...     def make(self, value: float) -> float:
    ...         return value
    """
    return job(method, data=DATA_OBJECTS)
