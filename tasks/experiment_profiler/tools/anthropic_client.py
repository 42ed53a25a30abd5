"""The Anthropic client of the experiment profiler.

``get_client()`` returns a real ``anthropic.Anthropic`` client. With ``ANTHROPIC_API_KEY`` set it
talks to the live API. Without it, the same SDK is given an HTTP transport that never touches the
network and answers the Messages API deterministically, so the SDK's own request building and
response parsing run offline and every answer depends only on the request:

- a prompt found in ``data/mock_responses.json`` gets its recorded answer;
- a prompt containing one of its ``refusal_triggers`` is refused (``stop_reason: "refusal"``);
- any other prompt gets a synthetic answer that repeats some of the prompt's words, chosen by a hash
  of the model and the word (higher ``output_config.effort`` keeps more words);
- ``stop_sequences`` and ``max_tokens`` (one token = one whitespace-separated word) cut the answer
  as the API would, with ``stop_reason`` ``"stop_sequence"`` or ``"max_tokens"``.

The response ``id`` is a hash of the request's parameters, and every request served is appended to
``.simulated_anthropic_requests.jsonl`` in the current directory.

Use it as ``client = get_client()`` then ``client.messages.create(model=..., max_tokens=...,
messages=[...], system=..., stop_sequences=[...], output_config={"effort": ...})``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
MOCK_RESPONSES = DATA_DIR / "mock_responses.json"
REQUEST_LOG = ".simulated_anthropic_requests.jsonl"
SIMULATED_API_KEY = "simulated-key"
EFFORTS = ("low", "medium", "high", "xhigh", "max")
_KEEP_SHARE = {"low": 0.5, None: 0.75, "medium": 0.75, "high": 1.0, "xhigh": 1.0, "max": 1.0}
_WORD = re.compile(r"[A-Za-z0-9]+(?:['-][A-Za-z0-9]+)*")


class SimulatedRequestError(ValueError):
    """A request the simulated API rejects (answered with HTTP 400)."""


def is_simulated() -> bool:
    """Whether ``get_client()`` returns the simulated client (no ``ANTHROPIC_API_KEY``)."""
    return not os.environ.get("ANTHROPIC_API_KEY")


@lru_cache(maxsize=1)
def load_mock_responses() -> dict[str, Any]:
    """The recorded answers and refusal triggers of ``data/mock_responses.json``."""
    data: dict[str, Any] = json.loads(MOCK_RESPONSES.read_text(encoding="utf-8"))
    return data


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise SimulatedRequestError("only text content blocks are supported by the simulator")
            parts.append(block["text"])
        return "".join(parts)
    raise SimulatedRequestError("message content must be a string or a list of text blocks")


def normalize_request(body: Any) -> dict[str, Any]:
    """The parameters of a Messages API request body that decide the simulated answer.

    Returns ``{"model", "max_tokens", "effort", "stop_sequences", "system", "messages"}`` with
    ``effort`` None and ``stop_sequences`` [] when not sent, ``system`` None when not sent or
    empty, and each message's content as plain text. Raises ``SimulatedRequestError`` on a request
    the API would reject.
    """
    if not isinstance(body, dict):
        raise SimulatedRequestError("request body must be a JSON object")
    if body.get("stream"):
        raise SimulatedRequestError("stream: streaming is not supported by the simulator")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimulatedRequestError("model: field required")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise SimulatedRequestError("max_tokens: must be an integer >= 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimulatedRequestError("messages: at least one message is required")
    normal_messages = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise SimulatedRequestError("messages: each message needs a role 'user' or 'assistant'")
        normal_messages.append({"role": message["role"], "content": _text_of(message.get("content"))})
    if normal_messages[-1]["role"] != "user":
        raise SimulatedRequestError("messages: the last message must come from the user")
    output_config = body.get("output_config") or {}
    if not isinstance(output_config, dict):
        raise SimulatedRequestError("output_config: must be an object")
    effort = output_config.get("effort")
    if effort is not None and effort not in EFFORTS:
        raise SimulatedRequestError(f"output_config.effort: must be one of {', '.join(EFFORTS)}")
    stop_sequences = body.get("stop_sequences") or []
    if not isinstance(stop_sequences, list) or not all(isinstance(s, str) and s for s in stop_sequences):
        raise SimulatedRequestError("stop_sequences: must be a list of non-empty strings")
    system = body.get("system")
    system_text = _text_of(system) if system is not None else None
    return {
        "model": model,
        "max_tokens": max_tokens,
        "effort": effort,
        "stop_sequences": list(stop_sequences),
        "system": system_text or None,
        "messages": normal_messages,
    }


def response_id(request: dict[str, Any]) -> str:
    """The id of the simulated answer to a normalized request."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"msg_sim_{digest[:24]}"


