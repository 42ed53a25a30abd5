"""funcbench: each instance's function against the oracle, as HumanEval checks a problem: one test
that tries the examples, the edge cases and 25 inputs drawn from the run's seed, all in one round
trip to the sandbox. The first wrong answer fails it, naming the input and what kind it was."""

from __future__ import annotations

import random
from typing import Any

from funcbench_oracle import BY_NAME

RANDOM_INPUTS = 25


def test_solution(submission: Any, rlgrade_instance: dict[str, Any], rlgrade_rng: random.Random) -> None:
    family, k = BY_NAME[rlgrade_instance["family"]], rlgrade_instance["k"]
    name = rlgrade_instance["entry_point"]
    cases = [
        *(("an example", value) for value in family.examples(k)),
        *(("an edge case", value) for value in family.edges(k)),
        *(("a random input", family.draw(k, rlgrade_rng)) for _ in range(RANDOM_INPUTS)),
    ]
    function = getattr(submission.module("funcbench"), name)
    # The first exception the submission raises fails the test, as a call per input would.
    answers = function.each([(value,) for _kind, value in cases])
    for (kind, value), got in zip(cases, answers, strict=True):
        expected = family.solve(k, value)
        assert type(got) is type(expected), f"on {kind}, {name}({value!r}) returned a {type(got).__name__}"
        assert got == expected, f"on {kind}, {name}({value!r}) returned {got!r}"
