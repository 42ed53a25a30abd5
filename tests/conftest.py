"""Shared fixtures of the harness's own test suite."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent

# Property tests here check logic, not speed: on a loaded 2-core CI machine a garbage collection
# can take longer than Hypothesis' default deadline of 200 ms and fail a correct example.
settings.register_profile("rlgrade-suite", deadline=None)
settings.load_profile("rlgrade-suite")


@dataclass
class Graded:
    """What one grading run through the command line produced."""

    exit_code: int
    report: dict[str, Any] | None
    output: str

    def task(self, name: str) -> dict[str, Any]:
        assert self.report is not None, self.output
        return next(t for t in self.report["tasks"] if t["name"] == name)


@pytest.fixture
def grade(tmp_path_factory: pytest.TempPathFactory):
    """Grade a submission through the real command line, from the repository root.

    ``grade(submission, task, *extra_args)`` returns a :class:`Graded`; the report is validated
    against the shipped JSON Schema before it is returned.
    """

    def run(submission: str | Path, task: str | None = None, *extra: str, timeout: float = 600) -> Graded:
        folder = tmp_path_factory.mktemp("grade")
        report = folder / "report.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            f"--submission={submission}",
            f"--rlgrade-report={report}",
            "-p",
            "no:cacheprovider",
            "-q",
            *extra,
        ]
        if task:
            command.append(f"--task={task}")
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        data = None
        if report.exists():
            data = json.loads(report.read_text())
            from pytest_rlgrade.report import validate_report_data

            validate_report_data(data)
        return Graded(done.returncode, data, done.stdout + done.stderr)

    return run


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers: the fast tests (units, options, properties) run first, the end-to-end gradings
    (marked ``slow``) after them, so a broken unit fails the run within a minute, and last the
    validation of the shipped tasks (marked ``validate`` too: minutes per task)."""
    items.sort(
        key=lambda item: (item.get_closest_marker("slow") is not None, item.get_closest_marker("validate") is not None)
    )
