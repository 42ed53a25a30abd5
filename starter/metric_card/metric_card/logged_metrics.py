"""The metrics of a run: percent of valid JSON, average score per criterion, token usage
efficiency, best and worst generations; and their W&B run (offline) where wandb is installed."""

from __future__ import annotations

from typing import Any


def compute(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of the scored ``groups`` (see the task statement for each key)."""
    # TODO
    raise NotImplementedError("compute")


def log_to_wandb(metrics: dict[str, Any], groups: list[dict[str, Any]], **settings: Any) -> bool:
    """Log ``metrics`` to an offline W&B run; False when wandb is not installed."""
    # TODO: import wandb lazily; mode="offline"
    return False
