"""The LLM wrapper: routing, thinking, fallback on overload, structured responses, env loading."""

from __future__ import annotations

import contextlib
import json

import pytest
from character_eval_oracle import (
    ANTHROPIC_LOG,
    BAD_MODELS,
    FALLBACK,
    OPENROUTER_LOG,
    PRIMARY,
    THINKING,
    USER_MODEL,
    answered,
    served,
    simulation,
    text_of_anthropic,
    text_of_openrouter,
    word,
    write_settings,
)

from pytest_rlgrade import SubmissionRaised


def _prompt(rng):
    return " ".join(word(rng) for _ in range(rng.randint(6, 12)))


def _result(value):
    assert isinstance(value, dict), f"complete() should return a pydantic model (LLMResult), got {value!r}"
    return value


def test_primary_model_thinks(submission, rlgrade_rng):
    api = submission.module("character_eval.llm_api")
    prompt, system = _prompt(rlgrade_rng), _prompt(rlgrade_rng)
    result = _result(api.complete(PRIMARY, [{"role": "user", "content": prompt}], system=system))
    (entry,) = answered(served(submission, ANTHROPIC_LOG))
    request = entry["request"]
    assert request["model"] == "claude-sonnet-4-20250514", request["model"]
    assert request["thinking"] == THINKING, f"thinking was {request['thinking']!r}"
    assert request["max_tokens"] > THINKING["budget_tokens"]
    assert request["system"] == system
    assert request["messages"] == [{"role": "user", "content": prompt}]
    assert result.get("text") == text_of_anthropic(entry["response"]), (
        "text should be the text block's, not the thinking"
    )
    assert result.get("model") == PRIMARY
    assert result.get("requested_model") == PRIMARY
    assert result.get("fell_back") is False
    thinking = "".join(b["thinking"] for b in entry["response"]["content"] if b["type"] == "thinking")
    assert result.get("thinking") == thinking, "thinking should hold the answer's thinking block"
    assert served(submission, OPENROUTER_LOG) == []
    # a larger answer still leaves max_tokens above the thinking budget
    limit = rlgrade_rng.randint(8192, 11000)
    api.complete(PRIMARY, [{"role": "user", "content": _prompt(rlgrade_rng)}], max_tokens=limit)
    sent = answered(served(submission, ANTHROPIC_LOG))[-1]["request"]["max_tokens"]
    assert sent > THINKING["budget_tokens"], f"complete(..., max_tokens={limit}) sent max_tokens {sent}"
    # An error other than overloaded_error (here Anthropic refuses a conversation that opens with
    # the assistant) is not a reason to fall back.
    opening = [{"role": "assistant", "content": _prompt(rlgrade_rng)}, {"role": "user", "content": prompt}]
    with contextlib.suppress(SubmissionRaised):
        api.complete(PRIMARY, opening)
    assert served(submission, OPENROUTER_LOG) == [], "only an overloaded_error should fall back to OpenRouter"


def test_overload_falls_back_to_openrouter(submission, rlgrade_rng):
    write_settings(submission, {"anthropic": {"overloaded": True}})
    api = submission.module("character_eval.llm_api")
    messages = [{"role": "user", "content": _prompt(rlgrade_rng)}]
    system = _prompt(rlgrade_rng)
    result = _result(api.complete(PRIMARY, messages, system=system))
    tried = served(submission, ANTHROPIC_LOG)
    assert [e["status"] for e in tried] == [529], f"expected one overloaded Anthropic call, got {tried}"
    (entry,) = answered(served(submission, OPENROUTER_LOG))
    assert entry["request"]["model"] == "anthropic/claude-sonnet-4"
    assert entry["request"]["messages"] == messages
    assert entry["request"]["system"] == system
    assert result.get("text") == text_of_openrouter(entry["response"])
    assert result.get("model") == FALLBACK
    assert result.get("requested_model") == PRIMARY
    assert result.get("fell_back") is True
    assert result.get("thinking") is None, "the fallback's answer has no thinking"


def test_openrouter_models_go_to_openrouter(submission, rlgrade_rng):
    api = submission.module("character_eval.llm_api")
    for model in (USER_MODEL, FALLBACK):
        messages = [{"role": "user", "content": _prompt(rlgrade_rng)}]
        result = _result(api.complete(model=model, messages=messages))
        entry = answered(served(submission, OPENROUTER_LOG))[-1]
        assert entry["request"]["model"] == model.removeprefix("openrouter/")
        assert entry["request"]["messages"] == messages
        assert entry["request"]["max_tokens"] == 4096, "max_tokens defaults to 4096"
        assert result.get("text") == text_of_openrouter(entry["response"])
        assert result.get("model") == model
        assert result.get("requested_model") == model
        assert result.get("fell_back") is False
        assert result.get("thinking") is None
    limit = rlgrade_rng.randint(100, 3000)
    api.complete(USER_MODEL, [{"role": "user", "content": _prompt(rlgrade_rng)}], max_tokens=limit)
    assert answered(served(submission, OPENROUTER_LOG))[-1]["request"]["max_tokens"] == limit
    assert served(submission, ANTHROPIC_LOG) == []


