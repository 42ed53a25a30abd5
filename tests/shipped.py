"""Helpers of the shipped tasks' end-to-end tests (``tests/test_task_*.py``): a task's starter
cap, the tests a graded task failed, what the reference's and the starter's gradings must show,
and a copy of the reference with one change (the partial solutions whose rewards those tests
order). Importable because ``pythonpath`` holds ``tests``."""

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


def assert_full_reward(graded: Any, task: str, at_least: int) -> None:
    """The reference's grading: exit 0, reward 1.0 with every test passed (at least
    ``at_least`` of them), no flag, and every metric's full credit."""
    assert graded.exit_code == 0, graded.output[-3000:]
    report = graded.task(task)
    assert report["reward"] == 1.0, failed_tests(report)
    assert report["flags"] == []
    assert report["counts"]["passed"] == report["counts"]["total"] >= at_least
    assert [m["credit"] for m in report["metrics"]] == [1.0] * len(report["metrics"])


def assert_within_cap(graded: Any, task: str, gate: str) -> None:
    """The starter's grading: a reward at most the task's cap, with the ``gate`` passed (the
    starter imports: it earns little because it does little, not because it is broken)."""
    report = graded.task(task)
    assert report["reward"] is not None, graded.output[-3000:]
    assert report["reward"] <= starter_cap(task)
    assert gate not in failed_tests(report), f"the starter must pass {gate}"
