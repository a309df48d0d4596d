"""The console all commands print to (no syntax highlighting of numbers and paths)."""

from __future__ import annotations

import sys

from rich.console import Console

__all__ = ["console"]

# rich assumes 80 columns when stdout is not a terminal (make, CI logs, pipes): tables
# would be squeezed into ellipses, so use a wide line there; a terminal keeps its width.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
