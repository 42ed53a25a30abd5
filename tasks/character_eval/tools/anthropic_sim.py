"""A simulated Anthropic Messages API for the real ``anthropic`` SDK.

``get_client()`` returns a real ``anthropic.Anthropic`` client. With ``ANTHROPIC_API_KEY`` set it
talks to the live API; without it, the SDK is given an HTTP transport that never touches the
network and answers ``POST /v1/messages`` deterministically (see ``tools/simulation.py``), so the
SDK's own request building, error mapping and response parsing run offline:

- ``model`` must be an Anthropic model id (``claude-...``), else HTTP 404 ``not_found_error``;
- ``thinking={"type": "enabled", "budget_tokens": N}`` needs ``1024 <= N < max_tokens``; the answer
  then starts with a ``thinking`` block before its ``text`` block;
- ``output_config={"format": {"type": "json_schema", "schema": {...}}}`` asks for structured output:
  the text block holds JSON for that schema (a judge may get it wrong, see ``simulator.json``);
- calls named in ``simulator.json`` (``{"anthropic": {"overloaded_calls": [1, 3]}}``, counted from 1
  in this process, or ``{"anthropic": {"overloaded": true}}`` for all) are answered with HTTP 529
  ``overloaded_error``, which the SDK raises as ``anthropic.OverloadedError``.

The client is built with ``max_retries=0`` (the SDK would otherwise retry a 529 itself). Every
request served is appended to ``.simulated_anthropic_requests.jsonl`` in the current directory:
``{"call", "request" (normalized), "status", "malformed", "response"}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import simulation
from .simulation import SimulatedRequestError

REQUEST_LOG = ".simulated_anthropic_requests.jsonl"
SIMULATED_API_KEY = "simulated-anthropic-key"
_state: dict[str, Any] = {"calls": 0, "spent": set()}


def is_simulated() -> bool:
    """Whether ``get_client()`` returns the simulated client (no ``ANTHROPIC_API_KEY``)."""
    return not os.environ.get("ANTHROPIC_API_KEY")


def normalize_request(body: Any) -> dict[str, Any]:
    """The parameters of a Messages request that decide the answer.

    ``{"model", "max_tokens", "system", "messages", "thinking", "schema"}``: ``system`` as text or
    None, message contents as text, ``thinking`` as sent or None, ``schema`` the JSON Schema of
    ``output_config.format`` or None. Raises ``SimulatedRequestError`` for a request the API
    rejects.
    """
    if not isinstance(body, dict):
        raise SimulatedRequestError("request body must be a JSON object")
    if body.get("stream"):
        raise SimulatedRequestError("stream: streaming is not supported by the simulator")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimulatedRequestError("model: field required")
    if not model.startswith("claude-"):
        raise SimulatedRequestError(f"model: {model}", status=404, kind="not_found_error")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise SimulatedRequestError("max_tokens: must be an integer >= 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimulatedRequestError("messages: at least one message is required")
    normal = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise SimulatedRequestError(f"messages.{number}: needs a role 'user' or 'assistant'")
        normal.append({"role": message["role"], "content": simulation.text_of(message.get("content"), "messages")})
    if normal[0]["role"] != "user" or normal[-1]["role"] != "user":
        raise SimulatedRequestError("messages: the first and the last message must come from the user")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled", "adaptive"):
            raise SimulatedRequestError("thinking.type: must be 'enabled', 'disabled' or 'adaptive'")
        if thinking["type"] == "enabled":
            budget = thinking.get("budget_tokens")
            if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1024:
                raise SimulatedRequestError("thinking.budget_tokens: must be an integer >= 1024")
            if budget >= max_tokens:
                raise SimulatedRequestError("max_tokens: must be greater than thinking.budget_tokens")
        if body.get("temperature") not in (None, 1, 1.0):
            raise SimulatedRequestError("temperature: may only be set to 1 when thinking is enabled")
    schema = None
    output_config = body.get("output_config")
    if output_config is not None:
        if not isinstance(output_config, dict):
            raise SimulatedRequestError("output_config: must be an object")
        fmt = output_config.get("format")
        if fmt is not None:
            if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
                raise SimulatedRequestError("output_config.format: must be {'type': 'json_schema', 'schema': {...}}")
            schema = fmt["schema"]
    system = body.get("system")
    return {
        "model": model,
        "max_tokens": max_tokens,
        "system": (simulation.text_of(system, "system") or None) if system is not None else None,
        "messages": normal,
        "thinking": thinking,
        "schema": schema,
    }


def overloaded(call: int, settings: dict[str, Any]) -> bool:
    """Whether call number ``call`` (from 1) is answered with ``overloaded_error`` under ``settings``."""
    section = settings.get("anthropic")
    if not isinstance(section, dict):
        return False
    if section.get("overloaded") is True:
        return True
    calls = section.get("overloaded_calls", [])
    return isinstance(calls, list) and call in calls


def simulate(request: dict[str, Any], malformed: bool = False) -> dict[str, Any]:
    """The Messages response JSON for a normalized request (``malformed``: a judge answer that
    misses the requested schema)."""
    model, system, messages, schema = request["model"], request["system"], request["messages"], request["schema"]
    if schema is not None:
        if malformed:
            text = simulation.malformed_answer(schema, simulation.digest(model, messages))
        else:
            text = simulation.structured_answer(schema, model, system, messages)
    else:
        text = simulation.plain_answer(model, system, messages)
    key = simulation.digest(request)
    content: list[dict[str, Any]] = []
    thinking = request["thinking"]
    if thinking is not None and thinking.get("type") == "enabled":
        content.append(
            {
                "type": "thinking",
                "thinking": f"Considering the request ({len(messages)} messages) before answering.",
                "signature": f"sig_{key[:32]}",
            }
        )
    content.append({"type": "text", "text": text})
    input_tokens = sum(len(m["content"].split()) for m in messages) + len((system or "").split())
    return {
        "id": f"msg_sim_{key[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": len(text.split())},
    }


def _error(status: int, kind: str, message: str) -> Any:
    import httpx2

    return httpx2.Response(status, json={"type": "error", "error": {"type": kind, "message": message}})


def _handle(http_request: Any) -> Any:
    import httpx2

    if http_request.method != "POST" or http_request.url.path.rstrip("/") != "/v1/messages":
        return _error(
            404, "not_found_error", f"the simulator serves only POST /v1/messages, not {http_request.url.path}"
        )
    _state["calls"] += 1
    call = _state["calls"]
    try:
        request = normalize_request(json.loads(http_request.content or b"null"))
    except ValueError as exc:
        status, kind = getattr(exc, "status", 400), getattr(exc, "kind", "invalid_request_error")
        simulation.append_log(REQUEST_LOG, {"call": call, "request": None, "status": status, "error": str(exc)})
        return _error(status, kind, str(exc))
    settings = simulation.load_settings()
    if overloaded(call, settings):
        simulation.append_log(REQUEST_LOG, {"call": call, "request": request, "status": 529, "response": None})
        return _error(529, "overloaded_error", "Overloaded")
    schema = request["schema"]
    malformed = schema is not None and simulation.judge_malformed(
        request["messages"][-1]["content"], schema, settings, _state["spent"]
    )
    try:
        answer = simulate(request, malformed)
    except SimulatedRequestError as exc:
        simulation.append_log(REQUEST_LOG, {"call": call, "request": request, "status": 400, "error": str(exc)})
        return _error(400, "invalid_request_error", str(exc))
    simulation.append_log(
        REQUEST_LOG, {"call": call, "request": request, "status": 200, "malformed": malformed, "response": answer}
    )
    return httpx2.Response(200, json=answer)


def get_client(*, simulated: bool | None = None, **kwargs: Any) -> Any:
    """An ``anthropic.Anthropic`` client: live with ``ANTHROPIC_API_KEY``, simulated otherwise."""
    import anthropic

    if simulated is None:
        simulated = is_simulated()
    if not simulated:
        return anthropic.Anthropic(**kwargs)
    import httpx2

    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(
        api_key=SIMULATED_API_KEY, http_client=httpx2.Client(transport=httpx2.MockTransport(_handle)), **kwargs
    )
