"""Step 1, contexts: one structured request per context, thinking on, fallback on overload."""

from __future__ import annotations

import json

import jsonschema
from character_eval_oracle import (
    ANTHROPIC_LOG,
    BAD_MODELS,
    FALLBACK,
    OPENROUTER_LOG,
    PRIMARY,
    THINKING,
    answer_text,
    answered,
    assert_clear_failure,
    assert_ok,
    assert_required_flags,
    run,
    served,
    word,
    write_settings,
)

OUTPUT = "synthetic_evaluation_data/contexts/contexts_test.json"


def _theme(rng):
    return f"Contexts on a {word(rng)} candidate who complains about {word(rng)} customers"


def _generate(submission, theme, count, model=PRIMARY, output=OUTPUT):
    result = run(
        submission,
        "contexts",
        ["--theme", theme, "--num_contexts", count, "--model", model, "--output-file", output],
    )
    assert_ok(result, "the context generator")
    contexts = submission.read_json(output)
    assert isinstance(contexts, list), f"{output} should hold a JSON list, got {type(contexts).__name__}"
    assert len(contexts) == count, f"{len(contexts)} contexts, expected {count}"
    assert all(isinstance(c, dict) for c in contexts), "every context should be an object"
    return result, contexts


def _matches(context, entry, log):
    answer = json.loads(answer_text(entry, log))
    documents = [
        {"title": d.get("title"), "content": d.get("content")} for d in context.get("supporting_documents", [])
    ]
    return context.get("scenario") == answer["scenario"] and documents == answer["supporting_documents"]


def _check_request(entry, theme):
    request = entry["request"]
    schema = request["schema"]
    assert isinstance(schema, dict), "a context request should ask for a structured (JSON Schema) answer"
    assert "scenario" in schema.get("properties", {})
    assert "supporting_documents" in schema.get("properties", {})
    prompt = " ".join(m["content"] for m in request["messages"]) + " " + (request["system"] or "")
    assert theme in prompt, "the theme should be in the context request"
    # the schema asks for what the task states: a string scenario and 1 to 3 documents of string
    # title and content, both fields required
    validator = jsonschema.Draft202012Validator(schema)
    document = {"title": "Policy", "content": "Be kind."}
    for count in (1, 2, 3):
        instance = {"scenario": "A call.", "supporting_documents": [document] * count}
        assert validator.is_valid(instance), f"the context schema should accept {count} documents"
    refused = [
        {"scenario": "A call.", "supporting_documents": []},
        {"scenario": "A call.", "supporting_documents": [document] * 4},
        {"supporting_documents": [document]},
        {"scenario": "A call."},
        {"scenario": 7, "supporting_documents": [document]},
        {"scenario": "A call.", "supporting_documents": [{"content": "Be kind."}]},
        {"scenario": "A call.", "supporting_documents": [{"title": "Policy"}]},
        {"scenario": "A call.", "supporting_documents": [{"title": "Policy", "content": 3}]},
        {"scenario": "A call.", "supporting_documents": [{"title": 3, "content": "Be kind."}]},
    ]
    for instance in refused:
        assert not validator.is_valid(instance), f"the context schema should refuse {instance}"


def test_contexts_come_from_thinking_requests(submission, rlgrade_rng):
    theme, count = _theme(rlgrade_rng), rlgrade_rng.randint(2, 4)
    _, contexts = _generate(submission, theme, count)
    entries = answered(served(submission, ANTHROPIC_LOG))
    assert len(entries) == count, f"{len(entries)} Anthropic requests for {count} contexts"
    for number, (context, entry) in enumerate(zip(contexts, entries, strict=True), 1):
        assert entry["request"]["model"] == "claude-sonnet-4-20250514"
        assert entry["request"]["thinking"] == THINKING, f"context {number}: thinking {entry['request']['thinking']}"
        _check_request(entry, theme)
        assert _matches(context, entry, ANTHROPIC_LOG), f"context {number} is not the model's answer: {context}"
        assert context.get("theme") == theme
        assert context.get("model") == PRIMARY
    assert len({c.get("id") for c in contexts}) == count, "context ids should be unique"
    assert served(submission, OPENROUTER_LOG) == []


def test_overloaded_calls_fall_back(submission, rlgrade_rng):
    theme, count = _theme(rlgrade_rng), rlgrade_rng.randint(3, 5)
    overloaded = sorted(rlgrade_rng.sample(range(1, count + 1), rlgrade_rng.randint(1, count - 1)))
    write_settings(submission, {"anthropic": {"overloaded_calls": overloaded}})
    (submission.workdir / OUTPUT).parent.mkdir(parents=True)  # the output's folder already there
    result, contexts = _generate(submission, theme, count)
    calls = served(submission, ANTHROPIC_LOG)
    assert [e["call"] for e in calls if e["status"] == 529] == overloaded
    primary, fallback = answered(calls), answered(served(submission, OPENROUTER_LOG))
    assert len(primary) + len(fallback) == count
    assert all(e["request"]["model"] == "anthropic/claude-sonnet-4" for e in fallback)
    primary_iter, fallback_iter = iter(primary), iter(fallback)
    for number, context in enumerate(contexts, 1):
        if number in overloaded:
            entry, log, model = next(fallback_iter), OPENROUTER_LOG, FALLBACK
        else:
            entry, log, model = next(primary_iter), ANTHROPIC_LOG, PRIMARY
        _check_request(entry, theme)
        assert _matches(context, entry, log), f"context {number} is not the answer of {model}"
        assert context.get("model") == model, f"context {number} was generated by {model}"
    assert FALLBACK in result.stderr + result.stdout, "the fallback should be reported"


def test_fallback_model_can_be_chosen(submission, rlgrade_rng):
    theme, count = _theme(rlgrade_rng), 1  # a single context is a valid request too
    _, contexts = _generate(submission, theme, count, model=FALLBACK)
    assert served(submission, ANTHROPIC_LOG) == []
    entries = answered(served(submission, OPENROUTER_LOG))
    assert len(entries) == count
    for context, entry in zip(contexts, entries, strict=True):
        assert entry["request"]["model"] == "anthropic/claude-sonnet-4"
        assert _matches(context, entry, OPENROUTER_LOG)


def test_contexts_cli_fails_clearly(submission, rlgrade_rng):
    theme = _theme(rlgrade_rng)
    bad = rlgrade_rng.choice([*BAD_MODELS, "openrouter/qwen/qwen3-32b"])
    args = ["--theme", theme, "--num_contexts", 2, "--output-file", OUTPUT]
    result = run(submission, "contexts", [*args, "--model", bad])
    assert_clear_failure(result, "a disallowed --model", bad)
    assert not (submission.workdir / OUTPUT).exists(), "nothing should be written for a disallowed model"
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []
    flag = f"--{word(rlgrade_rng)}"
    result = run(submission, "contexts", [*args, "--model", PRIMARY, flag, "1"])
    assert_clear_failure(result, f"the unknown flag {flag}", flag)
    assert_required_flags(
        submission, "contexts", [*args, "--model", PRIMARY], ["--theme", "--num_contexts", "--model", "--output-file"]
    )
    assert not (submission.workdir / OUTPUT).exists()
