"""The grader of an anomaly report: submitted rows against the hidden labels, a score in [0, 1].

Rows are matched to labels by ``(date, entity_name)``. A matched row earns a quality in [0, 1]:

    entity_type and anomaly_type right   3.5 / 10
    detection_method right               1.5 / 10
    baseline_value within tolerance      1   / 10
    observed_value within tolerance      1   / 10
    delta_value within tolerance         1   / 10
    severity right                       2   / 10

With Q the sum of the matched rows' qualities, precision = Q / (valid distinct rows submitted) and
recall = Q / (labels); the score is their harmonic mean (so every extra row costs precision),
less 0.1 for each duplicate row (a second row for a (date, entity_name) already reported: only the
first counts) and each invalid row, clamped to [0, 1]. A mass submission (more than
``max(MASS_FLOOR, MASS_FACTOR * labels)`` rows) scores 0.
"""

from __future__ import annotations

import math
from typing import Any

from .analysis import FAMILIES, ROW_KEYS, SEVERITIES

QUALITY = {
    "type": 3.5,
    "method": 1.5,
    "baseline_value": 1.0,
    "observed_value": 1.0,
    "delta_value": 1.0,
    "severity": 2.0,
}
QUALITY_TOTAL = sum(QUALITY.values())
DUPLICATE_PENALTY = 0.1
INVALID_PENALTY = 0.1
MASS_FACTOR = 4
MASS_FLOOR = 12
RELATIVE_TOLERANCE = 0.005
ABSOLUTE_TOLERANCE = 1e-6
ENTITY_TYPES = frozenset(t for t, _ in FAMILIES.values())
METHODS = frozenset(m for _, m in FAMILIES.values())


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def row_problem(row: Any) -> str | None:
    """Why a submitted row is invalid, or None if it is well-formed."""
    if not isinstance(row, dict):
        return "not an object"
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        return f"missing {', '.join(missing)}"
    for key in ("date", "entity_type", "entity_name", "anomaly_type", "detection_method", "severity"):
        if not isinstance(row[key], str) or not row[key]:
            return f"{key} is not a non-empty string"
    for key in ("baseline_value", "observed_value", "delta_value"):
        if not _number(row[key]):
            return f"{key} is not a finite number"
    date = row["date"]
    if len(date) != 10 or date[4] != "-" or date[7] != "-" or not (date[:4] + date[5:7] + date[8:]).isdigit():
        return "date is not YYYY-MM-DD"
    if row["anomaly_type"] not in FAMILIES:
        return f"unknown anomaly_type {row['anomaly_type']!r}"
    if row["entity_type"] not in ENTITY_TYPES:
        return f"unknown entity_type {row['entity_type']!r}"
    if row["detection_method"] not in METHODS:
        return f"unknown detection_method {row['detection_method']!r}"
    if row["severity"] not in SEVERITIES:
        return f"unknown severity {row['severity']!r}"
    return None


def _close(got: float, want: float, scale: float) -> bool:
    return abs(got - want) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * scale


def row_quality(row: dict[str, Any], label: dict[str, Any]) -> float:
    """The quality in [0, 1] of a valid row matched to its label."""
    scale = max(abs(label["baseline_value"]), abs(label["observed_value"]))
    earned = 0.0
    if row["entity_type"] == label["entity_type"] and row["anomaly_type"] == label["anomaly_type"]:
        earned += QUALITY["type"]
    if row["detection_method"] == label["detection_method"]:
        earned += QUALITY["method"]
    for key in ("baseline_value", "observed_value", "delta_value"):
        if _close(float(row[key]), label[key], scale):
            earned += QUALITY[key]
    if row["severity"] == label["severity"]:
        earned += QUALITY["severity"]
    return earned / QUALITY_TOTAL


def grade_rows(submitted: Any, labels: list[dict[str, Any]]) -> dict[str, Any]:
    """A breakdown with ``score`` in [0, 1] for a submitted report against the labels."""
    result: dict[str, Any] = {
        "score": 0.0,
        "labels": len(labels),
        "submitted": 0,
        "valid": 0,
        "matched": 0,
        "quality": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "extra": 0,
        "duplicates": 0,
        "invalid": 0,
        "mass_submission": False,
        "problems": [],
    }
    if not isinstance(submitted, list):
        result["problems"].append(f"the report is a {type(submitted).__name__}, not a list of rows")
        return result
    result["submitted"] = len(submitted)
    if len(submitted) > max(MASS_FLOOR, MASS_FACTOR * len(labels)):
        result["mass_submission"] = True
        result["problems"].append(f"mass submission: {len(submitted)} rows")
        return result
    by_key = {(label["date"], label["entity_name"]): label for label in labels}
    seen: set[tuple[str, str]] = set()
    quality = 0.0
    for index, row in enumerate(submitted):
        problem = row_problem(row)
        if problem is not None:
            result["invalid"] += 1
            result["problems"].append(f"row {index}: {problem}")
            continue
        key = (row["date"], row["entity_name"])
        if key in seen:
            result["duplicates"] += 1
            result["problems"].append(f"row {index}: duplicate of an earlier row for {key}")
            continue
        seen.add(key)
        result["valid"] += 1
        label = by_key.get(key)
        if label is None:
            result["extra"] += 1
            continue
        result["matched"] += 1
        quality += row_quality(row, label)
    result["quality"] = quality
    if result["valid"] and labels:
        precision = quality / result["valid"]
        recall = quality / len(labels)
        result["precision"], result["recall"] = precision, recall
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
        penalty = DUPLICATE_PENALTY * result["duplicates"] + INVALID_PENALTY * result["invalid"]
        result["score"] = min(1.0, max(0.0, f1 - penalty))
    return result
