"""Prompts that ask a model for a Metric Card configuration of one evaluation context."""

from __future__ import annotations

from typing import Any


def build_messages(context: dict[str, Any]) -> list[dict[str, str]]:
    """``[system, user]`` chat messages asking for the card of ``context``.

    The user message carries the context as JSON between a line ``<context>`` and a line
    ``</context>``; together the messages state the schema's requirements (see the task statement).
    A bad context raises ``ValueError`` naming the field.
    """
    # TODO: state the schema's requirements (tools.card_schema) and carry the context
    raise NotImplementedError("build_messages")
