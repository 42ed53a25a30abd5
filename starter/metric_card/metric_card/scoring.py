"""Scoring one raw model output on the four dimensions, each in [0, 1] with its reasons."""

from __future__ import annotations

from typing import Any

DIMENSIONS = ("json_validity", "schema_compliance", "semantic_quality", "formatting")
WEIGHTS = {"json_validity": 0.25, "schema_compliance": 0.25, "semantic_quality": 0.30, "formatting": 0.20}


def extract_json(text: str) -> dict[str, Any]:
    """``{"found", "value", "source", "repaired"}``: the JSON document of a raw output."""
    # TODO: the whole text, else the first fenced block or the braces; then one repair
    raise NotImplementedError("extract_json")


def score_json_validity(text: str) -> dict[str, Any]:
    """``{"score", "reasons"}``: 1.0, 0.5 (after repair) or 0.0."""
    # TODO
    raise NotImplementedError("score_json_validity")


def score_schema_compliance(card: Any) -> dict[str, Any]:
    """``{"score", "reasons"}``: 1 − 0.25 per schema error, at least 0."""
    # TODO: tools.card_schema.validator()
    raise NotImplementedError("score_schema_compliance")


def score_semantic_quality(card: Any, context: dict[str, Any]) -> dict[str, Any]:
    """``{"score", "reasons"}``: the share of the eight semantic checks passed."""
    # TODO
    raise NotImplementedError("score_semantic_quality")


def score_formatting(card: Any) -> dict[str, Any]:
    """``{"score", "reasons"}``: the share of the six formatting checks passed."""
    # TODO
    raise NotImplementedError("score_formatting")


def score_output(text: str, context: dict[str, Any]) -> dict[str, Any]:
    """Every dimension of a raw output for ``context``, and the weighted ``overall`` score."""
    # TODO
    raise NotImplementedError("score_output")
