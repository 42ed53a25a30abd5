"""An OpenAI-compatible chat-completions client for the metric_card environment.

``get_client()`` returns a real ``openai.OpenAI`` client. With ``OPENAI_API_KEY`` set it talks to
the live API (or to ``OPENAI_BASE_URL``, any OpenAI-compatible server). Without it, the same SDK is
given an HTTP transport that never touches the network and answers ``POST /v1/chat/completions``
deterministically, so the SDK's own request building and response parsing run offline and every
answer depends only on the request.

The simulated model reads the evaluation context from the last user message, where it must appear
as one JSON object between a line ``<context>`` and a line ``</context>`` (see
``tools/contexts.py`` for its fields). Without a readable context it answers in prose, with no
JSON. With one, each of the request's ``n`` choices is an attempt at a Metric Card of one of the
``QUALITIES`` a real model produces, picked by a hash of the model, ``seed``, ``temperature``, the
messages and the choice's index:

- ``valid``: the card as bare JSON; ``fenced``: inside a fenced code block between prose;
  ``prose``: after (and before) a sentence of prose;
- ``truncated``: cut off part way (``finish_reason: "length"``);
- ``trailing_comma``: a comma before every closing bracket; ``single_quotes``: ``'`` for ``"``;
- ``wrong_types``: numbers written as strings; ``missing_fields``: required fields left out;
  ``extra_fields``: fields the schema does not allow; ``flattened``: the metric's attributes at
  the top level instead of under ``metric``;
- ``wrong_metric``: a metric that does not match the context; ``wrong_unit``: a unit that does
  not fit the metric; ``contradicting_trend``: a trend direction that contradicts the values;
- ``inconsistent``: thresholds out of order and a sparkline that does not end at the value.

``sample_output(context, quality, variant)`` gives such an output directly. ``max_tokens`` (or
``max_completion_tokens``) cuts an answer as the API would, with ``finish_reason: "length"``. A
token is four characters of text: ``count_tokens(text)`` is ``ceil(len(text) / 4)``; a request's
``prompt_tokens`` is the sum over its messages' contents (counted once whatever ``n`` is).

The response ``id`` is a hash of the normalized request, and every request served is appended to
``.simulated_openai_requests.jsonl`` in the current directory as ``{"request": ..., "response_id":
..., "usage": {"prompt_tokens", "completion_tokens", "total_tokens"}, "finish_reasons": [...]}``.

Use it as ``client = get_client()`` then ``client.chat.completions.create(model=...,
messages=[...], n=..., seed=..., temperature=..., max_tokens=...)``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import random
from typing import Any

from .card_schema import METRICS, convert, units_for
from .contexts import ContextError, check_context

REQUEST_LOG = ".simulated_openai_requests.jsonl"
SIMULATED_API_KEY = "simulated-key"
CREATED = 1735689600
CONTEXT_OPEN = "<context>"
CONTEXT_CLOSE = "</context>"
QUALITIES = (
    "valid",
    "fenced",
    "prose",
    "truncated",
    "trailing_comma",
    "single_quotes",
    "wrong_types",
    "missing_fields",
    "extra_fields",
    "flattened",
    "wrong_metric",
    "wrong_unit",
    "contradicting_trend",
    "inconsistent",
)
# How often each quality comes out of the simulated model (it is right more often than not).
_WEIGHTS = {"valid": 4, "fenced": 2, "prose": 2}
_ROLES = ("system", "developer", "user", "assistant")
NO_CONTEXT_REPLY = (
    "I can build the metric card once you give me the evaluation context: the model, the benchmark, "
    "the metric with its value and unit, the previous value and the period."
)
_COLORS = {
    "critical": "#b91c1c",
    "poor": "#dc2626",
    "fair": "#f59e0b",
    "good": "#16a34a",
    "excellent": "#2563eb",
}


class SimulatedRequestError(ValueError):
    """A request the simulated API rejects (answered with HTTP 400)."""


def is_simulated() -> bool:
    """Whether ``get_client()`` returns the simulated client (no ``OPENAI_API_KEY``)."""
    return not os.environ.get("OPENAI_API_KEY")


def count_tokens(text: str) -> int:
    """The simulator's token count of ``text``: one token per four characters, rounded up."""
    return math.ceil(len(text) / 4)


# -- requests -----------------------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise SimulatedRequestError("messages: only text content parts are supported by the simulator")
            parts.append(part["text"])
        return "".join(parts)
    raise SimulatedRequestError("messages: content must be a string or a list of text parts")


