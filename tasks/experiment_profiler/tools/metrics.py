"""Quality metrics of prompt/response pairs.

These functions are the definitions the experiment profiler reports:

- ``fact_coverage(text, expected_facts)``: the share of expected facts that occur in the response
  text, compared case-insensitively as substrings; 1.0 when there are no expected facts.
- ``is_complete(stop_reason)``: the model finished on its own (``end_turn`` or ``stop_sequence``);
  a response cut by ``max_tokens`` or refused is not complete.
- ``is_refusal(text, stop_reason)``: the API reported a refusal (``stop_reason == "refusal"``) or
  the text opens with a refusal phrase (``REFUSAL_PREFIXES``).
- ``completion_rate(stop_reasons)`` and ``refusal_rate(responses)``: shares over many responses,
  0.0 for none.
- ``geometric_mean(values)``: the geometric mean of non-negative numbers; 0.0 for none or when any
  value is 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

COMPLETE_STOP_REASONS = frozenset({"end_turn", "stop_sequence"})
REFUSAL_PREFIXES = ("i can't", "i cannot", "i won't", "i will not", "i'm sorry, but", "i am sorry, but")


def fact_coverage(text: str, expected_facts: Sequence[str]) -> float:
    """Share of ``expected_facts`` found in ``text`` (case-insensitive substring match)."""
    facts = list(expected_facts)
    if not facts:
        return 1.0
    haystack = text.lower()
    found = sum(1 for fact in facts if fact.lower() in haystack)
    return found / len(facts)


def is_complete(stop_reason: str | None) -> bool:
    """Whether a response with this stop reason finished on its own."""
    return stop_reason in COMPLETE_STOP_REASONS


def is_refusal(text: str, stop_reason: str | None = None) -> bool:
    """Whether a response is a refusal."""
    if stop_reason == "refusal":
        return True
    return text.strip().lower().startswith(REFUSAL_PREFIXES)


def completion_rate(stop_reasons: Iterable[str | None]) -> float:
    """Share of complete responses among those with these stop reasons (0.0 for none)."""
    flags = [is_complete(reason) for reason in stop_reasons]
    return sum(flags) / len(flags) if flags else 0.0


def refusal_rate(responses: Iterable[tuple[str, str | None]]) -> float:
    """Share of refusals among ``(text, stop_reason)`` pairs (0.0 for none)."""
    flags = [is_refusal(text, reason) for text, reason in responses]
    return sum(flags) / len(flags) if flags else 0.0


def geometric_mean(values: Iterable[float]) -> float:
    """Geometric mean of non-negative values; 0.0 for no values or when any value is 0."""
    numbers = [float(v) for v in values]
    if not numbers:
        return 0.0
    if any(v < 0 or math.isnan(v) for v in numbers):
        raise ValueError(f"geometric_mean needs non-negative numbers, got {numbers}")
    if any(v == 0 for v in numbers):
        return 0.0
    return math.exp(math.fsum(math.log(v) for v in numbers) / len(numbers))
