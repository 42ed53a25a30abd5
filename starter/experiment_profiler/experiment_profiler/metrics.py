"""Scoring one response and aggregating many (see tools/metrics.py for the definitions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def score_response(text: str, expected_facts: Sequence[str], stop_reason: str | None) -> dict[str, Any]:
    """``{"fact_coverage": float, "completed": bool, "refused": bool}`` for one response."""
    # TODO
    raise NotImplementedError("score_response")


def aggregate(scores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"num_records", "fact_coverage", "completion_rate", "refusal_rate", "geometric_mean"}``."""
    # TODO
    raise NotImplementedError("aggregate")
