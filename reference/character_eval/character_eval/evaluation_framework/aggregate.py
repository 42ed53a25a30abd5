"""Aggregates of evaluation records, per evaluator and per conversation."""

from __future__ import annotations

import math
from typing import Any

from ..schemas import EvaluationRecord


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def aggregate(records: list[EvaluationRecord], evaluators: list[Any], conversation_ids: list[str]) -> dict[str, Any]:
    """``evaluators``: per evaluator, ``num_valid``, ``num_invalid``, ``mean_score`` and, for each
    boolean field of its schema, ``<field>_rate`` (share true), over its valid results (None when
    there are none); ``conversations``: per conversation, each evaluator's ``scores`` (None when
    invalid) and their ``mean_score``; ``overall_mean_score`` over every valid result."""
    by_evaluator: dict[str, Any] = {}
    for evaluator in evaluators:
        mine = [r for r in records if r.evaluator == evaluator.name]  # pragma: no mutate
        valid = [r.result for r in mine if r.result is not None]
        entry: dict[str, Any] = {
            "num_valid": len(valid),
            "num_invalid": len(mine) - len(valid),
            "mean_score": _mean([float(v["score"]) for v in valid]),
        }
        for field, spec in evaluator.schema.get("properties", {}).items():
            if spec.get("type") == "boolean":  # pragma: no mutate
                entry[f"{field}_rate"] = _mean([1.0 if v[field] else 0.0 for v in valid])
        by_evaluator[evaluator.name] = entry
    conversations: dict[str, Any] = {}
    for ident in conversation_ids:
        scores = {
            r.evaluator: (r.result["score"] if r.result is not None else None)
            for r in records
            if r.conversation_id == ident
        }
        conversations[ident] = {
            "scores": scores,
            "mean_score": _mean([float(s) for s in scores.values() if s is not None]),
        }
    every = [float(r.result["score"]) for r in records if r.result is not None]
    return {"evaluators": by_evaluator, "conversations": conversations, "overall_mean_score": _mean(every)}
