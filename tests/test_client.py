"""The Submission object against a scripted connection: answers, faults, budgets, raises()."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import (
    CliResult,
    Handle,
    SubmissionFault,
    SubmissionMemoryError,
    SubmissionProtocolError,
    SubmissionRaised,
    SubmissionTimeout,
)
from pytest_rlgrade.client import Budget, Submission, TaskBudget


class Scripted:
    """A connection that answers from a list and remembers what it was asked."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.requests: list[dict[str, Any]] = []
        self.deadlines: list[float] = []
        self.closed = 0

    def request(self, message: dict[str, Any], deadline: float) -> Any:
        self.requests.append(message)
        self.deadlines.append(deadline)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def run_module(
        self,
        module: str,
        argv: list[str],
        deadline: float,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        self.requests.append({"module": module, "argv": argv})
        if stdin is not None or env is not None:
            self.requests[-1].update(stdin=stdin, env=env)
        return CliResult(0, "out", "")

    def close(self) -> None:
        self.closed += 1


def make(
    connection: Scripted, *, call: float = 5, test: float = 50, task: TaskBudget | None = None
) -> tuple[Submission, list[str]]:
    faults: list[str] = []
    now = time.monotonic()
    task = task or TaskBudget(now + 500, fault_budget=2)

    def on_fault(kind: str) -> None:
        faults.append(kind)
        task.record(kind)

    budget = Budget(call, now + test, task)
    return Submission("t", "pkg", Path("/w"), Path("/p"), connection, budget, 1 << 20, on_fault), faults


MODULE = {"ok": {"$handle": 7, "$type": "pkg"}}


def test_values_and_handles_cross() -> None:
    conn = Scripted(MODULE, {"ok": [1, {"a": None}]}, {"ok": {"$handle": 9, "$type": "pkg.Thing"}}, {"ok": 3})
    sub, _ = make(conn)
    module = sub.module("pkg")
    assert isinstance(module, Handle)
    assert module.f(1, x=(2, 3)) == [1, {"a": None}]
    assert conn.requests[1] == {
        "op": "call",
        "target": 7,
        "attr": "f",
        "args": [1],
        "kwargs": {"x": {"$tuple": [2, 3]}},
    }
    thing = module.make()
    assert repr(thing) == "<Handle pkg.Thing>"
    assert module.use(thing) == 3
    assert conn.requests[3]["args"] == [{"$handle": 9, "$type": "pkg.Thing"}]


def test_paths_cross_as_strings_and_objects_do_not() -> None:
    conn = Scripted(MODULE, {"ok": None})
    sub, _ = make(conn)
    module = sub.module("pkg")
    module.read(Path("/w/a.txt"))
    assert conn.requests[1]["args"] == ["/w/a.txt"]
    with pytest.raises(TypeError, match="cannot pass"):
        module.read(object())


def test_a_handle_of_another_test_cannot_be_passed() -> None:
    first, _ = make(Scripted(MODULE))
    second, _ = make(Scripted(MODULE, {"ok": None}))
    foreign = first.module("pkg")
    with pytest.raises(TypeError, match="another test"):
        second.module("pkg").f(foreign)


def test_raised_exception_carries_type_and_traceback() -> None:
    info = {
        "type_name": "pkg.BadManifest",
        "type_names": ["pkg.BadManifest", "ValueError", "Exception"],
        "message": "key 'runs' missing",
        "traceback": "Traceback ...\nValueError",
    }
    sub, faults = make(Scripted(MODULE, {"raised": info}))
    with pytest.raises(SubmissionRaised) as excinfo:
        sub.module("pkg").load("x")
    assert excinfo.value.is_a("ValueError")
    assert excinfo.value.is_a("pkg.BadManifest")
    assert not excinfo.value.is_a("KeyError")
    assert "key 'runs' missing" in str(excinfo.value)
    assert "traceback in the submission" in str(excinfo.value)
    assert faults == []


def test_raises_helper_checks_type_and_message() -> None:
    raised = {"raised": {"type_name": "KeyError", "type_names": ["KeyError", "LookupError"], "message": "'a'"}}
    sub, _ = make(Scripted(MODULE, raised, raised, raised, {"ok": 1}))
    module = sub.module("pkg")
    with sub.raises("LookupError", match="a") as info:
        module.f()
    assert info.value is not None
    assert info.value.type_name == "KeyError"
    with pytest.raises(AssertionError, match="expected the submission to raise ValueError"), sub.raises("ValueError"):
        module.f()
    with pytest.raises(AssertionError, match="does not match"), sub.raises("KeyError", match="zzz"):
        module.f()
    with pytest.raises(AssertionError, match="it raised nothing"), sub.raises("KeyError"):
        module.f()


def test_memory_error_is_a_fault_not_an_exception() -> None:
    sub, faults = make(
        Scripted(MODULE, {"raised": {"type_name": "MemoryError", "type_names": ["MemoryError"], "message": ""}})
    )
    module = sub.module("pkg")
    with pytest.raises(SubmissionMemoryError):
        module.hog()
    assert faults == ["memory"]


def test_faults_are_not_exceptions() -> None:
    """A test's `except Exception` cannot swallow a fault."""
    assert not issubclass(SubmissionFault, Exception)
    sub, faults = make(Scripted(MODULE, SubmissionTimeout("slow")))
    module = sub.module("pkg")
    swallowed = False
    with pytest.raises(SubmissionTimeout):  # noqa: PT012 - the try is the point of the test
        try:
            module.loop()
        except Exception:  # noqa: BLE001 - what a careless test would write
            swallowed = True
    assert not swallowed
    assert faults == ["timeout"]


@pytest.mark.parametrize(
    "answer",
    [[1], {"ok": 1, "raised": {}}, {"what": 1}, {"raised": "x"}, {"ok": {"$handle": "x"}}, {"ok": {"$weird": 1}}],
)
def test_malformed_answers_are_protocol_faults(answer: Any) -> None:
    sub, faults = make(Scripted(MODULE, answer))
    module = sub.module("pkg")
    with pytest.raises(SubmissionProtocolError):
        module.f()
    assert faults == ["protocol"]


def test_module_must_come_back_as_a_handle() -> None:
    sub, _ = make(Scripted({"ok": 42}))
    with pytest.raises(SubmissionProtocolError):
        sub.module("pkg")


def test_call_deadline_is_the_earliest_of_call_test_and_task() -> None:
    now = time.monotonic()
    conn = Scripted(MODULE, {"ok": 1}, {"ok": 1})
    sub, _ = make(conn, call=5, test=2)
    sub.module("pkg").f()
    assert now + 1.5 < conn.deadlines[1] <= now + 2.5
    conn = Scripted(MODULE, {"ok": 1})
    sub, _ = make(conn, call=1, test=50)
    sub.module("pkg")
    assert conn.deadlines[0] <= time.monotonic() + 1


def test_spent_test_budget_fails_without_calling() -> None:
    conn = Scripted()
    sub, faults = make(conn, test=-1)
    with pytest.raises(SubmissionTimeout, match="test's time budget"):
        sub.module("pkg")
    assert conn.requests == []
    assert faults == ["timeout"]


def test_fault_budget_stops_the_task_for_every_test() -> None:
    task = TaskBudget(time.monotonic() + 500, fault_budget=2)
    first, _ = make(Scripted(MODULE, SubmissionTimeout("slow"), SubmissionTimeout("slow")), task=task)
    module = first.module("pkg")
    for _ in range(2):
        with pytest.raises(SubmissionTimeout):
            module.loop()
    assert task.stopped is not None
    conn = Scripted()
    later, _ = make(conn, task=task)
    with pytest.raises(SubmissionTimeout, match="remaining calls were not run"):
        later.module("pkg")
    assert conn.requests == []


def test_crashes_do_not_spend_the_fault_budget() -> None:
    task = TaskBudget(time.monotonic() + 500, fault_budget=1)
    task.record("crash")
    task.record("protocol")
    assert task.stopped is None
    task.record("memory")
    assert isinstance(task.stopped, SubmissionMemoryError)


def test_run_cli_defaults_to_the_package_cli_and_close_is_idempotent() -> None:
    conn = Scripted()
    sub, _ = make(conn)
    assert sub.run_cli(["run", Path("/w/c.yaml")]) == CliResult(0, "out", "")
    assert conn.requests == [{"module": "pkg.cli", "argv": ["run", "/w/c.yaml"]}]
    sub.close()
    sub.close()
    assert conn.closed == 1
    assert repr(sub) == "<Submission of task t>"


def test_run_cli_passes_stdin_as_bytes_and_checks_the_environment() -> None:
    conn = Scripted()
    sub, _ = make(conn)
    sub.run_cli(["x"], stdin="é", env={"A": "1"})
    assert conn.requests[-1] == {"module": "pkg.cli", "argv": ["x"], "stdin": "é".encode(), "env": {"A": "1"}}
    with pytest.raises(TypeError, match="str or bytes"):
        sub.run_cli(["x"], stdin=["not", "text"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="over the task's limit"):
        sub.run_cli(["x"], stdin=b"x" * ((1 << 20) + 1))
    for bad in ({"": "v"}, {"A=B": "v"}, {"A": "v\0"}):
        with pytest.raises(ValueError, match="not a usable environment variable"):
            sub.run_cli(["x"], env=bad)
    with pytest.raises(TypeError, match="must be str"):
        sub.run_cli(["x"], env={"A": 1})  # type: ignore[dict-item]
    assert len(conn.requests) == 1