def _unit(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return int(digest[:8], 16) / 2**32


def _answer(prompt: str, model: str, effort: str | None) -> tuple[str, str]:
    mocks = load_mock_responses()
    for item in mocks["responses"]:
        if item["prompt"] == prompt:
            return item["text"], item.get("stop_reason", "end_turn")
    words = _WORD.findall(prompt)
    lowered = {w.lower() for w in words}
    if lowered & set(mocks["refusal_triggers"]):
        return mocks["refusal_text"], "refusal"
    keep, seen = [], set()
    for word in words:
        key = word.lower()
        if len(word) < 3 or key in seen:
            continue
        seen.add(key)
        if _unit(model, key) < _KEEP_SHARE[effort]:
            keep.append(word)
    body = " ".join(keep) if keep else "no details"
    return f"{mocks['fallback_prefix']} {body}.", "end_turn"


def simulate(body: Any) -> dict[str, Any]:
    """The Messages API response JSON the simulator gives for a request body.

    Raises ``SimulatedRequestError`` for a request the API would reject.
    """
    request = normalize_request(body)
    prompt = request["messages"][-1]["content"]
    text, stop_reason = _answer(prompt, request["model"], request["effort"])
    stop_sequence = None
    if stop_reason != "refusal":
        cuts = [(text.find(s), s) for s in request["stop_sequences"] if s in text]
        if cuts:
            position, stop_sequence = min(cuts)
            text, stop_reason = text[:position], "stop_sequence"
        tokens = text.split()
        if len(tokens) > request["max_tokens"]:
            text, stop_reason, stop_sequence = " ".join(tokens[: request["max_tokens"]]), "max_tokens", None
    input_tokens = sum(len(m["content"].split()) for m in request["messages"])
    input_tokens += len((request["system"] or "").split())
    return {
        "id": response_id(request),
        "type": "message",
        "role": "assistant",
        "model": request["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": input_tokens, "output_tokens": len(text.split())},
    }


def _log_request(request: dict[str, Any], answer_id: str) -> None:
    try:
        with open(REQUEST_LOG, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"request": request, "response_id": answer_id}, ensure_ascii=False) + "\n")
    except OSError:
        pass  # the log is a convenience; an unwritable directory must not break the call


# A served request takes at least this long, as a real one does: a latency the client measures
# is then at least this many milliseconds, and one logged in seconds (a thousandth of that) shows.
# A grading serves several hundred requests, and its time asleep here is time its core idles.
SIMULATED_LATENCY_S = 0.0002


def _handle(http_request: Any) -> Any:
    import time

    import httpx2

    time.sleep(SIMULATED_LATENCY_S)

    if http_request.method != "POST" or http_request.url.path.rstrip("/") != "/v1/messages":
        error = {
            "type": "not_found_error",
            "message": f"the simulator serves only POST /v1/messages, "
            f"not {http_request.method} {http_request.url.path}",
        }
        return httpx2.Response(404, json={"type": "error", "error": error})
    try:
        body = json.loads(http_request.content or b"null")
        answer = simulate(body)
    except (ValueError, SimulatedRequestError) as exc:
        error = {"type": "invalid_request_error", "message": str(exc)}
        return httpx2.Response(400, json={"type": "error", "error": error})
    _log_request(normalize_request(body), answer["id"])
    return httpx2.Response(200, json=answer)


def get_client(*, simulated: bool | None = None, **kwargs: Any) -> Any:
    """An ``anthropic.Anthropic`` client: live with ``ANTHROPIC_API_KEY``, simulated otherwise.

    ``simulated=True`` forces the simulated transport; other keyword arguments go to
    ``anthropic.Anthropic``.
    """
    import anthropic

    if simulated is None:
        simulated = is_simulated()
    if not simulated:
        return anthropic.Anthropic(**kwargs)
    import httpx2

    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(
        api_key=SIMULATED_API_KEY,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handle)),
        **kwargs,
    )
