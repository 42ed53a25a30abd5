"""A task's trusted code: load_trusted, and memo, which remembers what pure functions computed,
within a grading and, through a grader worker, across the gradings after it (issue #9)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import load_trusted, memo, trusted


@pytest.fixture(autouse=True)
def empty_memo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trusted, "_ENTRIES", {})
    monkeypatch.setattr(trusted, "_NEW", {})
    monkeypatch.setattr(trusted, "_SIZE", [0])


def counted() -> tuple[list[Any], Any]:
    calls: list[Any] = []

    @memo
    def dataset(config: dict[str, Any], *, rows: int = 3) -> dict[str, Any]:
        calls.append((config, rows))
        return {"seed": config["seed"], "rows": [{"n": i} for i in range(rows)]}

    return calls, dataset


def test_equal_arguments_compute_once_and_each_caller_gets_its_own_copy() -> None:
    calls, dataset = counted()
    first = dataset({"seed": 1})
    first["rows"].append("changed by a test")
    second = dataset({"seed": 1})
    assert second == {"seed": 1, "rows": [{"n": 0}, {"n": 1}, {"n": 2}]}
    assert second is not dataset({"seed": 1})
    assert len(calls) == 1
    assert dataset({"seed": 2}) != second
    assert dataset({"seed": 1}, rows=1)["rows"] == [{"n": 0}]
    assert len(calls) == 3


def test_what_cannot_be_pickled_is_computed_every_time() -> None:
    calls = []

    @memo
    def apply(function: Any, value: int) -> Any:
        calls.append(value)
        return function(value)

    assert apply(lambda v: v + 1, 1) == 2
    assert apply(lambda v: v + 1, 1) == 2
    lock = memo(lambda: threading.Lock())  # a result that cannot be pickled
    assert lock() is not lock()
    assert calls == [1, 1]


def test_what_a_grading_computed_reaches_the_next_through_the_worker(tmp_path: Path) -> None:
    """A grader worker forks each grading: the fork saves what it computed, the worker loads it,
    and the next fork has it."""
    calls, dataset = counted()
    saved = tmp_path / "memo.pickle"
    pid = os.fork()
    if pid == 0:  # the grading
        dataset({"seed": 7})
        trusted.save_new(saved)
        os._exit(0 if calls else 1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    assert calls == []  # computed in the fork only
    assert trusted.load_saved(saved) == 1
    assert not saved.exists()
    assert dataset({"seed": 7})["seed"] == 7
    assert calls == []  # the worker's copy answered
    assert trusted.load_saved(saved) == 0  # nothing new: nothing to load


def test_a_torn_file_is_dropped_not_fatal(tmp_path: Path) -> None:
    saved = tmp_path / "memo.pickle"
    saved.write_bytes(b"\x80\x05 not a whole pickle")
    assert trusted.load_saved(saved) == 0
    assert not saved.exists()


def test_the_oldest_results_go_first_beyond_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trusted, "MEMO_LIMIT", 3000)
    calls = []

    @memo
    def blob(n: int) -> bytes:
        calls.append(n)
        return bytes(1000)

    for n in range(5):
        blob(n)
    assert trusted._SIZE[0] <= 3000
    assert len(trusted._ENTRIES) == 2
    blob(4)  # kept
    blob(0)  # evicted: computed again
    assert calls == [0, 1, 2, 3, 4, 0]


def test_load_trusted_imports_once_under_the_given_name(tmp_path: Path) -> None:
    helper = tmp_path / "helper.py"
    helper.write_text("LOADED = []\nLOADED.append(1)\n")
    first = load_trusted(helper, "rlgrade_test_helper_once")
    again = load_trusted(helper, "rlgrade_test_helper_once")
    assert first is again
    assert first.LOADED == [1]
    del sys.modules["rlgrade_test_helper_once"]


MEMO_CONFTEST = """
from pathlib import Path

import pytest

from pytest_rlgrade import memo

CALLS = Path(__file__).with_name("calls.log")


@memo
def expensive(n):
    with CALLS.open("a") as log:
        log.write(f"{n}\\n")
    return [i * i for i in range(n)]


@pytest.fixture
def squares():
    return expensive(5)
"""

MEMO_TESTS = """
def test_first(submission, squares):
    assert submission.module("sq").squares(5) == squares


def test_second(submission, squares):
    squares.append("changed")  # the caller's own copy
    assert submission.module("sq").squares(5) == squares[:-1]
"""


@pytest.mark.slow
def test_a_warm_grader_computes_memo_results_once_for_all_its_gradings(tmp_path: Path) -> None:
    """End to end: the first grading of a worker computes, the ones after it inherit."""
    from pytest_rlgrade import Grader

    files = {
        "tasks/sq/task.yaml": "name: sq\npackage: sq\n",
        "tasks/sq/prompt.md": "Write sq.\n",
        "tasks/sq/tests/conftest.py": MEMO_CONFTEST,
        "tasks/sq/tests/test_sq.py": MEMO_TESTS,
        "reference/sq/sq/__init__.py": "def squares(n):\n    return [i * i for i in range(n)]\n",
        "starter/sq/sq/__init__.py": "def squares(n):\n    return []\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    with Grader(tmp_path, tasks=["sq"], workers=1, seed=1) as grader:
        rewards = [grader.grade("reference", task="sq").reward for _ in range(3)]
    assert rewards == [1.0, 1.0, 1.0]
    assert (tmp_path / "tasks/sq/tests/calls.log").read_text() == "5\n"
