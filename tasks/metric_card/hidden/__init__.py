"""Trusted ground truth of the metric_card task (never copied into the sandbox): the scorer
(``scoring``) and the labelled outputs of the scoring-accuracy metric (``labels.jsonl``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import scoring

LABELS = Path(__file__).with_name("labels.jsonl")


def labelled_outputs() -> list[dict[str, Any]]:
    """The labelled outputs: ``{"id", "context", "output", "expected": {dimension: score, "overall"}}``."""
    return [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]


__all__ = ["LABELS", "labelled_outputs", "scoring"]
