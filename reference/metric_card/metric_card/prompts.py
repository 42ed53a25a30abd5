"""Prompts that ask a model for a Metric Card configuration of one evaluation context."""

from __future__ import annotations

import json
from typing import Any

from tools.card_schema import CARD_SCHEMA, DIRECTIONS, PERIODS, UNITS, required_fields
from tools.contexts import check_context

SYSTEM_PROMPT = """You write configurations of Metric Card UI components for AI model evaluation \
dashboards. Answer with one JSON object and nothing else: no prose, no code fence, no comments.

The object must follow this JSON Schema (draft 2020-12):
{schema}

Required fields (dotted paths): {required}.
- component is always "MetricCard".
- model, benchmark and metric.name repeat the evaluation context's model, benchmark and metric.
- metric.unit is one of {units}, and must fit the metric; metric.value is the context's value \
expressed in that unit, rounded to metric.format.decimals decimals (an integer from 0 to 4).
- trend.direction is one of {directions}: "up" when the value rose since the previous period, \
"down" when it fell, "flat" when it did not change; trend.change is value minus previous value in \
metric.unit; trend.period is one of {periods}, the context's period.
- Give thresholds (ascending by min, distinct labels) or a comparison with the context's \
baseline, or both. A sparkline's points end at metric.value.
- Every number is a JSON number, never a string; keys are camelCase exactly as in the schema."""


def system_prompt() -> str:
    """The system message: the schema and its requirements."""
    return SYSTEM_PROMPT.format(
        schema=json.dumps(CARD_SCHEMA, separators=(",", ":")),
        required=", ".join(required_fields()),
        units=", ".join(UNITS),
        directions=", ".join(DIRECTIONS),
        periods=", ".join(PERIODS),
    )


def user_prompt(context: dict[str, Any]) -> str:
    """The user message: the context, as JSON between ``<context>`` and ``</context>`` lines."""
    return (
        "Create the Metric Card for this evaluation context.\n"
        f"<context>\n{json.dumps(context, ensure_ascii=False)}\n</context>\n"  # pragma: no mutate
        "Reply with the JSON object only."
    )


def build_messages(context: dict[str, Any]) -> list[dict[str, str]]:
    """``[system, user]`` chat messages asking for the card of ``context``.

    Raises ``ValueError`` (``tools.contexts.ContextError``) naming the field of a bad context.
    """
    check_context(context)
    return [{"role": "system", "content": system_prompt()}, {"role": "user", "content": user_prompt(context)}]
