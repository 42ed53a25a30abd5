"""Scoring one raw model output on the four dimensions, each in [0, 1] with its reasons."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tools.card_schema import METRICS, convert, units_for, validator

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
# Attributes of the metric, its format, trend and sparkline: they belong below the top level.
NESTED_ONLY = frozenset(
    {"name", "value", "unit", "format", "decimals", "prefix", "suffix", "direction", "change", "period", "points"}
)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_KEY = re.compile(r"[a-z][a-zA-Z0-9]*")
_NUMERIC = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?%?")
_SEPARATORS = re.compile(r"[\s_\-]+")
_NOT_AN_OBJECT = "not a JSON object"


# -- extraction ---------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _strict(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False, None


def _drop_trailing_commas(text: str) -> str:
    kept: list[str] = []
    in_string = False
    escape = False
    for index, char in enumerate(text):
        if in_string:
            if escape:
                escape = False
            elif char == "\\":
                escape = True
            elif char == '"':  # pragma: no mutate (a one-character str is cached: `is` holds exactly when `==` does)
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "," and text[index + 1 :].lstrip()[:1] in ("}", "]"):
            continue
        kept.append(char)
    return "".join(kept)


def _repaired(text: str) -> str:
    if '"' not in text:
        text = text.replace("'", '"')
    return _drop_trailing_commas(text)


def extract_json(text: str) -> dict[str, Any]:
    """Find the JSON document in a raw output.

    Returns ``{"found": bool, "value": the parsed JSON or None, "source": "whole" | "fence" |
    "braces" | None, "repaired": bool}`` by the rules of the task statement.
    """
    nothing = {"found": False, "value": None, "source": None, "repaired": False}
    stripped = text.strip()
    ok, value = _strict(stripped)
    if ok:
        return {"found": True, "value": value, "source": "whole", "repaired": False}
    fence = _FENCE.search(stripped)
    if fence is not None:
        candidate, source = fence.group(1), "fence"
    elif "{" in stripped:
        start, end = stripped.index("{"), stripped.rfind("}")
        candidate, source = (stripped[start : end + 1] if end > start else stripped[start:]), "braces"  # noqa: E501  # pragma: no mutate
    else:
        return nothing
    ok, value = _strict(candidate)
    if ok:
        return {"found": True, "value": value, "source": source, "repaired": False}
    ok, value = _strict(_repaired(candidate))
    if ok:
        return {"found": True, "value": value, "source": source, "repaired": True}
    return nothing


# -- the dimensions -----------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _result(passed: int, total: int, reasons: list[str]) -> dict[str, Any]:
    return {"score": passed / total, "reasons": reasons}


def score_json_validity(text: str) -> dict[str, Any]:
    """1.0 for a JSON object as written, 0.5 for one that parses only after repairs, else 0.0."""
    found = extract_json(text)
    if not found["found"]:
        return {"score": 0.0, "reasons": ["no parseable JSON in the output"]}
    if not isinstance(found["value"], dict):
        kind = "array" if isinstance(found["value"], list) else type(found["value"]).__name__  # pragma: no mutate
        return {"score": 0.0, "reasons": [f"the JSON is a {kind}, not an object"]}
    if found["repaired"]:
        return {"score": 0.5, "reasons": ["the JSON parses only after replacing single quotes or trailing commas"]}
    return {"score": 1.0, "reasons": []}


def score_schema_compliance(card: Any) -> dict[str, Any]:
    """1 − 0.25 per error of the card's JSON Schema (draft 2020-12), at least 0."""
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": [_NOT_AN_OBJECT]}
    reasons = []
    for error in validator().iter_errors(card):
        where = ".".join(str(part) for part in error.absolute_path) or "(root)"
        reasons.append(f"{where}: {error.message}")
    return {"score": max(0.0, 1.0 - 0.25 * len(reasons)), "reasons": reasons}


def _normal(text: str) -> str:
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def _decimals(metric: dict[str, Any]) -> int | None:
    fmt = metric.get("format")
    decimals = fmt.get("decimals") if isinstance(fmt, dict) else None
    if isinstance(decimals, int) and not isinstance(decimals, bool) and 0 <= decimals <= 4:
        return decimals
    return None


def _close(got: Any, want: float | None, tolerance: float) -> bool:
    return want is not None and _number(got) and abs(got - want) <= tolerance


