"""Tier 1: from phase reports to outcomes, and from tasks to a verdict, without pytest."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_rlgrade.manifest import RewardSpec
from pytest_rlgrade.outcomes import (
    BELOW_MIN,
    INTERNAL,
    INTERRUPTED,
    OK,
    TestRecord,
    exit_status,
    missing_summary,
    task_report,
)
from pytest_rlgrade.reward import task_reward


def record(name: str = "t", **phases: dict[str, Any]) -> TestRecord:
    rec = TestRecord(f"tasks/x/tests/test_a.py::{name}", f"test_a.py::{name}", 1.0, False, False)
    for when, kwargs in phases.items():
        rec.add_phase(
            when,
            passed=kwargs.get("passed", False),
            skipped=kwargs.get("skipped", False),
            wasxfail=kwargs.get("wasxfail", False),
            duration=kwargs.get("duration", 0.1),
            message=kwargs.get("message"),
            not_run=kwargs.get("not_run"),
        )
    return rec


OK_PHASE = {"passed": True}


@pytest.mark.parametrize(
    ("phases", "outcome"),
    [
        ({"setup": OK_PHASE, "call": OK_PHASE, "teardown": OK_PHASE}, "passed"),
        ({"setup": OK_PHASE, "call": {"message": "boom"}, "teardown": OK_PHASE}, "failed"),
        ({"setup": {"message": "fixture"}, "teardown": OK_PHASE}, "error"),
        ({"setup": {"skipped": True}, "teardown": OK_PHASE}, "skipped"),
        ({"setup": {"skipped": True, "not_run": "not run: no package"}, "teardown": OK_PHASE}, "not_run"),
        ({"setup": OK_PHASE, "call": {"skipped": True, "wasxfail": True}, "teardown": OK_PHASE}, "xfailed"),
        ({"setup": OK_PHASE, "call": {"passed": True, "wasxfail": True}, "teardown": OK_PHASE}, "xpassed"),
        ({"setup": OK_PHASE, "call": OK_PHASE, "teardown": {"message": "cleanup"}}, "error"),
        ({}, "missing"),
    ],
)
def test_phases_fold_into_an_outcome(phases: dict[str, Any], outcome: str) -> None:
    assert record(**phases).outcome == outcome


def test_a_fault_names_the_outcome() -> None:
    rec = TestRecord("n", "t", 1.0, False, False, fault="timeout")
    rec.add_phase("setup", passed=True, skipped=False, wasxfail=False, duration=0.0, message=None)
    rec.add_phase("call", passed=False, skipped=False, wasxfail=False, duration=0.0, message="slow")
    assert rec.outcome == "timeout"


def test_durations_add_up() -> None:
    rec = record(setup={"passed": True, "duration": 0.25}, call={"passed": True, "duration": 0.5})
    assert rec.duration == 0.75


def report(tests: list[TestRecord], **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "name": "x",
        "spec": RewardSpec(),
        "tests": tests,
        "metrics": {},
        "flags": set(),
        "error": None,
        "reason": None,
        "reward_of": task_reward,
        "starter": False,
        "hide_messages": False,
        "duration": 1.0,
    }
    arguments.update(overrides)
    return task_report(**arguments)


PASSED = {"setup": OK_PHASE, "call": OK_PHASE, "teardown": OK_PHASE}
FAILED = {"setup": OK_PHASE, "call": {"message": "expected 3"}, "teardown": OK_PHASE}


def test_a_missing_test_makes_no_reward() -> None:
    task = report([record("a", **PASSED), record("b")])
    assert task.reward is None
    assert "missing_tests" in task.flags
    assert task.error == missing_summary([record("b")])
    assert "test_a.py::b" in task.error


@pytest.mark.parametrize("flag", ["interrupted", "infra_error", "task_error"])
def test_what_is_not_graded_has_no_reward(flag: str) -> None:
    task = report([record("a", **PASSED)], flags={flag})
    assert task.reward is None
    assert flag in task.flags


def test_a_reward_function_out_of_range_is_the_harness_failure() -> None:
    task = report([record("a", **PASSED)], reward_of=lambda tests, metrics: 1.5)
    assert task.reward is None
    assert "infra_error" in task.flags


def test_messages_are_withheld_when_hidden_and_never_for_passes() -> None:
    tests = [record("a", **FAILED), record("b", **PASSED)]
    assert [t.message for t in report(tests).tests] == ["expected 3", None]
    assert [t.message for t in report(tests, hide_messages=True).tests] == [None, None]


def test_starter_over_its_cap_is_flagged() -> None:
    task = report([record("a", **PASSED)], starter=True)
    assert "starter_over_cap" in task.flags


def test_missing_package_is_a_graded_zero() -> None:
    not_run = {"setup": {"skipped": True, "not_run": "not run: no package"}, "teardown": OK_PHASE}
    task = report([record("a", **not_run)], flags={"missing_package"}, reason="no package")
    assert task.reward == 0.0
    assert task.reason == "no package"


@given(
    outcomes=st.lists(st.sampled_from(["passed", "failed", "missing", "skipped"]), min_size=1, max_size=8),
    flags=st.sets(st.sampled_from(["interrupted", "infra_error", "task_error", "timeout", "tamper"])),
)
def test_a_reward_is_a_number_only_when_everything_was_graded(outcomes: list[str], flags: set[str]) -> None:
    tests = []
    for i, outcome in enumerate(outcomes):
        phases = {"passed": PASSED, "failed": FAILED, "missing": {}, "skipped": {"setup": {"skipped": True}}}[outcome]
        tests.append(record(f"t{i}", **phases))
    task = report(tests, flags=set(flags))
    graded = "missing" not in outcomes and not flags & {"interrupted", "infra_error", "task_error"}
    assert (task.reward is not None) == graded
    if task.reward is not None:
        assert 0.0 <= task.reward <= 1.0


def test_exit_status_order() -> None:
    good = report([record("a", **PASSED)])
    half = report([record("a", **PASSED), record("b", **FAILED)])
    broken = report([record("a", **PASSED)], flags={"task_error"})
    stopped = report([record("a")], flags={"interrupted"})
    assert exit_status([good], 1.0, 1.0) == OK
    assert exit_status([half], 0.5, 1.0) == BELOW_MIN
    assert exit_status([half], 0.5, None) == OK
    assert exit_status([good, broken], None, None) == INTERNAL
    assert exit_status([broken, stopped], None, 1.0) == INTERRUPTED
