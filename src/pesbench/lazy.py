"""Package names that load their module on first use (PEP 562).

A package that re-exports its modules' names imports them all when any one of its modules
is imported; for ``pesbench.structures`` that is phonopy, for ``pesbench.makers`` every
Maker's dependencies. Such a package defines ``__getattr__ = lazy_exports(__name__, {name:
module})`` instead: each name is imported from its module when first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, module_of: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``name`` from ``package.<module_of[name]>``."""

    def __getattr__(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # the next lookup finds it directly
        return value

    return __getattr__
