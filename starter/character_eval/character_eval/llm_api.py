"""One way to call the pipeline's models: routing, fallback, thinking and structured responses.

Model names carry their provider: ``anthropic/<id>`` goes to the Anthropic Messages API (always
with extended thinking, ``budget_tokens`` 10000), ``openrouter/<id>`` to OpenRouter's
OpenAI-compatible chat completions (``tools.anthropic_sim.get_client()``,
``tools.openrouter_sim.get_client()``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

PRIMARY = "anthropic/claude-sonnet-4-20250514"
FALLBACK = "openrouter/anthropic/claude-sonnet-4"
USER_MODEL = "openrouter/qwen/qwen3-32b"
ALLOWED_MODELS = (USER_MODEL, PRIMARY, FALLBACK)
THINKING = {"type": "enabled", "budget_tokens": 10000}
ANSWER_TOKENS = 4096


class ModelNotAllowedError(ValueError):
    """A model the pipeline may not use (for this step)."""


class StructuredResponseError(ValueError):
    """A structured answer that is not JSON or does not satisfy the requested schema."""


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
    # TODO: refuse models outside `allowed`
    return model


def complete(
    model: str,
    messages: list[dict[str, str]],
    *,
    system: str | None = None,
    max_tokens: int = ANSWER_TOKENS,
    response_schema: dict[str, Any] | None = None,
) -> LLMResult:
    """Ask ``model`` to continue ``messages``; see the task statement."""
    # TODO: route to Anthropic (thinking on) or OpenRouter, fall back on overloaded_error,
    # request and validate structured output
    raise NotImplementedError("complete")
