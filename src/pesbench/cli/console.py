"""The console all commands print to (no syntax highlighting of numbers and paths)."""

from __future__ import annotations

from rich.console import Console

__all__ = ["console"]

console = Console(highlight=False, soft_wrap=True)
