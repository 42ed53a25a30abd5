"""Tier 1: the code that runs inside the sandbox imports only the standard library and itself.

``pytest_rlgrade/runtime/`` is copied into the sandbox as it is, where neither pytest nor the rest
of pytest_rlgrade nor any third-party distribution is importable (issue #9)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parent.parent / "pytest_rlgrade" / "runtime"


def imported_modules(path: Path) -> list[tuple[int, str, int]]:
    """(line, module, relative level) of every import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", node.level))
    return found


@pytest.mark.parametrize("path", sorted(RUNTIME.glob("*.py")), ids=lambda p: p.name)
def test_runtime_is_standard_library_only(path: Path) -> None:
    own = {p.stem for p in RUNTIME.glob("*.py")}
    for line, module, level in imported_modules(path):
        top = module.split(".")[0]
        if level:  # relative: only within the runtime subpackage itself
            assert level == 1, f"{path.name}:{line}: from {'.' * level}{module}"
            assert not module or top in own, f"{path.name}:{line}: from .{module}"
        else:
            assert top in sys.stdlib_module_names or top in own, f"{path.name}:{line}: import {module}"


def test_the_sandbox_copies_the_whole_runtime() -> None:
    from pytest_rlgrade import sandbox

    source = Path(sandbox.__file__).read_text(encoding="utf-8")
    for path in RUNTIME.glob("*.py"):
        assert f'"{path.name}"' in source, f"{path.name} is not copied into the sandbox"
