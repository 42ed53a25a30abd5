"""Scoring one response and aggregating many, on the definitions of ``tools.metrics``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tools import metrics as tool_metrics


def score_response(text: str, expected_facts: Sequence[str], stop_reason: str | None) -> dict[str, Any]:
    """``{"fact_coverage": float, "completed": bool, "refused": bool}`` for one response."""
    return {
        "fact_coverage": tool_metrics.fact_coverage(text, list(expected_facts)),
        "completed": tool_metrics.is_complete(stop_reason),
        "refused": tool_metrics.is_refusal(text, stop_reason),
    }


def aggregate(scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Aggregate per-response scores into the summary metrics (all 0.0 for no scores)."""
    count = len(scores)
    if not scores:
        coverage = completion = refusal = 0.0
    else:
        coverage = sum(float(s["fact_coverage"]) for s in scores) / count
        completion = sum(1 for s in scores if s["completed"]) / count
        refusal = sum(1 for s in scores if s["refused"]) / count
    return {
        "num_records": count,
        "fact_coverage": coverage,
        "completion_rate": completion,
        "refusal_rate": refusal,
        "geometric_mean": tool_metrics.geometric_mean([coverage, completion]),
    }
