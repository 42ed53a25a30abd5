"""Tier 1: the reward, a pure function of outcomes and metric values."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_rlgrade.manifest import MetricSpec
from pytest_rlgrade.report import Outcome
from pytest_rlgrade.reward import GradedTest, MeasuredMetric, metric_credit, overall_reward, task_reward

OUTCOMES = list(Outcome.__args__)  # type: ignore[attr-defined]
NOT_PASSED = [o for o in OUTCOMES if o != "passed"]

HIGHER = MetricSpec(target=10.0, baseline=2.0)
LOWER = MetricSpec(target=50.0, baseline=500.0, direction="lower")


def test_every_outcome_is_listed() -> None:
    assert set(NOT_PASSED) == {
        "failed", "error", "skipped", "xfailed", "xpassed", "missing", "timeout", "crash", "memory", "protocol",
        "not_run",
    }  # fmt: skip


# -- metric_credit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "value", "credit"),
    [
        (HIGHER, 2.0, 0.0),
        (HIGHER, 6.0, 0.5),
        (HIGHER, 10.0, 1.0),
        (HIGHER, 12.0, 1.0),
        (HIGHER, 100.0, 1.0),
        (HIGHER, 0.0, 0.0),
        (HIGHER, -1e300, 0.0),
        (LOWER, 500.0, 0.0),
        (LOWER, 275.0, 0.5),
        (LOWER, 50.0, 1.0),
        (LOWER, 0.0, 1.0),
        (LOWER, -5.0, 1.0),
        (LOWER, 900.0, 0.0),
        (MetricSpec(target=0.8), 0.4, 0.5),
    ],
)
def test_metric_credit(spec: MetricSpec, value: float, credit: float) -> None:
    assert metric_credit(spec, value) == pytest.approx(credit, abs=1e-12)


@pytest.mark.parametrize("value", [None, math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("spec", [HIGHER, LOWER], ids=["higher", "lower"])
def test_metric_credit_without_a_finite_value(spec: MetricSpec, value: float | None) -> None:
    assert metric_credit(spec, value) == 0.0


def test_metric_credit_accepts_ints() -> None:
    assert metric_credit(HIGHER, 6) == 0.5


# -- task_reward -------------------------------------------------------------------------------------


def graded(outcome: str, weight: float = 1.0, gate: bool = False, test_id: str = "test_a.py::test_x") -> GradedTest:
    return GradedTest(test_id, outcome, weight, gate)


def test_all_passed() -> None:
    assert task_reward([graded("passed"), graded("passed", 2.0)]) == 1.0


@pytest.mark.parametrize("outcome", NOT_PASSED)
def test_only_passed_counts(outcome: str) -> None:
    assert task_reward([graded(outcome)]) == 0.0
    assert task_reward([graded("passed"), graded(outcome)]) == 0.5
    assert task_reward([graded("passed", 3.0), graded(outcome, 1.0)]) == 0.75


@pytest.mark.parametrize("outcome", NOT_PASSED)
def test_a_gate_that_did_not_pass_zeroes_the_task(outcome: str) -> None:
    tests = [graded("passed", 10.0), graded(outcome, 0.0, gate=True)]
    metrics = [MeasuredMetric("speed", HIGHER, 10.0)]
    assert task_reward(tests, metrics) == 0.0


def test_a_passing_gate_counts_like_any_test() -> None:
    assert task_reward([graded("passed", gate=True), graded("failed")]) == 0.5
    assert task_reward([graded("passed", gate=True), graded("passed", gate=True)]) == 1.0


def test_weights() -> None:
    tests = [graded("passed", 2.0), graded("failed", 1.0), graded("passed", 0.0), graded("failed", 1.0)]
    assert task_reward(tests) == pytest.approx(0.5)


def test_metrics_add_weighted_credit() -> None:
    tests = [graded("passed", 1.0), graded("failed", 1.0)]
    metrics = [
        MeasuredMetric("speed", MetricSpec(target=10.0, baseline=2.0, weight=2.0), 6.0),  # credit 0.5
        MeasuredMetric("latency", LOWER, None),  # never recorded: 0 of weight 1
    ]
    assert task_reward(tests, metrics) == pytest.approx((1 + 2 * 0.5) / 5)


def test_metrics_alone() -> None:
    assert task_reward([], [MeasuredMetric("speed", HIGHER, 10.0)]) == 1.0
    assert task_reward([], [MeasuredMetric("speed", HIGHER, math.nan)]) == 0.0


@pytest.mark.parametrize(
    ("tests", "metrics"),
    [
        ([], []),
        ([graded("passed", 0.0)], []),
        ([graded("passed", 0.0), graded("failed", 0.0)], []),
        ([graded("passed", 0.0)], [MeasuredMetric("speed", MetricSpec(target=1.0, weight=0.0), 1.0)]),
    ],
)
def test_zero_total_weight(tests: list[GradedTest], metrics: list[MeasuredMetric]) -> None:
    assert task_reward(tests, metrics) == 0.0


# -- overall_reward ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rewards", "expected"),
    [
        ([1.0], 1.0),
        ([0.0, 1.0], 0.5),
        ([0.25, 0.5, 0.75], 0.5),
        ([0.1] * 10, 0.1),
    ],
)
def test_overall_is_the_mean(rewards: list[float], expected: float) -> None:
    assert overall_reward(rewards) == pytest.approx(expected)


@pytest.mark.parametrize("rewards", [[], [None], [1.0, None], [None, 0.5, 0.5]])
def test_overall_is_none(rewards: list[float | None]) -> None:
    assert overall_reward(rewards) is None


def test_overall_takes_a_generator() -> None:
    assert overall_reward(r for r in (0.0, 1.0)) == 0.5


# -- properties --------------------------------------------------------------------------------------

weights = st.floats(min_value=0, max_value=1e6)
graded_tests = st.builds(
    GradedTest,
    test_id=st.text(max_size=10),
    outcome=st.sampled_from(OUTCOMES),
    weight=weights,
    gate=st.booleans(),
)


@st.composite
def metric_specs(draw: st.DrawFn) -> MetricSpec:
    target = draw(st.floats(min_value=-1e6, max_value=1e6))
    gap = draw(st.floats(min_value=1e-3, max_value=1e6))
    if draw(st.booleans()):
        return MetricSpec(target=target, baseline=target - gap, weight=draw(weights))
    return MetricSpec(target=target, baseline=target + gap, direction="lower", weight=draw(weights))


measured_metrics = st.builds(
    MeasuredMetric,
    name=st.text(max_size=5),
    spec=metric_specs(),
    value=st.none() | st.floats(allow_nan=True, allow_infinity=True),
)
test_lists = st.lists(graded_tests, max_size=12)
metric_lists = st.lists(measured_metrics, max_size=4)


@given(spec=metric_specs(), value=st.none() | st.floats())
def test_credit_is_in_unit_interval(spec: MetricSpec, value: float | None) -> None:
    assert 0.0 <= metric_credit(spec, value) <= 1.0


@given(tests=test_lists, metrics=metric_lists)
def test_reward_is_in_unit_interval(tests: list[GradedTest], metrics: list[MeasuredMetric]) -> None:
    reward = task_reward(tests, metrics)
    assert 0.0 <= reward <= 1.0
    assert task_reward(tests, metrics) == reward, "the same inputs give the same reward"


@given(tests=test_lists, metrics=metric_lists, weight=st.floats(min_value=1e-6, max_value=1e6), at=st.integers(0, 12))
def test_a_passing_test_never_lowers_the_reward(
    tests: list[GradedTest], metrics: list[MeasuredMetric], weight: float, at: int
) -> None:
    tests = [t for t in tests if not (t.gate and t.outcome != "passed")]
    before = task_reward(tests, metrics)
    tests.insert(at, graded("passed", weight, test_id="test_new.py::test_new"))
    after = task_reward(tests, metrics)
    assert after >= before - 1e-9


@given(tests=test_lists, metrics=metric_lists, data=st.data())
def test_order_does_not_matter(tests: list[GradedTest], metrics: list[MeasuredMetric], data: st.DataObject) -> None:
    shuffled_tests = data.draw(st.permutations(tests))
    shuffled_metrics = data.draw(st.permutations(metrics))
    assert math.isclose(task_reward(tests, metrics), task_reward(shuffled_tests, shuffled_metrics), abs_tol=1e-9)


@given(rewards=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=20))
def test_overall_is_in_unit_interval_and_between_min_and_max(rewards: list[float]) -> None:
    overall = overall_reward(rewards)
    assert overall is not None
    assert 0.0 <= overall <= 1.0
    assert min(rewards) - 1e-12 <= overall <= max(rewards) + 1e-12
