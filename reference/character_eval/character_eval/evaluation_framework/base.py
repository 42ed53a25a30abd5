"""The evaluator: a rubric and a response schema from ``config.json``, a judge, and retries."""

from __future__ import annotations

from typing import Any

from ..config import load_config
from ..llm_api import FALLBACK, PRIMARY, StructuredResponseError, complete
from ..schemas import Conversation, EvaluationRecord

JUDGE_MODELS = (PRIMARY, FALLBACK)
ATTEMPTS = 3
JUDGE_SYSTEM = "You are an impartial judge of conversations between an AI assistant in a persona and a user."


def render_transcript(conversation: Conversation) -> str:
    """The turns in order, each wrapped in ``<assistant>`` or ``<user>`` tags."""
    return "\n".join(f"<{t.role}>{t.content}</{t.role}>" for t in conversation.turns)


class Evaluator:
    """One evaluator of ``config.json``: asks the judge, checks the answer against the schema,
    and asks again (up to :data:`ATTEMPTS` times in all) while it does not fit."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.description = spec["description"]
        self.rubric = spec["rubric"]
        self.schema = spec["schema"]

    def prompt(self, conversation: Conversation) -> str:
        return (
            f"Evaluator: {self.name}\n{self.description}\n\nRubric: {self.rubric}\n\n"
            f"Conversation:\n{render_transcript(conversation)}\n\n"
            "Answer with a JSON object that satisfies the response schema."
        )

    def evaluate(self, conversation: Conversation, judge_model: str) -> EvaluationRecord:
        messages = [{"role": "user", "content": self.prompt(conversation)}]
        error, answered = None, None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                result = complete(
                    judge_model, messages, system=JUDGE_SYSTEM, response_schema=self.schema, allowed=JUDGE_MODELS
                )
            except StructuredResponseError as exc:
                error, answered = str(exc), exc.model
                continue
            return EvaluationRecord(
                conversation_id=conversation.id,
                evaluator=self.name,
                valid=True,
                attempts=attempt,
                judge_model=result.model,
                result=result.parsed,
                error=None,
            )
        return EvaluationRecord(
            conversation_id=conversation.id,
            evaluator=self.name,
            valid=False,
            attempts=ATTEMPTS,
            judge_model=answered,
            result=None,
            error=error,
        )


def build_evaluators() -> list[Evaluator]:
    """Every evaluator of ``config.json``, in its order."""
    return [Evaluator(name, spec) for name, spec in load_config()["evaluators"].items()]
