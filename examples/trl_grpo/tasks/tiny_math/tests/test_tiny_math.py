"""tiny_math's behaviour, on integers drawn from the grading's seed."""

from __future__ import annotations

import random

import pytest


def draws(rng: random.Random, count: int = 20) -> list[int]:
    return [rng.randint(-1000, 1000) for _ in range(count)]


def test_imports(submission) -> None:
    submission.module("tiny_math")


def test_add(submission, rlgrade_rng: random.Random) -> None:
    math = submission.module("tiny_math")
    for a, b in zip(draws(rlgrade_rng), draws(rlgrade_rng), strict=True):
        assert math.add(a, b) == a + b


def test_square(submission, rlgrade_rng: random.Random) -> None:
    math = submission.module("tiny_math")
    for x in draws(rlgrade_rng):
        assert math.square(x) == x * x


def test_is_even(submission, rlgrade_rng: random.Random) -> None:
    math = submission.module("tiny_math")
    for n in draws(rlgrade_rng):
        answer = math.is_even(n)
        assert type(answer) is bool, f"is_even({n}) gave {answer!r}, not a bool"
        assert answer == (n % 2 == 0)


@pytest.mark.parametrize("where", ["below", "inside", "above"])
def test_clamp(submission, rlgrade_rng: random.Random, where: str) -> None:
    math = submission.module("tiny_math")
    for _ in range(10):
        lo = rlgrade_rng.randint(-100, 0)
        hi = rlgrade_rng.randint(1, 100)
        x = {
            "below": lo - rlgrade_rng.randint(1, 50),
            "inside": rlgrade_rng.randint(lo, hi),
            "above": hi + rlgrade_rng.randint(1, 50),
        }[where]
        assert math.clamp(x, lo, hi) == min(max(x, lo), hi)
