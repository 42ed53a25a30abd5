"""From test results to a verdict: pure functions, no pytest.

The grading session (``grading.py``) schedules and records; these decide. They turn the phase
reports of one test into its outcome, a task's recorded tests and metrics into its
:class:`~pytest_rlgrade.report.TaskReport`, and the tasks into the run's exit status. The rule
behind every decision: a reward is a number only when everything it stands for was graded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .manifest import RewardSpec
from .report import Counts, MetricResult, TaskReport, TestResult
from .reward import GradedTest, MeasuredMetric, metric_credit

# The exit statuses are pytest's own: graded (0), below --min-reward or a starter over its cap
# (1, as failed tests), interrupted (2), harness or task failure (3), usage error (4).
OK, BELOW_MIN, INTERRUPTED, INTERNAL, USAGE = 0, 1, 2, 3, 4
FAULTS = ("timeout", "crash", "memory", "protocol")
NOT_GRADED = frozenset({"infra_error", "task_error", "missing_tests", "interrupted"})
MESSAGE_LIMIT = 2000


def short(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 15] + " ... (cut)"


@dataclass
class TestRecord:
    """One test the trusted collection expects, and what became of it."""

    __test__ = False  # not a test class, whatever its name

    nodeid: str
    test_id: str
    weight: float
    gate: bool
    hidden: bool
    outcome: str = "missing"
    message: str | None = None
    duration: float = 0.0
    fault: str | None = None
    reported: set[str] = field(default_factory=set)  # the phases that reported

    def add_phase(
        self,
        when: str,
        *,
        passed: bool,
        skipped: bool,
        wasxfail: bool,
        duration: float,
        message: str | None,
        not_run: str | None = None,
    ) -> None:
        """Fold one phase's report (setup, call, teardown) into the outcome."""
        self.reported.add(when)
        self.duration += duration
        if when == "setup":
            if not_run is not None:
                self.outcome, self.message = "not_run", not_run
            elif not passed and not skipped:
                self.outcome, self.message = "error", message
            elif skipped:
                self.outcome, self.message = "skipped", message
        elif when == "call":
            if passed:
                self.outcome = "xpassed" if wasxfail else "passed"
            elif skipped:
                self.outcome, self.message = ("xfailed" if wasxfail else "skipped"), message
            else:
                self.outcome, self.message = "failed", message
        elif not passed and not skipped and self.outcome == "passed":
            self.outcome, self.message = "error", message
        if self.fault and self.outcome != "passed":
            self.outcome = self.fault if self.fault in FAULTS else "failed"


def missing_summary(tests: Sequence[TestRecord], limit: int = 3) -> str | None:
    missing = [t.test_id for t in tests if t.outcome == "missing"]
    if not missing:
        return None
    shown = ", ".join(missing[:limit]) + (f" and {len(missing) - limit} more" if len(missing) > limit else "")
    return f"{len(missing)} expected test(s) did not run ({shown}): a reward needs every test"


RewardFunction = Callable[[Sequence[GradedTest], Sequence[MeasuredMetric]], object]


def task_report(
    *,
    name: str,
    spec: RewardSpec,
    tests: Sequence[TestRecord],
    metrics: Mapping[str, float],
    flags: Iterable[str],
    error: str | None,
    reason: str | None,
    reward_of: RewardFunction,
    instance: str | None = None,
    starter: bool,
    hide_messages: bool,
    duration: float,
) -> TaskReport:
    """A task's report. The reward is ``None`` (with a flag saying why) when the task could not be
    graded, some expected test did not run, or grading was interrupted; ``reward_of`` computes it
    otherwise, and a value outside [0, 1] from it is the harness's failure."""
    flags = set(flags)
    if "interrupted" in flags and error is None:
        error = "grading was interrupted before it finished"
    missing = missing_summary(tests)
    if missing is not None:
        flags.add("missing_tests")
        error = error or missing
    graded = [GradedTest(t.test_id, t.outcome, t.weight, t.gate) for t in tests]
    measured = [MeasuredMetric(metric, m, metrics.get(metric)) for metric, m in spec.metrics.items()]
    reward: float | None = None
    if not flags & NOT_GRADED and error is None:
        value = reward_of(graded, measured)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            flags.add("infra_error")
            error = f"a pytest_rlgrade_task_reward hook computed {value!r}, not a number in [0, 1]"
        else:
            reward = float(value)
    if reward is not None and starter and reward > spec.starter_cap + 1e-12:
        flags.add("starter_over_cap")
    passed = sum(t.outcome == "passed" for t in tests)
    missing_count = sum(t.outcome == "missing" for t in tests)
    return TaskReport(
        name=name,
        reward=reward,
        flags=sorted(flags),  # type: ignore[arg-type]
        error=error,
        reason=reason,
        instance=instance,
        counts=Counts(total=len(tests), passed=passed, failed=len(tests) - passed, missing=missing_count),
        duration=max(0.0, duration),
        tests=[
            TestResult(
                node_id=t.nodeid,
                outcome=t.outcome,  # type: ignore[arg-type]
                weight=t.weight,
                gate=t.gate,
                duration=t.duration,
                message=None if hide_messages or t.hidden or t.outcome == "passed" else t.message,
            )
            for t in tests
        ],
        metrics=[
            MetricResult(
                name=m.name,
                value=m.value if m.value is not None and math.isfinite(m.value) else None,
                target=m.spec.target,
                baseline=m.spec.baseline or 0.0,
                direction=m.spec.direction,
                weight=m.spec.weight,
                credit=metric_credit(m.spec, m.value),
            )
            for m in measured
        ],
    )


def exit_status(tasks: Sequence[TaskReport], overall: float | None, min_reward: float | None) -> int:
    """The run's exit status from its task reports."""
    flags = {flag for task in tasks for flag in task.flags}
    if "interrupted" in flags:
        return INTERRUPTED
    if overall is None or flags & NOT_GRADED:
        return INTERNAL
    if (min_reward is not None and overall < min_reward) or "starter_over_cap" in flags:
        return BELOW_MIN
    return OK
