"""The metric functions, on generated inputs, against the definitions of tools/metrics.py."""

from __future__ import annotations

import math

from experiment_profiler_oracle import aggregate, assert_aggregate, is_number, score, trusted_metrics
from hypothesis import given, settings
from hypothesis import strategies as st

STOP_REASONS = st.sampled_from(["end_turn", "stop_sequence", "max_tokens", "refusal", "tool_use", "pause_turn", None])
# ASCII letters and digits plus a few accented letters whose case mapping round-trips, so that
# lower() and casefold() agree and any sensible case-insensitive match is right.
WORDS = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\u00e9\u00fc\u00e7\u00f1",
    min_size=1,
    max_size=8,
)
SEPARATORS = st.sampled_from([" ", ", ", ". ", "\n", " - "])
# The phases are the grading profile's: no explain phase (it re-runs a failing test about a
# hundred times to annotate the report, each run a call into the sandbox), and shrinking only
# under -v; neither changes an outcome.


@st.composite
def responses(draw):
    """A response text with an expected-facts list partly drawn from it, and a stop reason."""
    words = draw(st.lists(WORDS, max_size=15))
    parts = []
    for w in words:
        parts.append(w.upper() if draw(st.booleans()) else w)
        parts.append(draw(SEPARATORS))
    text = "".join(parts)
    if draw(st.integers(0, 4)) == 0:
        text = draw(st.sampled_from(trusted_metrics.REFUSAL_PREFIXES)).capitalize() + " " + text
    present = draw(st.lists(st.sampled_from(words), max_size=4)) if words else []
    absent = draw(st.lists(WORDS.map(lambda w: w + "~"), max_size=2))
    facts = draw(st.permutations(present + absent))
    return text, list(facts), draw(STOP_REASONS)


@settings(max_examples=60, deadline=None)
@given(case=responses())
def test_score_response_matches_the_definitions(submission, case):
    text, facts, stop_reason = case
    metrics = submission.module("experiment_profiler.metrics")
    got = metrics.score_response(text, facts, stop_reason)
    want = score(text, facts, stop_reason)
    assert isinstance(got, dict), f"score_response should return a dict, got {got!r}"
    coverage = got.get("fact_coverage")
    assert is_number(coverage), f"fact_coverage should be a number, got {coverage!r}"
    assert math.isclose(coverage, want["fact_coverage"], abs_tol=1e-9), (
        f"fact_coverage of {text!r} for facts {facts!r} is {coverage}, expected {want['fact_coverage']}"
    )
    for key in ("completed", "refused"):
        assert got.get(key) is want[key], (
            f"{key} of {text!r} (stop_reason {stop_reason!r}) is {got.get(key)!r}, expected {want[key]!r}"
        )


SCORES = st.fixed_dictionaries(
    {
        "fact_coverage": st.one_of(st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 1.0]), st.floats(0, 1)),
        "completed": st.booleans(),
        "refused": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(scores=st.lists(SCORES, max_size=40))
def test_aggregate_matches_the_definitions(submission, scores):
    metrics = submission.module("experiment_profiler.metrics")
    assert_aggregate(metrics.aggregate(scores), aggregate(scores), f"aggregate of {len(scores)} scores")


def test_aggregate_of_nothing_is_zero(submission):
    metrics = submission.module("experiment_profiler.metrics")
    got = metrics.aggregate([])
    assert_aggregate(got, aggregate([]), "aggregate([])")
    assert all(got[k] == 0 for k in ("fact_coverage", "completion_rate", "refusal_rate", "geometric_mean"))
