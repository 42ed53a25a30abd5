"""The trusted scorer: the rules of prompt.md, written once for the graders.

Never copied into the sandbox. The tests compare what the submission computes with these
functions; ``labels.jsonl`` holds their answers on a fixed set of hand-picked outputs.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from pathlib import Path
from typing import Any

from pytest_rlgrade import load_trusted, memo

tools = load_trusted(Path(__file__).resolve().parent.parent / "tools", "metric_card_tools")
card_schema = importlib.import_module("metric_card_tools.card_schema")

DIMENSIONS = ("json_validity", "schema_compliance", "semantic_quality", "formatting")
WEIGHTS = {"json_validity": 0.25, "schema_compliance": 0.25, "semantic_quality": 0.30, "formatting": 0.20}
SEMANTIC_CHECKS = (
    "model",
    "benchmark",
    "metric.name",
    "metric.unit",
    "metric.value",
    "trend.direction",
    "trend.change",
    "trend.period",
)
FORMATTING_CHECKS = ("nesting", "key_style", "field_types", "decimals", "thresholds", "sparkline")
NESTED_KEYS = frozenset(
    {"name", "value", "unit", "format", "decimals", "prefix", "suffix", "direction", "change", "period", "points"}
)
KEY_STYLE = re.compile(r"[a-z][a-zA-Z0-9]*")
NUMERIC_STRING = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?%?")
FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_SEPARATORS = re.compile(r"[\s_\-]+")


# -- extraction ---------------------------------------------------------------------------------


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(text: str) -> Any:
    """Strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` are rejected."""
    return json.loads(text, parse_constant=_no_constants)


def _parses(text: str) -> tuple[bool, Any]:
    try:
        return True, loads(text)
    except ValueError:
        return False, None


def remove_trailing_commas(text: str) -> str:
    """``text`` without the commas, outside strings, followed only by whitespace and ``}`` or ``]``."""
    out = []
    in_string = escaped = False
    for i, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == ",":
            rest = text[i + 1 :].lstrip()
            if rest[:1] in ("}", "]"):
                continue
        out.append(char)
    return "".join(out)


def repair(text: str) -> str:
    if '"' not in text:
        text = text.replace("'", '"')
    return remove_trailing_commas(text)


def extract_json(text: str) -> dict[str, Any]:
    stripped = text.strip()
    ok, value = _parses(stripped)
    if ok:
        return {"found": True, "value": value, "source": "whole", "repaired": False}
    fence = FENCE.search(stripped)
    if fence:
        candidate, source = fence.group(1), "fence"
    elif "{" in stripped:
        start = stripped.index("{")
        end = stripped.rfind("}")
        candidate = stripped[start : end + 1] if end > start else stripped[start:]
        source = "braces"
    else:
        return {"found": False, "value": None, "source": None, "repaired": False}
    ok, value = _parses(candidate)
    if ok:
        return {"found": True, "value": value, "source": source, "repaired": False}
    ok, value = _parses(repair(candidate))
    if ok:
        return {"found": True, "value": value, "source": source, "repaired": True}
    return {"found": False, "value": None, "source": None, "repaired": False}


# -- the four dimensions ------------------------------------------------------------------------


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_validity(text: str) -> dict[str, Any]:
    found = extract_json(text)
    if not found["found"]:
        return {"score": 0.0, "reasons": ["no parseable JSON found"]}
    if not isinstance(found["value"], dict):
        return {"score": 0.0, "reasons": [f"the JSON is a {type(found['value']).__name__}, not an object"]}
    if found["repaired"]:
        return {"score": 0.5, "reasons": ["the JSON parses only after repairs (quotes, trailing commas)"]}
    return {"score": 1.0, "reasons": []}


def schema_errors(card: Any) -> list[Any]:
    return list(card_schema.validator().iter_errors(card))


def schema_compliance(card: Any) -> dict[str, Any]:
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": ["not a JSON object"]}
    errors = schema_errors(card)
    reasons = [f"{'.'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]
    return {"score": max(0.0, 1.0 - 0.25 * len(errors)), "reasons": reasons}


def normalized(text: str) -> str:
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def _tolerance(metric: dict[str, Any]) -> float:
    fmt = metric.get("format")
    decimals = fmt.get("decimals") if isinstance(fmt, dict) else None
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 4:
        decimals = 4
    return 0.5 * 10.0**-decimals + 1e-9


def expected_direction(context: dict[str, Any]) -> str:
    if context["value"] > context["previous"]:
        return "up"
    return "down" if context["value"] < context["previous"] else "flat"


def semantic_failures(card: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """The semantic checks ``card`` fails, in ``SEMANTIC_CHECKS`` order."""
    failed = []
    for key in ("model", "benchmark"):
        if not isinstance(card.get(key), str) or normalized(card[key]) != normalized(context[key]):
            failed.append(key)
    metric = card.get("metric") if isinstance(card.get("metric"), dict) else {}
    names = {normalized(context["metric"]), normalized(card_schema.METRICS[context["metric"]]["label"])}
    if not isinstance(metric.get("name"), str) or normalized(metric["name"]) not in names:
        failed.append("metric.name")
    unit = metric.get("unit")
    fits = isinstance(unit, str) and unit in card_schema.units_for(context["metric"])
    if not fits:
        failed.append("metric.unit")
    tolerance = _tolerance(metric)
    value = metric.get("value")
    if not (
        fits
        and is_number(value)
        and abs(value - card_schema.convert(context["value"], context["unit"], unit)) <= tolerance
    ):
        failed.append("metric.value")
    trend = card.get("trend") if isinstance(card.get("trend"), dict) else {}
    if trend.get("direction") != expected_direction(context):
        failed.append("trend.direction")
    change = trend.get("change")
    want_change = card_schema.convert(context["value"] - context["previous"], context["unit"], unit) if fits else None
    if not (fits and is_number(change) and abs(change - want_change) <= tolerance):
        failed.append("trend.change")
    if trend.get("period") != context["period"]:
        failed.append("trend.period")
    return failed


def semantic_quality(card: Any, context: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": ["not a JSON object"]}
    failed = semantic_failures(card, context)
    return {
        "score": (len(SEMANTIC_CHECKS) - len(failed)) / len(SEMANTIC_CHECKS),
        "reasons": [f"{check}: does not fit the context" for check in failed],
    }


def _walk(value: Any):
    """Every (key or None, value) pair below ``value``, depth first."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield key, child
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield None, child
            yield from _walk(child)


def _keys(value: Any):
    if isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _keys(child)
    elif isinstance(value, list):
        for child in value:
            yield from _keys(child)


def _has_decimals(x: float, decimals: int) -> bool:
    return abs(x - round(x, decimals)) <= 1e-9


def formatting_failures(card: dict[str, Any]) -> list[str]:
    """The formatting checks ``card`` fails, in ``FORMATTING_CHECKS`` order."""
    failed = []
    if NESTED_KEYS & set(card):
        failed.append("nesting")
    if not all(KEY_STYLE.fullmatch(key) for key in _keys(card)):
        failed.append("key_style")
    if any(isinstance(v, str) and NUMERIC_STRING.fullmatch(v.strip()) for _, v in _walk(card)):
        failed.append("field_types")
    metric = card.get("metric") if isinstance(card.get("metric"), dict) else {}
    fmt = metric.get("format") if isinstance(metric.get("format"), dict) else {}
    decimals = fmt.get("decimals")
    if isinstance(decimals, int) and not isinstance(decimals, bool) and 0 <= decimals <= 4:
        numbers = [metric.get("value")]
        for key, inner in (("trend", "change"), ("comparison", "value")):
            if isinstance(card.get(key), dict):
                numbers.append(card[key].get(inner))
        if isinstance(card.get("thresholds"), list):
            numbers.extend(t.get("min") for t in card["thresholds"] if isinstance(t, dict))
        if isinstance(card.get("sparkline"), dict) and isinstance(card["sparkline"].get("points"), list):
            numbers.extend(card["sparkline"]["points"])
        if not all(_has_decimals(x, decimals) for x in numbers if is_number(x)):
            failed.append("decimals")
    if "thresholds" in card:
        items = card["thresholds"]
        ok = (
            isinstance(items, list)
            and bool(items)
            and all(isinstance(t, dict) and is_number(t.get("min")) for t in items)
        )
        if ok:
            mins = [t["min"] for t in items]
            labels = [json.dumps(t.get("label"), sort_keys=True) for t in items]
            ok = all(a < b for a, b in zip(mins, mins[1:], strict=False)) and len(set(labels)) == len(labels)
        if not ok:
            failed.append("thresholds")
    if "sparkline" in card:
        spark = card["sparkline"]
        points = spark.get("points") if isinstance(spark, dict) else None
        value = metric.get("value")
        ok = (
            isinstance(points, list)
            and bool(points)
            and all(is_number(p) for p in points)
            and is_number(value)
            and abs(points[-1] - value) <= 1e-9
        )
        if not ok:
            failed.append("sparkline")
    return failed


def formatting(card: Any) -> dict[str, Any]:
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": ["not a JSON object"]}
    failed = formatting_failures(card)
    return {
        "score": (len(FORMATTING_CHECKS) - len(failed)) / len(FORMATTING_CHECKS),
        "reasons": [f"{check}: check failed" for check in failed],
    }


def overall(scores: dict[str, float]) -> float:
    return math.fsum(WEIGHTS[d] * scores[d] for d in DIMENSIONS)


@memo  # a function of the text and context: a warm grader scores each output once, not per rollout
def score_output(text: str, context: dict[str, Any]) -> dict[str, Any]:
    validity = json_validity(text)
    found = extract_json(text)
    card = found["value"] if found["found"] else None
    result = {
        "json_validity": validity,
        "schema_compliance": schema_compliance(card),
        "semantic_quality": semantic_quality(card, context),
        "formatting": formatting(card),
    }
    result["overall"] = overall({d: result[d]["score"] for d in DIMENSIONS})
    return result


def flat_scores(result: dict[str, Any]) -> dict[str, float]:
    """``{dimension: score, "overall": ...}`` of a ``score_output`` result."""
    return {**{d: result[d]["score"] for d in DIMENSIONS}, "overall": result["overall"]}
