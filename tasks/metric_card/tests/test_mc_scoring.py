"""Scores of known-good, known-broken and subtly wrong outputs, each dimension on its own, and the
scoring's invariants on generated cards."""

from __future__ import annotations

import contextlib
import copy
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metric_card_support import (
    DIMENSIONS,
    FORMATTING_CHECKS,
    SCHEMA_FAULT_PLACES,
    SCHEMA_FAULTS,
    SEMANTIC_CHECKS,
    break_formatting,
    break_semantic,
    check_dimension,
    check_result,
    close,
    describe,
    generate_contexts,
    good_card,
    oracle,
    simulator,
    subtly_right,
    with_schema_errors,
)


def _scoring(submission):
    return submission.module("metric_card.scoring")


def test_good_outputs_score_full_marks(submission, contexts, rlgrade_rng):
    """Bare, fenced and after-prose cards, and cards that say the same thing differently."""
    scoring = _scoring(submission)
    for context in contexts:
        card = good_card(context, rlgrade_rng)
        outputs = {
            "bare": json.dumps(card, indent=rlgrade_rng.choice([None, 2])),
            "fenced": simulator.sample_output(context, "fenced", rlgrade_rng.randrange(10**6)),
            "after prose": simulator.sample_output(context, "prose", rlgrade_rng.randrange(10**6)),
            "written differently": json.dumps(subtly_right(card, context, rlgrade_rng)),
        }
        for kind, text in outputs.items():
            want = oracle.score_output(text, context)
            assert want["overall"] == 1.0
            check_result(scoring.score_output(text, context), want, f"{kind} card for {context['id']}")


def test_json_validity_levels(submission, contexts, rlgrade_rng):
    scoring = _scoring(submission)
    context = rlgrade_rng.choice(contexts)
    card = good_card(context, rlgrade_rng)
    text = json.dumps(card)
    cases = {
        "bare": (text, 1.0),
        "fenced": (f"Here you go:\n```json\n{json.dumps(card, indent=2)}\n```", 1.0),
        "after prose": (f"The card is {text} as requested.", 1.0),
        "trailing commas": (simulator.sample_output(context, "trailing_comma", rlgrade_rng.randrange(99)), 0.5),
        "single quotes": (text.replace('"', "'"), 0.5),
        "truncated": (text[: rlgrade_rng.randint(5, len(text) - 5)], 0.0),
        "an array": (json.dumps([card]), 0.0),
        "a number": (str(rlgrade_rng.randint(1, 99)), 0.0),
        "prose only": ("I cannot produce that card right now.", 0.0),
        "NaN": (text.replace(json.dumps(card["metric"]["value"]), "NaN", 1), 0.0),
    }
    for kind, (output, score) in cases.items():
        want = oracle.json_validity(output)
        assert want["score"] == score
        check_dimension(scoring.score_json_validity(output), want, f"json_validity of {kind} {describe(output)}")
        got = scoring.score_output(output, context)
        check_dimension(got.get("json_validity"), want, f"score_output's json_validity of {kind}")
        if score == 0.0:
            for dimension in DIMENSIONS[1:]:
                assert close(got[dimension]["score"], 0.0), f"{kind}: {dimension} should be 0 without a JSON object"


def test_schema_compliance_gives_partial_credit(submission, contexts, rlgrade_rng):
    """1 − 0.25 per error: cards with 0 to 5 schema errors, and the errors of simulated outputs."""
    scoring = _scoring(submission)
    context = rlgrade_rng.choice(contexts)
    for errors in range(6):
        card = with_schema_errors(good_card(context, rlgrade_rng), errors, rlgrade_rng)
        want = oracle.schema_compliance(card)
        got = scoring.score_schema_compliance(card)
        check_dimension(got, want, f"schema_compliance of a card with {errors} errors")
        assert len(got["reasons"]) == errors, f"{len(got['reasons'])} reasons for {errors} schema errors"
    for quality in ("wrong_types", "missing_fields", "extra_fields", "flattened"):
        text = simulator.sample_output(context, quality, rlgrade_rng.randrange(10**6))
        card = oracle.extract_json(text)["value"]
        want = oracle.schema_compliance(card)
        got = scoring.score_schema_compliance(card)
        check_dimension(got, want, f"schema_compliance of a {quality} card")
        assert len(got["reasons"]) == len(want["reasons"]), f"{quality}: one reason per schema error"
    # one error at a time, at the top or nested: its reason names where it is
    card = good_card(context, rlgrade_rng)
    broken = []
    for fault in SCHEMA_FAULT_PLACES:
        broken.append(copy.deepcopy(card))
        fault(broken[-1], rlgrade_rng)
    results = scoring.score_schema_compliance.each([(trial,) for trial in broken])
    for place, trial, got in zip(SCHEMA_FAULT_PLACES.values(), broken, results, strict=True):
        check_dimension(got, oracle.schema_compliance(trial), f"schema_compliance with an error at {place}")
        assert len(got["reasons"]) == 1, f"one error at {place}, reasons {got['reasons']!r}"
        assert place in got["reasons"][0], (
            f"the reason for an error at {place} should name where it is: {got['reasons']!r}"
        )


