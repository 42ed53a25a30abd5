"""A simulated OpenRouter (its OpenAI-compatible chat completions API) for the real ``openai`` SDK.

``get_client()`` returns a real ``openai.OpenAI`` client whose ``base_url`` is OpenRouter's
(``https://openrouter.ai/api/v1``). With ``OPENROUTER_API_KEY`` set it talks to the live service;
without it, the SDK is given an HTTP transport that never touches the network and answers
``POST /chat/completions`` deterministically (see ``tools/simulation.py``):

- ``model`` must be an OpenRouter model id, ``vendor/name`` (``qwen/qwen3-32b``,
  ``anthropic/claude-sonnet-4``), never with the pipeline's ``openrouter/`` prefix (HTTP 400);
- ``messages`` are ``system``, ``user`` and ``assistant`` messages with text content, the last from
  the user;
- ``response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}`` asks for
  structured output: the message content is JSON for that schema (a judge may get it wrong, see
  ``simulator.json``); ``{"type": "json_object"}`` gets a JSON object.

Every request served is appended to ``.simulated_openrouter_requests.jsonl`` in the current
directory: ``{"call", "request" (normalized), "status", "malformed", "response"}``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from . import simulation
from .simulation import SimulatedRequestError

BASE_URL = "https://openrouter.ai/api/v1"
REQUEST_LOG = ".simulated_openrouter_requests.jsonl"
SIMULATED_API_KEY = "simulated-openrouter-key"
CREATED = 1_767_225_600  # a fixed timestamp: answers must not depend on the clock
_MODEL = re.compile(r"[a-z0-9][a-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._:-]*")
_state: dict[str, Any] = {"calls": 0, "spent": set()}


def is_simulated() -> bool:
    """Whether ``get_client()`` returns the simulated client (no ``OPENROUTER_API_KEY``)."""
    return not os.environ.get("OPENROUTER_API_KEY")


def normalize_request(body: Any) -> dict[str, Any]:
    """``{"model", "system", "messages", "schema", "max_tokens"}`` of a chat completion request:
    the system messages joined as ``system`` (or None), the others with text contents, ``schema``
    the JSON Schema of ``response_format`` (``{}`` for ``json_object``) or None."""
    if not isinstance(body, dict):
        raise SimulatedRequestError("request body must be a JSON object")
    if body.get("stream"):
        raise SimulatedRequestError("stream: streaming is not supported by the simulator")
    model = body.get("model")
    if not isinstance(model, str) or not _MODEL.fullmatch(model) or model.startswith("openrouter/"):
        raise SimulatedRequestError(f"{model!r} is not a valid model ID")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimulatedRequestError("messages: at least one message is required")
    systems, normal = [], []
    for number, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("system", "user", "assistant"):
            raise SimulatedRequestError(f"messages.{number}.role: must be system, user or assistant")
        text = simulation.text_of(message.get("content"), f"messages.{number}")
        if role == "system":
            systems.append(text)
        else:
            normal.append({"role": role, "content": text})
    if not normal or normal[-1]["role"] != "user":
        raise SimulatedRequestError("messages: the last message must come from the user")
    schema = None
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise SimulatedRequestError("response_format.type: must be text, json_object or json_schema")
        if fmt["type"] == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
                raise SimulatedRequestError("response_format.json_schema.schema: required")
            schema = spec["schema"]
        elif fmt["type"] == "json_object":
            schema = {}
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens"))
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise SimulatedRequestError("max_tokens: must be an integer >= 1")
    return {
        "model": model,
        "system": "\n\n".join(systems) or None,
        "messages": normal,
        "schema": schema,
        "max_tokens": max_tokens,
    }


def simulate(request: dict[str, Any], malformed: bool = False) -> dict[str, Any]:
    """The chat completion JSON for a normalized request (``malformed``: a judge answer that
    misses the requested schema)."""
    model, system, messages, schema = request["model"], request["system"], request["messages"], request["schema"]
    if schema is not None:
        if malformed:
            text = simulation.malformed_answer(schema, simulation.digest(model, messages))
        elif schema == {}:
            text = json.dumps({"answer": simulation.plain_answer(model, system, messages)})
        else:
            text = simulation.structured_answer(schema, model, system, messages)
    else:
        text = simulation.plain_answer(model, system, messages)
    key = simulation.digest(request)
    prompt_tokens = sum(len(m["content"].split()) for m in messages) + len((system or "").split())
    return {
        "id": f"gen-sim-{key[:24]}",
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "provider": "Simulated",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop", "logprobs": None}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(text.split()),
            "total_tokens": prompt_tokens + len(text.split()),
        },
    }


def _handle(http_request: Any) -> Any:
    import httpx2

    path = http_request.url.path.rstrip("/")
    if http_request.method != "POST" or path != "/api/v1/chat/completions":
        message = f"the simulator serves only POST /api/v1/chat/completions, not {http_request.method} {path}"
        return httpx2.Response(404, json={"error": {"code": 404, "message": message}})
    _state["calls"] += 1
    call = _state["calls"]
    try:
        request = normalize_request(json.loads(http_request.content or b"null"))
    except ValueError as exc:
        simulation.append_log(REQUEST_LOG, {"call": call, "request": None, "status": 400, "error": str(exc)})
        return httpx2.Response(400, json={"error": {"code": 400, "message": str(exc)}})
    settings = simulation.load_settings()
    schema = request["schema"]
    malformed = schema is not None and simulation.judge_malformed(
        request["messages"][-1]["content"], schema, settings, _state["spent"]
    )
    try:
        answer = simulate(request, malformed)
    except SimulatedRequestError as exc:
        simulation.append_log(REQUEST_LOG, {"call": call, "request": request, "status": 400, "error": str(exc)})
        return httpx2.Response(400, json={"error": {"code": 400, "message": str(exc)}})
    simulation.append_log(
        REQUEST_LOG, {"call": call, "request": request, "status": 200, "malformed": malformed, "response": answer}
    )
    return httpx2.Response(200, json=answer)


def get_client(*, simulated: bool | None = None, **kwargs: Any) -> Any:
    """An ``openai.OpenAI`` client for OpenRouter: live with ``OPENROUTER_API_KEY``, simulated otherwise."""
    import openai

    if simulated is None:
        simulated = is_simulated()
    kwargs.setdefault("base_url", BASE_URL)
    if not simulated:
        return openai.OpenAI(api_key=os.environ["OPENROUTER_API_KEY"], **kwargs)
    import httpx2

    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(
        api_key=SIMULATED_API_KEY, http_client=httpx2.Client(transport=httpx2.MockTransport(_handle)), **kwargs
    )