def score_semantic_quality(card: Any, context: dict[str, Any]) -> dict[str, Any]:
    """The share of the eight semantic checks the card passes for ``context``."""
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": [_NOT_AN_OBJECT]}
    reasons = []
    for key in ("model", "benchmark"):
        if not isinstance(card.get(key), str) or _normal(card[key]) != _normal(context[key]):
            reasons.append(f"{key}: {card.get(key)!r} is not the context's {context[key]!r}")
    metric = card.get("metric") if isinstance(card.get("metric"), dict) else {}
    trend = card.get("trend") if isinstance(card.get("trend"), dict) else {}
    accepted = {_normal(context["metric"]), _normal(METRICS[context["metric"]]["label"])}
    if not isinstance(metric.get("name"), str) or _normal(metric["name"]) not in accepted:
        reasons.append(f"metric.name: {metric.get('name')!r} is not the context's metric {context['metric']!r}")
    unit = metric.get("unit")
    fits = isinstance(unit, str) and unit in units_for(context["metric"])
    if not fits:
        reasons.append(
            f"metric.unit: {unit!r} does not fit {context['metric']} ({', '.join(units_for(context['metric']))})"
        )
    decimals = _decimals(metric)
    tolerance = 0.5 * 10.0 ** -(4 if decimals is None else decimals) + 1e-9
    value = convert(context["value"], context["unit"], unit) if fits else None
    if not _close(metric.get("value"), value, tolerance):
        reasons.append(f"metric.value: {metric.get('value')!r} is not the context's value in {unit!r}")
    if context["value"] > context["previous"]:
        direction = "up"
    else:
        direction = "down" if context["value"] < context["previous"] else "flat"
    if trend.get("direction") != direction:
        reasons.append(f"trend.direction: {trend.get('direction')!r}, but the value went {direction}")
    change = convert(context["value"] - context["previous"], context["unit"], unit) if fits else None
    if not _close(trend.get("change"), change, tolerance):
        reasons.append(f"trend.change: {trend.get('change')!r} is not the change since the previous value")
    if trend.get("period") != context["period"]:
        reasons.append(f"trend.period: {trend.get('period')!r} is not the context's {context['period']!r}")
    return _result(len(SEMANTIC_CHECKS) - len(reasons), len(SEMANTIC_CHECKS), reasons)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield key
            yield from _keys(child)
    elif isinstance(value, list):
        for child in value:
            yield from _keys(child)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def _numbers_to_format(card: dict[str, Any], metric: dict[str, Any]) -> list[Any]:
    numbers = [metric.get("value")]
    for key, inner in (("trend", "change"), ("comparison", "value")):
        if isinstance(card.get(key), dict):
            numbers.append(card[key].get(inner))
    if isinstance(card.get("thresholds"), list):
        numbers.extend(item.get("min") for item in card["thresholds"] if isinstance(item, dict))
    spark = card.get("sparkline")
    if isinstance(spark, dict) and isinstance(spark.get("points"), list):
        numbers.extend(spark["points"])
    return [x for x in numbers if _number(x)]


def _thresholds_ordered(items: Any) -> bool:
    if not isinstance(items, list) or not items:
        return False
    if not all(isinstance(item, dict) and _number(item.get("min")) for item in items):
        return False
    mins = [item["min"] for item in items]
    labels = [json.dumps(item.get("label"), sort_keys=True) for item in items]
    return all(a < b for a, b in zip(mins, mins[1:], strict=False)) and len(set(labels)) == len(labels)


def score_formatting(card: Any) -> dict[str, Any]:
    """The share of the six formatting checks (nesting, key style, field types, decimals,
    threshold order, sparkline end) the card passes."""
    if not isinstance(card, dict):
        return {"score": 0.0, "reasons": [_NOT_AN_OBJECT]}
    reasons = []
    misplaced = sorted(NESTED_ONLY & set(card))
    if misplaced:
        reasons.append(f"nesting: {', '.join(misplaced)} belong inside metric, trend or sparkline")
    bad_keys = sorted({key for key in _keys(card) if not _KEY.fullmatch(key)})
    if bad_keys:
        reasons.append(f"key_style: keys not in camelCase: {', '.join(bad_keys)}")
    numeric = [s for s in _strings(card) if _NUMERIC.fullmatch(s.strip())]
    if numeric:
        reasons.append(f"field_types: numbers written as strings: {', '.join(repr(s) for s in numeric[:5])}")  # noqa: E501  # pragma: no mutate
    metric = card.get("metric") if isinstance(card.get("metric"), dict) else {}
    decimals = _decimals(metric)
    if decimals is not None:
        loose = [x for x in _numbers_to_format(card, metric) if abs(x - round(x, decimals)) > 1e-9]
        if loose:
            reasons.append(f"decimals: {loose[0]!r} has more than the format's {decimals} decimals")  # noqa: E501  # pragma: no mutate
    if "thresholds" in card and not _thresholds_ordered(card["thresholds"]):
        reasons.append("thresholds: mins must increase strictly and labels differ")
    if "sparkline" in card:
        spark = card["sparkline"]
        points = spark.get("points") if isinstance(spark, dict) else None
        value = metric.get("value")
        if not (
            isinstance(points, list)
            and points
            and all(_number(p) for p in points)
            and _number(value)
            and abs(points[-1] - value) <= 1e-9
        ):
            reasons.append("sparkline: the points must be numbers ending at metric.value")
    return _result(len(FORMATTING_CHECKS) - len(reasons), len(FORMATTING_CHECKS), reasons)


def overall_score(scores: dict[str, float]) -> float:
    """The weighted sum 0.25·validity + 0.25·schema + 0.30·semantic + 0.20·formatting."""
    return sum(WEIGHTS[dimension] * scores[dimension] for dimension in DIMENSIONS)


def score_output(text: str, context: dict[str, Any]) -> dict[str, Any]:
    """All four dimensions of a raw output for ``context``, and the overall score."""
    found = extract_json(text)
    card = found["value"] if found["found"] else None
    result: dict[str, Any] = {
        "json_validity": score_json_validity(text),
        "schema_compliance": score_schema_compliance(card),
        "semantic_quality": score_semantic_quality(card, context),
        "formatting": score_formatting(card),
    }
    result["overall"] = overall_score({d: result[d]["score"] for d in DIMENSIONS})
    return result


def breakdown(result: dict[str, Any]) -> dict[str, Any]:
    """The rollouts file's form of a ``score_output`` result: the scores and the reasons."""
    return {
        **{d: result[d]["score"] for d in DIMENSIONS},
        "overall": result["overall"],
        "reasons": {d: list(result[d]["reasons"]) for d in DIMENSIONS},
    }
