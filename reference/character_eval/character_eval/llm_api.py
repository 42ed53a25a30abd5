"""One way to call the pipeline's models: routing, fallback, thinking and structured responses.

Model names carry their provider: ``anthropic/<id>`` goes to the Anthropic Messages API (always
with extended thinking, ``budget_tokens`` 10000), ``openrouter/<id>`` to OpenRouter's
OpenAI-compatible chat completions. When ``anthropic/claude-sonnet-4-20250514`` answers
``overloaded_error`` (HTTP 529), the call is made again at once through
``openrouter/anthropic/claude-sonnet-4``, and the fallback is reported on stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic import BaseModel

from .load_env import load_env

PRIMARY = "anthropic/claude-sonnet-4-20250514"
FALLBACK = "openrouter/anthropic/claude-sonnet-4"
USER_MODEL = "openrouter/qwen/qwen3-32b"
ALLOWED_MODELS = (USER_MODEL, PRIMARY, FALLBACK)
THINKING = {"type": "enabled", "budget_tokens": 10000}
ANSWER_TOKENS = 4096
_clients: dict[str, Any] = {}


class ModelNotAllowedError(ValueError):
    """A model the pipeline may not use (for this step)."""


class StructuredResponseError(ValueError):
    """A structured answer that is not JSON or does not satisfy the requested schema."""

    def __init__(self, message: str, text: str, model: str) -> None:
        super().__init__(message)
        self.text = text
        self.model = model


class LLMResult(BaseModel):
    """One answer: its text, the model that gave it, and the parsed JSON for structured calls."""

    text: str
    model: str
    requested_model: str
    fell_back: bool
    thinking: str | None = None
    parsed: dict[str, Any] | None = None


def check_model(model: str, allowed: tuple[str, ...] | list[str] = ALLOWED_MODELS, what: str = "model") -> str:
    """``model`` when it is one of ``allowed``; else a :class:`ModelNotAllowedError` naming both."""
    if model not in allowed:
        raise ModelNotAllowedError(f"{what} {model!r} is not allowed; use one of: {', '.join(allowed)}")
    return model


def _client(provider: str) -> Any:
    if provider not in _clients:
        load_env()
        if provider == "anthropic":  # pragma: no mutate
            from tools import anthropic_sim

            _clients[provider] = anthropic_sim.get_client()
        else:
            from tools import openrouter_sim

            _clients[provider] = openrouter_sim.get_client()
    return _clients[provider]


def _call_anthropic(
    model: str, messages: list[dict[str, str]], system: str | None, max_tokens: int, schema: dict[str, Any] | None
) -> tuple[str, str | None]:
    params: dict[str, Any] = {
        "model": model.removeprefix("anthropic/"),
        "max_tokens": THINKING["budget_tokens"] + max_tokens,
        "messages": messages,
        "thinking": dict(THINKING),
    }
    if system:
        params["system"] = system
    if schema is not None:
        params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    message = _client("anthropic").messages.create(**params)
    text = "".join(block.text for block in message.content if block.type == "text")  # pragma: no mutate
    thinking = (
        "".join(block.thinking for block in message.content if block.type == "thinking")  # pragma: no mutate
        or None
    )
    return text, thinking


def _call_openrouter(
    model: str, messages: list[dict[str, str]], system: str | None, max_tokens: int, schema: dict[str, Any] | None
) -> str:
    sent = ([{"role": "system", "content": system}] if system else []) + list(messages)
    params: dict[str, Any] = {"model": model.removeprefix("openrouter/"), "messages": sent, "max_tokens": max_tokens}
    if schema is not None:
        name = str(schema.get("title") or "response")  # pragma: no mutate
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": name, "schema": schema, "strict": True},  # pragma: no mutate
        }
    completion = _client("openrouter").chat.completions.create(**params)
    return completion.choices[0].message.content or ""  # pragma: no mutate


def _overloaded(exc: BaseException) -> bool:
    return getattr(exc, "status_code", None) == 529


def parse_structured(text: str, schema: dict[str, Any], model: str) -> dict[str, Any]:
    """The JSON object in ``text``, checked against ``schema``; else a StructuredResponseError."""
    import jsonschema

    try:
        data = json.loads(text)
    except ValueError:
        shown = text[:80]  # pragma: no mutate - how much of the answer the message quotes
        raise StructuredResponseError(f"the answer of {model} is not JSON: {shown!r}", text, model) from None
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        where = "/".join(map(str, errors[0].absolute_path)) or "(top)"  # pragma: no mutate
        first = errors[0].message  # pragma: no mutate - which of several errors the message names
        raise StructuredResponseError(f"the answer of {model} does not fit the schema at {where}: {first}", text, model)
    if not isinstance(data, dict):
        raise StructuredResponseError(f"the answer of {model} is not a JSON object", text, model)
    return data


def complete(
    model: str,
    messages: list[dict[str, str]],
    *,
    system: str | None = None,
    max_tokens: int = ANSWER_TOKENS,
    response_schema: dict[str, Any] | None = None,
    allowed: tuple[str, ...] | list[str] = ALLOWED_MODELS,
) -> LLMResult:
    """Ask ``model`` to continue ``messages`` (user/assistant, text contents).

    ``max_tokens`` bounds the answer; with thinking the request asks for the thinking budget on
    top. With ``response_schema`` the answer must be a JSON object satisfying it (``parsed``), or
    :class:`StructuredResponseError` is raised.
    """
    check_model(model, allowed)
    answered, thinking, fell_back = model, None, False
    if model.startswith("anthropic/"):
        try:
            text, thinking = _call_anthropic(model, messages, system, max_tokens, response_schema)
        except Exception as exc:
            if not (_overloaded(exc) and model == PRIMARY):
                raise
            print(f"{PRIMARY} is overloaded; falling back to {FALLBACK}", file=sys.stderr)
            answered, fell_back = FALLBACK, True
            text = _call_openrouter(FALLBACK, messages, system, max_tokens, response_schema)
    else:
        text = _call_openrouter(model, messages, system, max_tokens, response_schema)
    parsed = parse_structured(text, response_schema, answered) if response_schema is not None else None
    return LLMResult(
        text=text, model=answered, requested_model=model, fell_back=fell_back, thinking=thinking, parsed=parsed
    )
