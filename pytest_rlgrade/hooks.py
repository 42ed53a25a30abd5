"""Hook specifications of pytest-rlgrade, added with ``pytest_addhooks``.

Implement them in a ``conftest.py`` or a plugin. The defaults ship with ``trylast=True`` so an
implementation of yours runs first.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .engine import Backend
    from .manifest import Task
    from .reward import GradedTest, MeasuredMetric
    from .sandbox import Sandbox


@pytest.hookspec(firstresult=True)
def pytest_rlgrade_task_reward(task: Task, tests: list[GradedTest], metrics: list[MeasuredMetric]) -> float | None:
    """Compute one task's reward in [0, 1] from its test outcomes and metric values.

    :param task: the task being graded (its manifest holds the reward spec).
    :param tests: one entry per test the trusted collection expected, with outcome and weight.
    :param metrics: one entry per metric the manifest declares, with the recorded value or None.

    Stops at the first non-None result (firstresult). The default is
    :func:`pytest_rlgrade.reward.task_reward`. A value outside [0, 1] is a harness error.
    """


def pytest_rlgrade_modify_report(config: pytest.Config, report: dict[str, Any]) -> None:
    """Change the report before it is written (for example add keys for your trainer).

    :param config: the pytest config.
    :param report: the report as JSON-ready data; modify it in place. It must still validate
        against ``report.schema.json`` (unknown keys are allowed).

    Every implementation is called.
    """


def pytest_rlgrade_report_written(config: pytest.Config, path: Path, report: dict[str, Any]) -> None:
    """Called after the report was written, to forward it (to a queue, a database, a trainer).

    :param config: the pytest config.
    :param path: where the report was written.
    :param report: the report as written.

    Every implementation is called.
    """


@pytest.hookspec(firstresult=True)
def pytest_rlgrade_make_sandbox(
    config: pytest.Config, task: Task, submission_root: Path, on_flag: Callable[[str], None]
) -> Sandbox | None:
    """Give the sandbox one submission's code runs in for one task.

    :param config: the pytest config.
    :param task: the task being graded.
    :param submission_root: the folder holding the submission's package.
    :param on_flag: call it with a flag (``tamper``, ``output_truncated``, ...) the task earns.

    Stops at the first non-None result (firstresult). The default starts a warm pool of its own
    for the one submission; the grading engine's workers give one opened from a pool they keep
    warm across submissions.
    """


@pytest.hookspec(firstresult=True)
def pytest_rlgrade_make_backend(name: str, options: dict[str, Any]) -> Backend | None:
    """Make the backend that runs gradings for a :class:`~pytest_rlgrade.Grader` (or a batch on
    the command line), as pytest-xdist chooses its scheduler.

    :param name: the backend asked for (``local``, ``ray``, or one of yours).
    :param options: the grader's settings (``root``, ``tasks``, ``workers``, ``isolation``, and
        the backend's own, such as ``address`` for Ray).

    Stops at the first non-None result (firstresult). The defaults (``trylast``) know ``local``
    and ``ray``. Register an implementation through the ``rlgrade`` entry point group.
    """
