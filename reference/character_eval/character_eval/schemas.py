"""The pipeline's data, as pydantic models (written to files as their dicts)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTEXT_SCHEMA: dict[str, Any] = {
    "title": "generated_context",
    "type": "object",
    "properties": {
        "scenario": {"type": "string"},
        "supporting_documents": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "content": {"type": "string"}},
                "required": ["title", "content"],
                "additionalProperties": False,  # pragma: no mutate
            },
        },
    },
    "required": ["scenario", "supporting_documents"],
    "additionalProperties": False,  # pragma: no mutate
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SupportingDocument(_Model):
    title: str
    content: str


class Context(_Model):
    id: str
    theme: str
    scenario: str
    supporting_documents: list[SupportingDocument]
    model: str = Field(description="the model that generated the context")


class Turn(_Model):
    role: Literal["assistant", "user"]
    content: str = Field(min_length=1)  # pragma: no mutate - whether an empty turn is valid is left open
    model: str


class Conversation(_Model):
    id: str
    context_id: str
    assistant_persona: str
    assistant_model: str
    user_persona: str
    user_model: str
    scenario: str
    system_prompt: str
    turns: list[Turn]


class EvaluationRecord(_Model):
    conversation_id: str
    evaluator: str
    valid: bool
    attempts: int
    judge_model: str | None
    result: dict[str, Any] | None
    error: str | None
