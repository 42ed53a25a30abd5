"""Hypothesis tests over examples drawn once per seed (issue #9): what replay runs is what
Hypothesis would have given the body, a failure is the first failing example's, and a warm
grader's later gradings draw nothing."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import core, given, note, seed, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers

from pytest_rlgrade import hypothesis_replay, trusted

# derandomize: off, as grading has it (Hypothesis turns it on wherever CI is set, and it seeds a
# test from its inner function, which the recording replaces).
FEW = settings(max_examples=15, database=None, deadline=None, derandomize=False)
HYPOTHESIS_SCAN = providers._get_local_constants  # Hypothesis's own pool of local constants


@pytest.fixture(autouse=True)
def as_grading_has_it(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty memo, a seed, and the pool of local constants pinned (what grading sets)."""
    monkeypatch.setattr(trusted, "_ENTRIES", {})
    monkeypatch.setattr(trusted, "_NEW", {})
    monkeypatch.setattr(trusted, "_SIZE", [0])
    monkeypatch.setattr(core, "global_force_seed", 1234)
    undo = hypothesis_replay.pin_local_constants()
    yield
    undo()


DRAWS: list[Any] = []  # every value the strategy below built, in order


def counted_lists() -> st.SearchStrategy[list[int]]:
    def built(xs: list[int]) -> list[int]:
        DRAWS.append(list(xs))
        return xs

    return st.lists(st.integers(-1000, 1000), max_size=8).map(built)


def make_test(body: Any) -> Any:
    """A @given test taking a fixture (``submission``) and one drawn list, as task tests do."""

    @FEW
    @given(xs=counted_lists())
    def test_lists(submission: Any, xs: list[int]) -> None:
        body(submission, xs)

    return test_lists


def under_hypothesis(test: Any, fixtures: dict[str, Any]) -> list[list[int]]:
    """The lists Hypothesis itself gives the body, run the usual way."""
    seen: list[list[int]] = []
    inner = test.hypothesis.inner_test
    test.hypothesis.inner_test = lambda submission, xs: seen.append(list(xs))
    try:
        test(**fixtures)
    finally:
        test.hypothesis.inner_test = inner
    return seen


def test_replay_gives_the_body_what_hypothesis_gives_it() -> None:
    got: list[list[int]] = []
    test = make_test(lambda submission, xs: got.append(list(xs)))
    expected = under_hypothesis(test, {"submission": "handle"})
    assert len(expected) > 5
    assert hypothesis_replay.replayable(test)
    assert hypothesis_replay.run(test, {"submission": "handle"}, "t.py::test_lists") is True
    assert got == expected


def test_the_examples_are_drawn_once_per_seed_and_each_run_gets_fresh_copies() -> None:
    runs: list[list[list[int]]] = [[], []]
    current = [0]

    def body(submission: Any, xs: list[int]) -> None:
        runs[current[0]].append(list(xs))
        xs.append(999_999)  # a test may change what it was given

    test = make_test(body)
    DRAWS.clear()
    hypothesis_replay.run(test, {"submission": "a"}, "t.py::test_lists")
    drawn = len(DRAWS)
    assert drawn >= len(runs[0]) > 5
    current[0] = 1
    hypothesis_replay.run(test, {"submission": "b"}, "t.py::test_lists")
    assert len(DRAWS) == drawn, "the second grading drew again"
    assert runs[1] == runs[0]
    core.global_force_seed = 99  # another seed: other examples
    hypothesis_replay.run(test, {"submission": "c"}, "t.py::test_lists")
    assert len(DRAWS) > drawn


def test_a_failure_is_the_first_failing_example_with_it_named() -> None:
    calls: list[list[int]] = []

    def body(submission: Any, xs: list[int]) -> None:
        calls.append(xs)
        assert len(xs) < 3, f"too long: {xs}"

    test = make_test(body)
    drawn = under_hypothesis(test, {"submission": None})
    first_bad = next(i for i, xs in enumerate(drawn) if len(xs) >= 3)
    with pytest.raises(AssertionError, match="too long") as raised:
        hypothesis_replay.run(test, {"submission": None}, "t.py::test_lists")
    assert len(calls) == first_bad + 1, "replay goes on after the first failure, or stops early"
    assert any(n.startswith("Falsifying example: test_lists(\n    xs=[") for n in raised.value.__notes__)


