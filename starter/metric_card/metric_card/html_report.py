"""The rollouts as one self-contained HTML page: every output with its scores and reasons."""

from __future__ import annotations

from typing import Any


def render(groups: list[dict[str, Any]], title: str = "metric_rollouts") -> str:
    """The page of ``groups`` (scored groups as written to the rollouts file)."""
    # TODO: one element of class "rollout" per rollout (data-group, data-index), the output in a
    # <pre>, each score in an element with data-score; escape everything
    raise NotImplementedError("render")
