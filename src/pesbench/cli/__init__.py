"""The ``pesbench`` command line."""

from __future__ import annotations

from pesbench.cli.main import app, main

__all__ = ["app", "main"]
