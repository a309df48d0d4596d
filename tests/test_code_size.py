"""Code size: small modules, short functions (architecture issue, acceptance 3).

No module of ``src/pesbench`` is over :data:`MAX_MODULE_LINES` lines, and no function over
:data:`MAX_FUNCTION_LINES` (``end_lineno - lineno + 1``: signature, docstring and body)
unless its docstring gives the reason in a line starting "Long because".
"""

from __future__ import annotations

import ast
from pathlib import Path

import pesbench

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
PACKAGE = Path(pesbench.__file__).parent


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def long_modules(root: Path = PACKAGE) -> list[str]:
    """Modules under ``root`` over :data:`MAX_MODULE_LINES` lines, with their length."""
    out = []
    for path in sorted(root.rglob("*.py")):
        n = len(path.read_text().splitlines())
        if n > MAX_MODULE_LINES:
            out.append(f"{path.relative_to(root)}: {n} lines")
    return out


def long_functions(root: Path = PACKAGE) -> list[str]:
    """Functions under ``root`` over :data:`MAX_FUNCTION_LINES` lines without a reason."""
    out = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            n = (node.end_lineno or node.lineno) - node.lineno + 1
            doc = ast.get_docstring(node) or ""
            reason = any(line.strip().startswith("Long because") for line in doc.splitlines())
            if n > MAX_FUNCTION_LINES and not reason:
                out.append(f"{path.relative_to(root)}:{node.lineno} {node.name}: {n} lines")
    return out


def test_package_found() -> None:
    assert len(_modules()) > 50


def test_no_module_over_400_lines() -> None:
    assert long_modules() == [], "split these modules into cohesive ones"


def test_no_function_over_60_lines_without_a_reason() -> None:
    assert long_functions() == [], (
        "split these into helpers, or say why in a docstring line starting 'Long because'"
    )
