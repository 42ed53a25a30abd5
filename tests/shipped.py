"""Helpers of the shipped tasks' end-to-end tests (``tests/test_task_*.py``): a task's starter
cap, the tests a graded task failed, and a copy of the reference with one change (the partial
solutions whose rewards those tests order). Importable because ``pythonpath`` holds ``tests``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def starter_cap(task: str) -> float:
    return float(yaml.safe_load((ROOT / "tasks" / task / "task.yaml").read_text())["reward"]["starter_cap"])


def failed_tests(task: dict[str, Any]) -> set[str]:
    """The tests of a task's report that did not pass, as ``file.py::name``."""
    return {t["node_id"].split("/tests/", 1)[1] for t in task["tests"] if t["outcome"] != "passed"}


def copy_reference(tmp_path: Path, task: str) -> Path:
    folder = tmp_path / "submission"
    shutil.copytree(ROOT / "reference" / task, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def partial_submission(tmp_path: Path, task: str, module: str, old: str, new: str) -> Path:
    """A copy of the reference whose ``module`` (a path in the package) has ``old`` replaced."""
    folder = copy_reference(tmp_path, task)
    path = folder / task / module
    source = path.read_text()
    assert source.count(old) == 1, f"{old!r} not found once in the reference's {module}"
    path.write_text(source.replace(old, new))
    return folder
