"""Reading what ``process`` wrote: the scored groups of a rollouts file, and its rollouts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from metric_card.scoring import DIMENSIONS

GROUP_KEYS = ("context_id", "messages", "scores", "breakdown")


class RolloutsError(ValueError):
    """A rollouts or examples file that cannot be used; the message names the file and line."""


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` of each non-blank line of a JSONL file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RolloutsError(f"{path}: cannot read: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise RolloutsError(f"{path}:{number}: invalid JSON: {exc.msg}") from None


def _check_group(group: Any, where: str) -> dict[str, Any]:
    if not isinstance(group, dict):
        raise RolloutsError(f"{where}: a group must be an object")
    missing = [key for key in GROUP_KEYS if key not in group]
    if missing:
        raise RolloutsError(f"{where}: missing key {missing[0]!r}")  # pragma: no mutate (which key is named is open)
    messages, breakdown = group["messages"], group["breakdown"]
    if not isinstance(messages, list) or not isinstance(breakdown, list) or len(messages) != len(breakdown):
        raise RolloutsError(f"{where}: 'messages' and 'breakdown' must be lists of the same length")
    for index, (conversation, scores) in enumerate(zip(messages, breakdown, strict=True)):  # pragma: no mutate
        if (
            not isinstance(conversation, list)
            or not conversation
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in conversation)
            or conversation[-1].get("role") != "assistant"
        ):
            raise RolloutsError(f"{where}: messages[{index}] must be chat messages ending with the assistant's")
        if not isinstance(scores, dict):
            raise RolloutsError(f"{where}: breakdown[{index}] must be an object")
        for key in (*DIMENSIONS, "overall"):
            value = scores.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RolloutsError(f"{where}: breakdown[{index}].{key} must be a number")
    return group


def read_groups(path: str | Path) -> list[dict[str, Any]]:
    """The scored groups of a rollouts file, checked; ``RolloutsError`` names the file and line."""
    return [_check_group(group, f"{path}:{number}") for number, group in read_jsonl(path)]


def rollouts(groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each rollout of ``groups`` in file order: ``{"group", "index", "context_id", "messages", "breakdown"}``."""
    for number, group in enumerate(groups):
        for index, conversation in enumerate(group["messages"]):
            yield {
                "group": number,
                "index": index,
                "context_id": group["context_id"],
                "messages": conversation,
                "breakdown": group["breakdown"][index],
            }
