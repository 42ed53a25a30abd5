"""Loads the task's trusted modules by path under names no other task uses:
``metric_tracker_hidden`` (generator, analysis, grader) and ``metric_tracker_support`` (test
helpers), so the test modules can import them in any import mode and beside any other task."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path, package: bool = False) -> None:
    if name in sys.modules:
        return
    locations = [str(path.parent)] if package else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


_load("metric_tracker_hidden", HERE.parent / "hidden" / "__init__.py", package=True)
_load("metric_tracker_support", HERE / "mt_support.py")
