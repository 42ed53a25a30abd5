"""funcbench: each instance's function, against the oracle, on examples, edges and random inputs."""

from __future__ import annotations

import random
from typing import Any

from funcbench_oracle import BY_NAME


def check(submission: Any, instance: dict[str, Any], inputs: list[Any]) -> None:
    family = BY_NAME[instance["family"]]
    function = getattr(submission.module("funcbench"), instance["entry_point"])
    # Every input in one round trip to the sandbox; the first exception fails the test, as a
    # call per input would.
    for value, got in zip(inputs, function.each([(value,) for value in inputs]), strict=True):
        expected = family.solve(instance["k"], value)
        assert type(got) is type(expected), f"{instance['entry_point']}({value!r}) returned a {type(got).__name__}"
        assert got == expected, f"{instance['entry_point']}({value!r}) returned {got!r}"


def test_examples(submission: Any, rlgrade_instance: dict[str, Any]) -> None:
    check(submission, rlgrade_instance, BY_NAME[rlgrade_instance["family"]].examples(rlgrade_instance["k"]))


def test_edge_cases(submission: Any, rlgrade_instance: dict[str, Any]) -> None:
    check(submission, rlgrade_instance, BY_NAME[rlgrade_instance["family"]].edges(rlgrade_instance["k"]))


def test_random_inputs(submission: Any, rlgrade_instance: dict[str, Any], rlgrade_rng: random.Random) -> None:
    family = BY_NAME[rlgrade_instance["family"]]
    check(submission, rlgrade_instance, [family.draw(rlgrade_instance["k"], rlgrade_rng) for _ in range(25)])
