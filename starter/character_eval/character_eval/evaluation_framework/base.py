"""The evaluator: a rubric and a response schema from ``config.json``, a judge, and retries."""

from __future__ import annotations

from typing import Any

from ..config import load_config
from ..schemas import Conversation, EvaluationRecord

ATTEMPTS = 3


class Evaluator:
    """One evaluator of ``config.json``."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.description = spec["description"]
        self.rubric = spec["rubric"]
        self.schema = spec["schema"]

    def evaluate(self, conversation: Conversation, judge_model: str) -> EvaluationRecord:
        # TODO: ask the judge (llm_api.complete with the schema), retry answers that do not fit
        raise NotImplementedError("Evaluator.evaluate")


def build_evaluators() -> list[Evaluator]:
    """Every evaluator of ``config.json``, in its order."""
    return [Evaluator(name, spec) for name, spec in load_config()["evaluators"].items()]
