"""pytest-rlgrade: grade submissions to coding tasks with pytest and turn the result into a reward.

Run ``pytest --submission=starter|reference|PATH [--task NAME]``, or from Python::

    with pytest_rlgrade.Grader(tasks=["my_task"]) as grader:
        reports = grader.grade_many(rollouts, task="my_task")

See the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import CliResult, Handle, Submission
from .errors import (
    ManifestError,
    SandboxUnavailable,
    SubmissionCrashed,
    SubmissionFault,
    SubmissionMemoryError,
    SubmissionProtocolError,
    SubmissionRaised,
    SubmissionTimeout,
    TaskError,
)
from .trusted import load_trusted, memo

if TYPE_CHECKING:
    from .engine import Backend, Grader, GraderError, grade, load_report
    from .report import Report

# The plugin module imports this package in every pytest run of anyone who installs it: the
# engine and the report models (pydantic) load only when asked for.
_LAZY = {
    "Backend": "engine",
    "Grader": "engine",
    "GraderError": "engine",
    "grade": "engine",
    "load_report": "engine",
    "Report": "report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_rlgrade' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "Backend",
    "CliResult",
    "Grader",
    "GraderError",
    "Handle",
    "ManifestError",
    "Report",
    "SandboxUnavailable",
    "Submission",
    "SubmissionCrashed",
    "SubmissionFault",
    "SubmissionMemoryError",
    "SubmissionProtocolError",
    "SubmissionRaised",
    "SubmissionTimeout",
    "TaskError",
    "grade",
    "load_report",
    "load_trusted",
    "memo",
]
