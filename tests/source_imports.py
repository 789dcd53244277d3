"""What a Python file imports, read from its source (no import is run)."""

from __future__ import annotations

import ast
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every module a file imports (at any depth, in functions too); relative
    imports inside the library are resolved against the file's package."""
    names = set()
    package = list(path.relative_to(SCRIPTS).parent.parts) if path.is_relative_to(SCRIPTS) else []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - node.level + 1]
            if node.module:
                names.add(".".join([*base, node.module]))
            else:  # from . import module
                names |= {".".join([*base, alias.name]) for alias in node.names}
    return names