def _optional_int(body: dict[str, Any], key: str, low: int, high: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise SimulatedRequestError(f"{key}: must be an integer {bound}")
    return value


def normalize_request(body: Any) -> dict[str, Any]:
    """The parameters of a chat-completions request body that decide the simulated answer.

    Returns ``{"model", "messages", "n", "seed", "temperature", "max_tokens"}``: ``n`` 1 when not
    sent, ``seed``, ``temperature`` and ``max_tokens`` None when not sent (``max_tokens`` is
    ``max_completion_tokens`` when that is sent instead), each message's content as plain text.
    Raises ``SimulatedRequestError`` on a request the API would reject.
    """
    if not isinstance(body, dict):
        raise SimulatedRequestError("request body must be a JSON object")
    if body.get("stream"):
        raise SimulatedRequestError("stream: streaming is not supported by the simulator")
    if body.get("tools") or body.get("functions"):
        raise SimulatedRequestError("tools: tool calls are not supported by the simulator")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimulatedRequestError("model: field required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimulatedRequestError("messages: at least one message is required")
    normal = []
    for number, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise SimulatedRequestError(f"messages[{number}]: role must be one of {', '.join(_ROLES)}")
        normal.append({"role": message["role"], "content": _text_of(message.get("content"))})
    if normal[-1]["role"] != "user":
        raise SimulatedRequestError("messages: the last message must come from the user")
    n = _optional_int(body, "n", 1, 16)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise SimulatedRequestError("seed: must be an integer")
    temperature = body.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
            raise SimulatedRequestError("temperature: must be a number between 0 and 2")
        temperature = float(temperature)
    max_tokens = _optional_int(body, "max_tokens", 1)
    max_completion = _optional_int(body, "max_completion_tokens", 1)
    if max_tokens is not None and max_completion is not None:
        raise SimulatedRequestError("max_tokens: send max_tokens or max_completion_tokens, not both")
    return {
        "model": model,
        "messages": normal,
        "n": 1 if n is None else n,
        "seed": seed,
        "temperature": temperature,
        "max_tokens": max_tokens if max_tokens is not None else max_completion,
    }


def response_id(request: dict[str, Any]) -> str:
    """The id of the simulated answer to a normalized request."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"chatcmpl-sim-{digest[:24]}"


def parse_context_block(text: str) -> dict[str, Any] | None:
    """The context a prompt carries between ``<context>`` and ``</context>``, or None when it
    carries none or one that is not a valid context."""
    start = text.find(CONTEXT_OPEN)
    if start < 0:
        return None
    end = text.find(CONTEXT_CLOSE, start)
    if end < 0:
        return None
    try:
        context = json.loads(text[start + len(CONTEXT_OPEN) : end])
        return check_context(context)
    except (ValueError, ContextError):
        return None


# -- cards ---------------------------------------------------------------------------------------


def _decimals_of(value: float) -> int:
    for decimals in range(5):
        if abs(round(value, decimals) - value) <= 1e-9:
            return decimals
    return 4


def _direction(context: dict[str, Any]) -> str:
    if context["value"] > context["previous"]:
        return "up"
    return "down" if context["value"] < context["previous"] else "flat"


def good_card(context: dict[str, Any], variant: int = 0) -> dict[str, Any]:
    """A correct card for ``context``; ``variant`` picks among equally correct layouts."""
    rng = random.Random(f"card|{context['id']}|{variant}")
    units = units_for(context["metric"])
    unit = rng.choice(units) if rng.random() < 0.4 else context["unit"]

    def here(x: float) -> float:
        converted = convert(x, context["unit"], unit)
        assert converted is not None
        return converted

    raw = [here(context["value"]), here(context["previous"])]
    if context.get("baseline"):
        raw.append(here(context["baseline"]["value"]))
    decimals = max(_decimals_of(x) for x in raw)
    value = round(raw[0], decimals)
    entry = METRICS[context["metric"]]
    metric: dict[str, Any] = {"name": context["metric"], "value": value, "unit": unit, "format": {"decimals": decimals}}
    if unit == "percent":
        metric["format"]["suffix"] = "%"
    elif unit == "usd":
        metric["format"]["prefix"] = "$"
    elif unit in ("ms", "s", "tokens_per_s") and rng.random() < 0.5:
        metric["format"]["suffix"] = {"ms": " ms", "s": " s", "tokens_per_s": " tok/s"}[unit]
    card: dict[str, Any] = {
        "component": "MetricCard",
        "title": f"{entry['label']} on {context['benchmark']}",
        "model": context["model"],
        "benchmark": context["benchmark"],
        "metric": metric,
        "trend": {
            "direction": _direction(context),
            "change": round(raw[0] - raw[1], decimals),
            "period": context["period"],
        },
    }
    if rng.random() < 0.7:
        card["description"] = (
            f"{entry['label']} of {context['model']} on {context['benchmark']}, "
            f"compared with one {context['period']} ago."
        )
    if context.get("baseline"):
        card["comparison"] = {"label": f"vs {context['baseline']['label']}", "value": round(raw[2], decimals)}
    if not context.get("baseline") or rng.random() < 0.3:
        scale = 10**decimals
        step = max(1, math.ceil(max(abs(raw[0]), abs(raw[1]), 1.0) / 4 * scale))
        labels = ["poor", "fair", "good", "excellent"]
        if not entry["higher_is_better"]:
            labels.reverse()
        card["thresholds"] = [
            {"label": label, "min": round(i * step / scale, decimals), "color": _COLORS[label]}
            for i, label in enumerate(labels)
        ]
    if rng.random() < 0.6:
        points = [round(raw[1], decimals)]
        for _ in range(rng.randint(1, 5)):
            points.insert(0, round(points[0] * (1 + rng.uniform(-0.05, 0.05)), decimals))
        card["sparkline"] = {"points": [*points, value]}
        if rng.random() < 0.5:
            card["sparkline"]["color"] = rng.choice(list(_COLORS.values()))
    card["layout"] = {"size": rng.choice(["small", "medium", "large"]), "theme": rng.choice(["light", "dark"])}
    if rng.random() < 0.4:
        card["layout"]["accent"] = rng.choice(list(_COLORS.values()))
    if rng.random() < 0.4:
        card["tags"] = [context["benchmark"], context["metric"]]
    if rng.random() < 0.3:
        card["lastUpdated"] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return card


def _with_trailing_commas(value: Any, indent: str = "") -> str:
    inner = indent + "  "
    if isinstance(value, dict) and value:
        items = [f"{inner}{json.dumps(k)}: {_with_trailing_commas(v, inner)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{indent}}}"
    if isinstance(value, list) and value:
        return "[" + " ".join(f"{_with_trailing_commas(v, inner)}," for v in value) + "]"
    return json.dumps(value)


def _mutated(card: dict[str, Any], context: dict[str, Any], quality: str, rng: random.Random) -> dict[str, Any]:
    card = copy.deepcopy(card)
    metric = card["metric"]
    if quality == "wrong_types":
        metric["value"] = str(metric["value"])
        metric["format"]["decimals"] = str(metric["format"]["decimals"])
    elif quality == "missing_fields":
        for key in rng.sample(["trend", "layout", "benchmark"], 2):
            del card[key]
        del metric["format"]
    elif quality == "extra_fields":
        card["confidence"] = round(rng.uniform(0.5, 0.99), 2)
        card["metric_value"] = metric["value"]
        metric["color"] = rng.choice(list(_COLORS.values()))
    elif quality == "flattened":
        flat = card.pop("metric")
        card.update({"name": flat["name"], "value": flat["value"], "unit": flat["unit"]})
        card["decimals"] = flat["format"]["decimals"]
    elif quality == "wrong_metric":
        others = [m for m in METRICS if m != context["metric"] and metric["unit"] in units_for(m)]
        others = others or [m for m in METRICS if m != context["metric"]]
        metric["name"] = rng.choice(sorted(others))
    elif quality == "wrong_unit":
        metric["unit"] = rng.choice(
            sorted({u for m in METRICS for u in units_for(m)} - set(units_for(context["metric"])))
        )
        metric["format"].pop("suffix", None)
        metric["format"].pop("prefix", None)
    elif quality == "contradicting_trend":
        card["trend"]["direction"] = {"up": "down", "down": "up", "flat": rng.choice(["up", "down"])}[
            card["trend"]["direction"]
        ]
    elif quality == "inconsistent":
        if "thresholds" in card:
            card["thresholds"].reverse()
        value = metric["value"]
        step = 10.0 ** -metric["format"]["decimals"]
        points = card.get("sparkline", {}).get("points", [value, value])[:-1]
        card["sparkline"] = {"points": [*points, round(value + step * rng.randint(2, 9), metric["format"]["decimals"])]}
    return card


_PROSE_BEFORE = (
    "Here is the metric card configuration for this evaluation:",
    "Sure! Based on the context, this card shows the requested metric:",
    "Below is a MetricCard component config that follows the schema.",
)
_PROSE_AFTER = (
    "Let me know if you want a different layout or theme.",
    "The trend compares the current value with the previous period.",
    "",
)


def sample_output(context: dict[str, Any], quality: str, variant: int = 0) -> str:
    """A raw model output of ``quality`` (one of ``QUALITIES``) for ``context``."""
    if quality not in QUALITIES:
        raise ValueError(f"unknown quality {quality!r}; expected one of {', '.join(QUALITIES)}")
    check_context(context)
    rng = random.Random(f"output|{context['id']}|{quality}|{variant}")
    card = good_card(context, variant)
    before, after = rng.choice(_PROSE_BEFORE), rng.choice(_PROSE_AFTER)
    indent = rng.choice([None, 2, 4])
    if quality == "fenced":
        block = json.dumps(card, indent=2, ensure_ascii=False)
        return f"{before}\n\n```{rng.choice(['json', ''])}\n{block}\n```\n\n{after}".rstrip()
    if quality == "prose":
        return f"{before} {json.dumps(card, ensure_ascii=False)}\n{after}".rstrip()
    if quality == "truncated":
        text = json.dumps(card, indent=indent, ensure_ascii=False)
        return text[: int(len(text) * rng.uniform(0.35, 0.85))]
    if quality == "trailing_comma":
        return _with_trailing_commas(card)
    if quality == "single_quotes":
        return json.dumps(card, ensure_ascii=False).replace('"', "'")
    return json.dumps(_mutated(card, context, quality, rng), indent=indent, ensure_ascii=False)


# -- answers -------------------------------------------------------------------------------------


def _unit(*parts: Any) -> float:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return int(digest[:12], 16) / 16**12


def choice_quality(request: dict[str, Any], index: int) -> str | None:
    """The quality of choice ``index`` of a normalized request, None when it carries no context."""
    if parse_context_block(request["messages"][-1]["content"]) is None:
        return None
    weights = [_WEIGHTS.get(q, 1) for q in QUALITIES]
    key = json.dumps([request["model"], request["seed"], request["temperature"], request["messages"], index])
    point = _unit("quality", key) * sum(weights)
    for quality, weight in zip(QUALITIES, weights, strict=True):
        point -= weight
        if point < 0:
            return quality
    return QUALITIES[-1]


def _choice(request: dict[str, Any], index: int) -> tuple[str, str]:
    context = parse_context_block(request["messages"][-1]["content"])
    quality = choice_quality(request, index)
    if context is None or quality is None:
        text = NO_CONTEXT_REPLY
    else:
        key = json.dumps([request["model"], request["seed"], request["temperature"], request["messages"], index])
        text = sample_output(context, quality, int(_unit("variant", key) * 1_000_000))
    finish = "length" if quality == "truncated" else "stop"
    limit = request["max_tokens"]
    if limit is not None and count_tokens(text) > limit:
        text, finish = text[: 4 * limit], "length"
    return text, finish


def simulate(body: Any) -> dict[str, Any]:
    """The chat-completions response JSON the simulator gives for a request body.

    Raises ``SimulatedRequestError`` for a request the API would reject.
    """
    request = normalize_request(body)
    choices = []
    completion_tokens = 0
    for index in range(request["n"]):
        text, finish = _choice(request, index)
        completion_tokens += count_tokens(text)
        choices.append(
            {
                "index": index,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": finish,
                "logprobs": None,
            }
        )
    prompt_tokens = sum(count_tokens(m["content"]) for m in request["messages"])
    return {
        "id": response_id(request),
        "object": "chat.completion",
        "created": CREATED,
        "model": request["model"],
        "system_fingerprint": "fp_simulated",
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _log_request(request: dict[str, Any], answer: dict[str, Any]) -> None:
    entry = {
        "request": request,
        "response_id": answer["id"],
        "usage": answer["usage"],
        "finish_reasons": [c["finish_reason"] for c in answer["choices"]],
    }
    try:
        with open(REQUEST_LOG, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError:
        pass  # the log is a convenience; an unwritable directory must not break the call


def _handle(http_request: Any) -> Any:
    import httpx2

    if http_request.method != "POST" or not http_request.url.path.rstrip("/").endswith("/chat/completions"):
        error = {
            "type": "invalid_request_error",
            "message": f"the simulator serves only POST /v1/chat/completions, "
            f"not {http_request.method} {http_request.url.path}",
        }
        return httpx2.Response(404, json={"error": error})
    try:
        body = json.loads(http_request.content or b"null")
        answer = simulate(body)
    except (ValueError, SimulatedRequestError) as exc:
        error = {"type": "invalid_request_error", "message": str(exc), "param": None, "code": None}
        return httpx2.Response(400, json={"error": error})
    _log_request(normalize_request(body), answer)
    return httpx2.Response(200, json=answer)


def get_client(*, simulated: bool | None = None, **kwargs: Any) -> Any:
    """An ``openai.OpenAI`` client: live with ``OPENAI_API_KEY``, simulated otherwise.

    ``simulated=True`` forces the simulated transport; other keyword arguments go to
    ``openai.OpenAI``.
    """
    import openai

    if simulated is None:
        simulated = is_simulated()
    if not simulated:
        return openai.OpenAI(**kwargs)
    import httpx2

    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(
        api_key=SIMULATED_API_KEY,
        base_url="https://simulated.openai.invalid/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handle)),
        **kwargs,
    )