@pytest.mark.parametrize("check", SEMANTIC_CHECKS)
def test_semantic_check(submission, contexts, rlgrade_rng, check):
    """A card that fails one semantic check (on every generated context) loses exactly its share."""
    scoring = _scoring(submission)
    for number, context in enumerate(contexts):  # odd numbers: value and change without valid decimals
        card = break_semantic(good_card(context, rlgrade_rng), context, check, rlgrade_rng, variant=number)
        want = oracle.semantic_quality(card, context)
        assert f"{check}: does not fit the context" in want["reasons"]
        got = scoring.score_semantic_quality(card, context)
        check_dimension(got, want, f"semantic_quality with a wrong {check} for {context['id']}", prefixes=True)
        # the other dimensions do not see the semantic fault
        assert close(scoring.score_formatting(card)["score"], oracle.formatting(card)["score"])


@pytest.mark.parametrize("check", FORMATTING_CHECKS)
def test_formatting_check(submission, contexts, rlgrade_rng, check):
    scoring = _scoring(submission)
    for number, context in enumerate(contexts):  # at least 4 contexts: every way each check fails
        card = break_formatting(good_card(context, rlgrade_rng), check, rlgrade_rng, variant=number)
        want = oracle.formatting(card)
        assert [r.split(":")[0] for r in want["reasons"]] == [check], (check, want)
        got = scoring.score_formatting(card)
        check_dimension(got, want, f"formatting with a {check} fault for {context['id']}", prefixes=True)
        assert close(scoring.score_semantic_quality(card, context)["score"], 1.0), (
            f"a {check} fault is not a semantic fault"
        )


def test_non_objects_score_zero(submission, rlgrade_rng, contexts):
    scoring = _scoring(submission)
    context = rlgrade_rng.choice(contexts)
    for value in ([good_card(context, rlgrade_rng)], "MetricCard", rlgrade_rng.randint(0, 9), None, True):
        for name, got in (
            ("schema_compliance", scoring.score_schema_compliance(value)),
            ("semantic_quality", scoring.score_semantic_quality(value, context)),
            ("formatting", scoring.score_formatting(value)),
        ):
            check_dimension(got, {"score": 0.0, "reasons": ["x"]}, f"{name} of {value!r:.60}")


def test_every_simulated_quality_scores_by_the_rules(submission, contexts, rlgrade_rng):
    """Every kind of output the simulated model writes, for every generated context."""
    scoring = _scoring(submission)
    for quality in simulator.QUALITIES:
        for context in contexts:
            text = simulator.sample_output(context, quality, rlgrade_rng.randrange(10**6))
            check_result(scoring.score_output(text, context), oracle.score_output(text, context), f"{quality} output")


# -- invariants ------------------------------------------------------------------------------------

FAULTS = st.lists(
    st.one_of(
        st.tuples(st.just("semantic"), st.sampled_from(SEMANTIC_CHECKS)),
        st.tuples(st.just("formatting"), st.sampled_from(FORMATTING_CHECKS)),
        st.tuples(st.just("schema"), st.integers(1, 3)),
    ),
    max_size=4,
)
WRAPS = st.sampled_from(["bare", "indented", "fenced", "prose", "single_quotes", "padded"])


def _wrap(card, wrap):
    text = json.dumps(card, ensure_ascii=False)
    if wrap == "indented":
        return json.dumps(card, indent=3, ensure_ascii=False)
    if wrap == "fenced":
        return f"Card:\n```json\n{text}\n```\nDone."
    if wrap == "prose":
        return f"Here is the card: {text}"
    if wrap == "single_quotes" and "'" not in text and '\\"' not in text:
        return text.replace('"', "'")
    if wrap == "padded":
        return f"\n\n  {text}\t\n"
    return text


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(seed=st.integers(0, 2**32 - 1), faults=FAULTS, wrap=WRAPS)
def test_scores_are_bounded_weighted_and_by_the_rules(submission, seed, faults, wrap):
    """Any mix of faults, written any way: each score in [0, 1], reasons exactly when below 1,
    overall the weighted sum, the same answer twice, and the rules' answer."""
    rng = random.Random(seed)
    context = generate_contexts(rng, 3)[rng.randrange(3)]
    card = good_card(context, rng)
    for kind, what in faults:
        if kind == "semantic":
            card = break_semantic(card, context, what, rng)
        elif kind == "formatting" and isinstance(card.get("metric"), dict):
            # an earlier fault may have removed what this one changes
            with contextlib.suppress(KeyError, TypeError, ValueError):
                card = break_formatting(card, what, rng)
        elif kind == "schema":
            trial = copy.deepcopy(card)
            for fault in rng.sample(SCHEMA_FAULTS, what):
                fault(trial, rng)
            card = trial
    text = _wrap(card, wrap)
    scoring = _scoring(submission)
    got = scoring.score_output(text, context)
    want = oracle.score_output(text, context)
    check_result(got, want, f"output {describe(text)}")
    for dimension in DIMENSIONS:
        assert 0.0 <= got[dimension]["score"] <= 1.0
    weighted = sum(w * got[d]["score"] for d, w in oracle.WEIGHTS.items())
    assert close(got["overall"], weighted), f"overall {got['overall']} is not the weighted sum {weighted}"
    assert scoring.score_output(text, context) == got, "scoring the same output twice gave different answers"