def test_a_fault_of_the_submission_propagates_as_it_is() -> None:
    class Fault(BaseException):
        pass

    def body(submission: Any, xs: list[int]) -> None:
        raise Fault("timed out")

    with pytest.raises(Fault):
        hypothesis_replay.run(make_test(body), {"submission": None}, "t.py::test_lists")


def test_interactive_draws_are_left_to_hypothesis() -> None:
    ran = []

    @FEW
    @given(data=st.data())
    def test_interactive(submission: Any, data: Any) -> None:
        ran.append(data.draw(st.integers()))

    assert hypothesis_replay.run(test_interactive, {"submission": None}, "t.py::test_interactive") is False
    assert ran == [], "the body ran during the recording"


def test_bodies_that_steer_the_drawing_and_methods_are_not_replayable() -> None:
    @given(x=st.integers())
    def test_notes(x: int) -> None:
        note(f"x is {x}")

    class TestGroup:
        @given(x=st.integers())
        def test_method(self, x: int) -> None:
            pass

    def plain(x: int) -> None:
        pass

    assert not hypothesis_replay.replayable(test_notes)
    assert not hypothesis_replay.replayable(TestGroup().test_method)
    assert not hypothesis_replay.replayable(plain)


def test_a_recording_that_fails_leaves_the_test_to_hypothesis() -> None:
    @FEW
    @given(x=st.integers().filter(lambda _: False))
    def test_unsatisfiable(x: int) -> None:
        pass

    assert hypothesis_replay.run(test_unsatisfiable, {}, "t.py::test_unsatisfiable") is False


def test_without_a_seed_nothing_is_replayed() -> None:
    core.global_force_seed = None
    assert hypothesis_replay.run(make_test(lambda s, xs: None), {"submission": None}, "t.py::x") is False


def test_a_seed_on_the_test_itself_wins() -> None:
    got: dict[int, list[list[int]]] = {1: [], 2: []}
    current = [1]

    @seed(7)
    @FEW
    @given(xs=counted_lists())
    def test_seeded(xs: list[int]) -> None:
        got[current[0]].append(list(xs))

    hypothesis_replay.run(test_seeded, {}, "t.py::test_seeded")
    core.global_force_seed = 5
    current[0] = 2
    hypothesis_replay.run(test_seeded, {}, "t.py::test_seeded")
    assert got[1] == got[2]


def test_an_example_rejected_through_a_helper_is_passed_over() -> None:
    from hypothesis import assume

    def only_short(xs: list[int]) -> None:  # assume() out of the body's sight
        assume(len(xs) < 2)

    kept: list[list[int]] = []

    def body(submission: Any, xs: list[int]) -> None:
        only_short(xs)
        kept.append(xs)

    test = make_test(body)
    drawn = under_hypothesis(test, {"submission": None})
    assert hypothesis_replay.run(test, {"submission": None}, "t.py::test_lists") is True
    assert kept == [xs for xs in drawn if len(xs) < 2]
    assert len(kept) < len(drawn)


def test_the_examples_do_not_depend_on_the_modules_imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis now and then draws a constant of the local modules imported so far, so a module
    imported between two runs changed the examples of one seed (the CLI and a grader worker import
    different modules). Pinned, as grading has it, nothing changes; Hypothesis's own pool does."""

    @settings(max_examples=200, database=None, deadline=None, derandomize=False)
    @given(xs=st.lists(st.integers(-1000, 1000), max_size=8))
    def test_many(xs: list[int]) -> None:
        pass

    def drawn() -> list[list[int]]:
        seen: list[list[int]] = []
        test_many.hypothesis.inner_test = lambda xs: seen.append(list(xs))
        test_many()
        return seen

    monkeypatch.syspath_prepend(tmp_path)
    names = ["rlgrade_pinned_constants", "rlgrade_unpinned_constants"]

    def import_new_module(name: str) -> None:
        # Constants no other module has; left in sys.modules until the end (Hypothesis notices
        # new modules by the length of sys.modules).
        start = -997 + names.index(name)
        (tmp_path / f"{name}.py").write_text(f"VALUES = {list(range(start, 1000, 7))!r}\n")
        importlib.import_module(name)

    try:
        before = drawn()
        import_new_module(names[0])
        assert drawn() == before

        monkeypatch.setattr(providers, "_get_local_constants", HYPOTHESIS_SCAN)
        providers.CONSTANTS_CACHE.cache.clear()
        unpinned = drawn()
        import_new_module(names[1])
        assert drawn() != unpinned, "Hypothesis no longer draws local constants: is the pin still needed?"
    finally:
        for name in names:
            sys.modules.pop(name, None)
