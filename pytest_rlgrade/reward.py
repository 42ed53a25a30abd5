"""Reward: a pure function of test outcomes and metric values.

Only ``passed`` earns anything. Skipped, xfailed, xpassed, errored, timed-out, crashed and missing
tests count as failed. A gate that did not pass zeroes the task. The same inputs always give the
same reward.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .manifest import MetricSpec

PASSED = "passed"


@dataclass(frozen=True)
class GradedTest:
    """One test's outcome as the reward sees it."""

    test_id: str
    outcome: str
    weight: float
    gate: bool = False


@dataclass(frozen=True)
class MeasuredMetric:
    """A declared metric and the value a test recorded for it (``None``: never recorded)."""

    name: str
    spec: MetricSpec
    value: float | None


def clamp01(value: float) -> float:
    return 0.0 if not value > 0 else 1.0 if value > 1 else value


def metric_credit(spec: MetricSpec, value: float | None) -> float:
    """Partial credit in [0, 1]: linear from ``baseline`` (0) to ``target`` (1), clamped."""
    if value is None or not math.isfinite(value):
        return 0.0
    assert spec.baseline is not None
    return clamp01((value - spec.baseline) / (spec.target - spec.baseline))


def task_reward(tests: Sequence[GradedTest], metrics: Sequence[MeasuredMetric] = ()) -> float:
    """The weighted share of passed tests and metric credit, or 0 when a gate failed."""
    if any(t.gate and t.outcome != PASSED for t in tests):
        return 0.0
    total = sum(t.weight for t in tests) + sum(m.spec.weight for m in metrics)
    if total <= 0:
        return 0.0
    earned = sum(t.weight for t in tests if t.outcome == PASSED)
    earned += sum(m.spec.weight * metric_credit(m.spec, m.value) for m in metrics)
    return clamp01(earned / total)


def overall_reward(rewards: Iterable[float | None]) -> float | None:
    """Mean of the task rewards; ``None`` when any task could not be graded (or none was)."""
    values = list(rewards)
    if not values or any(r is None for r in values):
        return None
    return clamp01(math.fsum(r for r in values if r is not None) / len(values))
