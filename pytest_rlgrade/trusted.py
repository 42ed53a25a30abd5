"""Loading a task's trusted code by path: its hidden ground truth, its tools, its test helpers.

Task tests are collected in importlib mode, beside other tasks' tests, so they cannot import a
neighbouring ``helpers.py`` or ``hidden/`` by name, and two tasks may both have a ``tools``
package. :func:`load_trusted` imports such code once, under a name the task chooses. It is for
trusted code only: submission code never enters the supervisor.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_trusted(path: str | Path, name: str) -> ModuleType:
    """Import the module file or package folder at ``path`` as ``name`` (once; later calls return
    the same module). A package's submodules are then importable as ``name.submodule``."""
    if name in sys.modules:
        return sys.modules[name]
    path = Path(path)
    locations = None
    if path.is_dir():
        locations = [str(path)]
        path = path / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as {name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
