"""Prompts built from contexts: they state the schema's requirements and carry the context."""

from __future__ import annotations

import json

import pytest
from metric_card_support import card_schema, simulator

BLOCK_OPEN, BLOCK_CLOSE = "<context>", "</context>"


def _messages(submission, context):
    prompts = submission.module("metric_card.prompts")
    messages = prompts.build_messages(context)
    assert isinstance(messages, list), f"expected a list [system, user], got {messages!r:.300}"
    assert len(messages) == 2, f"expected [system, user], got {messages!r:.300}"
    assert [m.get("role") if isinstance(m, dict) else None for m in messages] == ["system", "user"], (
        f"the roles should be system then user: {messages!r:.300}"
    )
    assert all(isinstance(m.get("content"), str) and m["content"].strip() for m in messages)
    return messages


def test_prompt_states_the_schema_requirements(submission, contexts):
    for context in contexts[:2]:
        text = "\n".join(m["content"] for m in _messages(submission, context))
        missing = [path for path in card_schema.required_fields() if path not in text]
        assert not missing, f"the prompt does not name the required fields {missing}"
        for name, allowed in (
            ("metric.unit", card_schema.UNITS),
            ("trend.direction", card_schema.DIRECTIONS),
            ("trend.period", card_schema.PERIODS),
        ):
            absent = [value for value in allowed if value not in text]
            assert not absent, f"the prompt does not list the allowed values {absent} of {name}"
        assert "JSON" in text, "the prompt should ask for JSON"


def test_user_message_carries_the_context(submission, contexts):
    for context in contexts:
        user = _messages(submission, context)[1]["content"]
        lines = user.splitlines()
        for marker in (BLOCK_OPEN, BLOCK_CLOSE):
            assert marker in lines, f"the user message needs a line {marker}: {user!r:.400}"
        start = lines.index(BLOCK_OPEN)
        end = lines.index(BLOCK_CLOSE, start)
        try:
            carried = json.loads("\n".join(lines[start + 1 : end]))
        except json.JSONDecodeError as exc:
            pytest.fail(f"the context block is not JSON: {exc}")
        assert carried == context, f"the context block holds {carried!r}, expected {context!r}"
        assert simulator.parse_context_block(user) == context, "the simulated model cannot read this context block"


@pytest.mark.parametrize("fault", ["missing", "unit", "metric", "value"])
def test_bad_context_is_rejected(submission, contexts, rlgrade_rng, fault):
    context = dict(rlgrade_rng.choice(contexts))
    if fault == "missing":
        field = rlgrade_rng.choice(["model", "benchmark", "period", "previous"])
        del context[field]
    elif fault == "unit":
        field = "unit"
        context["unit"] = sorted(set(card_schema.UNITS) - set(card_schema.units_for(context["metric"])))[0]
    elif fault == "metric":
        field = "metric"
        context["metric"] = "vibes_per_second"
    else:
        field = "value"
        context["value"] = str(context["value"])
    prompts = submission.module("metric_card.prompts")
    with submission.raises("ValueError") as info:
        prompts.build_messages(context)
    assert field in info.value.message, f"the error should name the field {field!r}: {info.value.message!r}"
