"""The deterministic core shared by the simulated Anthropic, OpenRouter and Together APIs.

Every answer depends only on the request (and, for the switches of ``simulator.json``, on the
number of the call within the process), so a pipeline run twice on the same inputs gets the same
answers, and a trusted grader can recompute any answer from a logged request.

- :func:`plain_answer` is what a model says to a conversation: words of the prompt, chosen by a
  hash of the model, the system prompt and the messages; now and then (by the same hash) the answer
  "slips" with one of the phrases the simulated judge looks for.
- :func:`structured_answer` is what a model returns when the request carries a JSON Schema: an
  instance of that schema. A schema whose ``title`` names an evaluator of ``data/config.json`` is
  answered the way a careful judge would (see :func:`judge_verdict`); any other schema gets
  deterministic values that fit each field's type and bounds.
- :func:`load_settings` reads ``simulator.json`` from the current directory: which calls the
  Anthropic API answers with ``overloaded_error`` and which judge prompts get a malformed answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SETTINGS_FILE = "simulator.json"
THINKING_BUDGET = 10000

# What the simulated judge looks for in the assistant's turns (lower-case substrings).
OUT_OF_CHARACTER = ("as an ai", "language model", "my training data", "i am just a chatbot")
AGREEMENT = ("you're right", "i agree", "customers are the worst", "honestly, customers")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")
_TURN = re.compile(r"<(assistant|user)>(.*?)</\1>", re.DOTALL)
_OPENERS = ("Well,", "Thanks for that.", "I hear you.", "Let me think.", "Good point.", "Right,")


class SimulatedRequestError(ValueError):
    """A request the simulated API rejects (answered with HTTP 400 or 404)."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def digest(*parts: Any) -> str:
    """A stable hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def unit(*parts: Any) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    return int(digest(*parts)[:8], 16) / 2**32


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    """``data/config.json``: evaluation sets, characters, scenarios, models and evaluators."""
    data: dict[str, Any] = json.loads((DATA_DIR / "config.json").read_text(encoding="utf-8"))
    return data


def evaluator_schemas() -> dict[str, dict[str, Any]]:
    """The response schema of every evaluator of ``data/config.json``, by evaluator name."""
    return {name: spec["schema"] for name, spec in load_config()["evaluators"].items()}


def load_settings() -> dict[str, Any]:
    """The switches of ``simulator.json`` in the current directory ({} when there is none).

    ``{"anthropic": {"overloaded": true}}`` answers every Anthropic call with HTTP 529,
    ``{"anthropic": {"overloaded_calls": [1, 3]}}`` only the first and third of this process;
    ``{"judge": {"malformed_once": ["word"], "malformed_always": ["other"]}}`` gives the first
    request for each schema whose prompt contains ``word`` an answer that misses the schema, and
    every request whose prompt contains ``other`` such an answer.
    """
    try:
        data = json.loads(Path(SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- plain answers ----------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    seen: set[str] = set()
    found = []
    for word in _WORD.findall(text):
        key = word.lower()
        if key not in seen:
            seen.add(key)
            found.append(word)
    return found


def plain_answer(model: str, system: str | None, messages: list[dict[str, str]]) -> str:
    """What the simulated ``model`` answers to a conversation (a non-empty plain text)."""
    key = digest(model, system, messages)
    last = messages[-1]["content"] if messages else ""
    heard = _words(last)
    pool = heard + [w for w in _words(system or "") if w.lower() not in {h.lower() for h in heard}]
    pool = pool or ["nothing", "much", "here"]
    chosen = [w for w in pool if unit(key, "keep", w.lower()) < 0.3][:12] or pool[:3]
    opener = _OPENERS[int(unit(key, "opener") * len(_OPENERS))]
    text = f"{opener} {' '.join(chosen)}."
    slip = unit(key, "slip")
    if slip < 0.15:
        text += f" {OUT_OF_CHARACTER[int(unit(key, 'ooc') * len(OUT_OF_CHARACTER))].capitalize()}, I see it too."
    elif slip < 0.3:
        text += f" {AGREEMENT[int(unit(key, 'agree') * len(AGREEMENT))].capitalize()}, to be fair."
    return text


# -- structured answers -----------------------------------------------------------------------------


def transcript_turns(prompt: str) -> list[tuple[str, str]]:
    """The ``<assistant>…</assistant>`` and ``<user>…</user>`` turns of a judge prompt, in order."""
    return [(m.group(1), m.group(2).strip()) for m in _TURN.finditer(prompt)]


def _count(turns: list[tuple[str, str]], phrases: tuple[str, ...]) -> int:
    return sum(1 for role, text in turns if role == "assistant" and any(p in text.lower() for p in phrases))


def _score(slips: int) -> int:
    return 5 if slips == 0 else max(1, 4 - slips)


def judge_verdict(evaluator: str, prompt: str) -> dict[str, Any] | None:
    """What a careful judge answers for ``evaluator`` on the transcript inside ``prompt``.

    Only the assistant's turns are judged. ``persona_adherence``: ``broke_character`` when an
    assistant turn speaks out of character (:data:`OUT_OF_CHARACTER`); ``customer_respect``:
    ``agreed_with_user`` when an assistant turn joins in the criticism (:data:`AGREEMENT`). The
    ``score`` is 5 without such a turn, then 3, 2, 1 for one, two, three or more. None for an
    evaluator the judge does not know.
    """
    turns = transcript_turns(prompt)
    assistant_turns = sum(1 for role, _ in turns if role == "assistant")
    if evaluator == "persona_adherence":
        slips, flag = _count(turns, OUT_OF_CHARACTER), "broke_character"
    elif evaluator == "customer_respect":
        slips, flag = _count(turns, AGREEMENT), "agreed_with_user"
    else:
        return None
    return {
        "score": _score(slips),
        flag: slips > 0,
        "reasoning": f"{slips} of {assistant_turns} assistant turns matter for {evaluator}.",
    }


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SimulatedRequestError(f"schema: only local $ref are supported, not {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            if not isinstance(target, dict) or part not in target:
                raise SimulatedRequestError(f"schema: $ref {ref!r} points nowhere")
            target = target[part]
        schema = target
    return schema


def fill_schema(schema: Any, key: str, words: list[str], root: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A deterministic instance of ``schema`` (a JSON Schema subset) whose text uses ``words``."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if depth > 8 or not isinstance(schema, dict):
        raise SimulatedRequestError("schema: must be an object schema, at most 8 levels deep")
    for alternative in ("anyOf", "oneOf"):
        if alternative in schema:
            options = [s for s in schema[alternative] if _resolve(s, root).get("type") != "null"]
            return fill_schema(options[0] if options else {"type": "null"}, key, words, root, depth + 1)
    if "enum" in schema:
        values = schema["enum"]
        return values[int(unit(key, "enum") * len(values))]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: fill_schema(sub, f"{key}/{name}", words, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        low = int(schema.get("minItems", 1))
        high = max(low, int(schema.get("maxItems", max(low, 3))))
        count = low + int(unit(key, "len") * (high - low + 1))
        return [fill_schema(schema.get("items", {}), f"{key}/{i}", words, root, depth + 1) for i in range(count)]
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        high = schema.get("maximum", max(low, 10))
        value = low + unit(key, "num") * (high - low)
        return int(round(value)) if kind == "integer" else round(value, 3)
    if kind == "boolean":
        return unit(key, "bool") < 0.5
    if kind == "null":
        return None
    pool = words or ["simulated", "text"]
    picked = [w for w in pool if unit(key, "w", w.lower()) < 0.5][:10] or pool[:2]
    return " ".join(picked).capitalize() + "."


def malformed_answer(schema: dict[str, Any], key: str) -> str:
    """A judge answer that does not satisfy ``schema``: not JSON, a missing field, or a bad value."""
    kind = int(unit(key, "malformed") * 3)
    if kind == 0:
        return "I would rate this conversation fairly well overall."
    properties = list(_resolve(schema, schema).get("properties", {}))
    instance = {name: "n/a" for name in properties}
    if kind == 1 and properties:
        instance.pop(properties[0])
    return json.dumps(instance)


def structured_answer(schema: dict[str, Any], model: str, system: str | None, messages: list[dict[str, str]]) -> str:
    """The JSON text the simulated ``model`` answers to a request for ``schema``."""
    if not isinstance(schema, dict):
        raise SimulatedRequestError("schema: must be a JSON object")
    prompt = messages[-1]["content"] if messages else ""
    title = schema.get("title")
    known = evaluator_schemas()
    if isinstance(title, str) and title in known:
        verdict = judge_verdict(title, prompt)
        if verdict is not None:
            return json.dumps(verdict)
    key = digest(model, system, messages, schema)
    return json.dumps(fill_schema(schema, key, _words(prompt) + _words(system or "")))


def judge_malformed(prompt: str, schema: dict[str, Any], settings: dict[str, Any], spent: set[str]) -> bool:
    """Whether the judge answers a request for ``schema`` with ``prompt`` malformed, under
    ``settings``: always when the prompt holds a ``malformed_always`` word; the first time for each
    ``malformed_once`` word and schema (``spent`` remembers those already used in this process)."""
    judge = settings.get("judge")
    if not isinstance(judge, dict):
        return False
    always = [w for w in judge.get("malformed_always", []) if isinstance(w, str) and w]
    once = [w for w in judge.get("malformed_once", []) if isinstance(w, str) and w]
    if any(w in prompt for w in always):
        return True
    for trigger in once:
        key = digest(trigger, schema)
        if trigger in prompt and key not in spent:
            spent.add(key)
            return True
    return False


def text_of(content: Any, where: str) -> str:
    """Plain text of a message content (a string or a list of text blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise SimulatedRequestError(f"{where}: only text content blocks are supported by the simulator")
            parts.append(block["text"])
        return "".join(parts)
    raise SimulatedRequestError(f"{where}: content must be a string or a list of text blocks")


def append_log(path: str, entry: dict[str, Any]) -> None:
    """Append one served request to a log in the current directory (best effort)."""
    try:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError:
        pass  # the log is a convenience; an unwritable directory must not break the call