def _schema(rng):
    kinds = [
        {"type": "string"},
        {"type": "integer", "minimum": rng.randint(0, 3), "maximum": rng.randint(5, 9)},
        {"type": "boolean"},
        {"type": "string", "enum": [word(rng, 2) for _ in range(3)]},
        {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    ]
    names = []
    while len(names) < rng.randint(2, 4):
        name = word(rng, 2)
        if name not in names:
            names.append(name)
    properties = {name: rng.choice(kinds) for name in names}
    return {
        "title": f"probe_{word(rng, 2)}",
        "type": "object",
        "properties": properties,
        "required": names,
        "additionalProperties": False,
    }


@pytest.mark.parametrize("model", [PRIMARY, FALLBACK])
def test_structured_response_is_parsed(submission, rlgrade_rng, model):
    api = submission.module("character_eval.llm_api")
    schema = _schema(rlgrade_rng)
    messages = [{"role": "user", "content": _prompt(rlgrade_rng)}]
    result = _result(api.complete(model, messages, response_schema=schema))
    log = ANTHROPIC_LOG if model == PRIMARY else OPENROUTER_LOG
    (entry,) = answered(served(submission, log))
    assert entry["request"]["schema"] == schema, "the request should carry the response schema"
    text = text_of_anthropic(entry["response"]) if model == PRIMARY else text_of_openrouter(entry["response"])
    assert result.get("parsed") == json.loads(text)


def test_answer_that_misses_the_schema_is_an_error(submission, rlgrade_rng):
    trigger = word(rlgrade_rng, 4)
    write_settings(submission, {"judge": {"malformed_always": [trigger]}})
    api = submission.module("character_eval.llm_api")
    schema = _schema(rlgrade_rng)
    schema["properties"]["score"] = {"type": "integer", "minimum": 1, "maximum": 5}
    schema["required"].append("score")
    messages = [{"role": "user", "content": f"{_prompt(rlgrade_rng)} {trigger}"}]
    with submission.raises("StructuredResponseError") as info:
        api.complete(rlgrade_rng.choice([PRIMARY, FALLBACK]), messages, response_schema=schema)
    assert info.value.is_a("ValueError"), "StructuredResponseError should be a ValueError"
    # A schema of one field, and prompts chosen so that the malformed answers are both kinds: not
    # JSON at all, and a JSON object that misses the schema in exactly one place.
    model = rlgrade_rng.choice([PRIMARY, FALLBACK])
    sent_as = "claude-sonnet-4-20250514" if model == PRIMARY else "anthropic/claude-sonnet-4"
    single = {
        "title": f"probe_{word(rlgrade_rng, 2)}",
        "type": "object",
        "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["score"],
        "additionalProperties": False,
    }
    for not_json in (True, False):
        while True:
            messages = [{"role": "user", "content": f"{_prompt(rlgrade_rng)} {trigger}"}]
            kind = int(simulation.unit(simulation.digest(sent_as, messages), "malformed") * 3)
            if (kind == 0) == not_json:
                break
        with submission.raises("StructuredResponseError"):
            api.complete(model, messages, response_schema=single)


def test_disallowed_model_is_refused(submission, rlgrade_rng):
    api = submission.module("character_eval.llm_api")
    model = rlgrade_rng.choice(BAD_MODELS)
    with submission.raises("ValueError", match=model.replace(".", r"\.")):
        api.complete(model, [{"role": "user", "content": _prompt(rlgrade_rng)}])
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []


def test_load_env(submission, rlgrade_rng):
    names = [f"CE_{word(rlgrade_rng).upper()}_{i}" for i in range(5)]
    values = [word(rlgrade_rng) for _ in names]
    lines = [
        "# settings of the pipeline",
        f"{names[0]}={values[0]}",
        "",
        f'export {names[1]}="{values[1]} {values[1]}"',
        f"{names[2]}='{values[2]}'",
        f"{names[3]} = {values[3]}",
        f'{names[4]}=""',
    ]
    (submission.workdir / "custom.env").write_text("\n".join(lines) + "\n")
    (submission.workdir / "second.env").write_text(f"{names[0]}=changed\n")
    env = submission.module("character_eval.load_env")
    loaded = env.load_env("custom.env")
    expected = {
        names[0]: values[0],
        names[1]: f"{values[1]} {values[1]}",
        names[2]: values[2],
        names[3]: values[3],
        names[4]: "",
    }
    assert loaded == expected
    env.load_env("second.env")
    environ = submission.getattr(submission.module("os"), "environ")
    for name, value in expected.items():
        assert environ.get(name) == value, f"os.environ[{name!r}] is {environ.get(name)!r}, expected {value!r}"
    env.load_env("second.env", override=True)
    environ = submission.getattr(submission.module("os"), "environ")
    assert environ.get(names[0]) == "changed", "load_env(..., override=True) should replace existing variables"
    broken = lines[:]
    at = rlgrade_rng.randint(1, len(broken))
    broken.insert(at - 1, f"{word(rlgrade_rng)} without an equals sign")
    (submission.workdir / "broken.env").write_text("\n".join(broken) + "\n")
    with submission.raises("ValueError", match=rf"broken\.env.*line {at}\b|line {at}\b.*broken\.env"):
        env.load_env("broken.env")
