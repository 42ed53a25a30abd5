"""The metrics of a run: percent of valid JSON, average score per criterion, token usage
efficiency, best and worst generations; and their W&B run (offline) where wandb is installed."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from metric_card.scoring import DIMENSIONS


def _rollouts(groups: list[dict[str, Any]]) -> list[tuple[int, int, dict[str, Any]]]:
    return [(g, i, group) for g, group in enumerate(groups) for i in range(len(group["breakdown"]))]


def _pick(groups: list[dict[str, Any]], number: int, index: int) -> dict[str, Any]:
    group = groups[number]
    return {
        "group": number,
        "index": index,
        "context_id": group["context_id"],
        "overall": group["breakdown"][index]["overall"],
        "completion": group["messages"][index][-1]["content"],
    }


def compute(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of the scored ``groups`` (see the task statement for each key)."""
    rollouts = _rollouts(groups)
    count = len(rollouts)
    averages = {
        d: (sum(group["breakdown"][i][d] for _, i, group in rollouts) / count if count else 0.0)
        for d in (*DIMENSIONS, "overall")
    }
    valid = sum(1 for _, i, group in rollouts if group["breakdown"][i]["json_validity"] == 1.0)
    prompt_tokens = sum(group["usage"]["prompt_tokens"] for group in groups)
    completion_tokens = sum(group["usage"]["completion_tokens"] for group in groups)
    total_score = sum(group["breakdown"][i]["overall"] for _, i, group in rollouts)
    best = worst = None
    for number, index, group in rollouts:
        score = group["breakdown"][index]["overall"]
        if best is None or score > groups[best[0]]["breakdown"][best[1]]["overall"]:
            best = (number, index)
        if worst is None or score < groups[worst[0]]["breakdown"][worst[1]]["overall"]:
            worst = (number, index)
    return {
        "num_groups": len(groups),
        "num_rollouts": count,
        "percent_valid_json": 100.0 * valid / count if count else 0.0,  # pragma: no mutate (a run has a rollout)
        "average_scores": averages,
        "tokens": {
            "prompt": prompt_tokens,
            "completion": completion_tokens,
            "total": prompt_tokens + completion_tokens,
            "completion_per_rollout": completion_tokens / count if count else 0.0,
            "score_per_1k_completion_tokens": 1000.0 * total_score / completion_tokens if completion_tokens else 0.0,
        },
        "best": _pick(groups, *best) if best else None,
        "worst": _pick(groups, *worst) if worst else None,
    }


def log_to_wandb(
    metrics: dict[str, Any],
    groups: list[dict[str, Any]],
    *,  # pragma: no mutate - the callers pass keywords: '/' would say the same
    config: dict[str, Any],
    directory: str | Path,
) -> bool:
    """Log ``metrics`` to an offline W&B run; False (and nothing done) when wandb is not installed.

    wandb is never importable in the sandbox, so what follows its import is not mutated."""
    try:
        wandb = importlib.import_module("wandb")
    except ImportError:
        return False  # pragma: no mutate (nobody reads it in the sandbox)
    run = wandb.init(project="metric_card", mode="offline", dir=str(directory), config=config)  # pragma: no mutate
    try:
        flat = {
            "percent_valid_json": metrics["percent_valid_json"],  # pragma: no mutate
            **{f"avg/{k}": v for k, v in metrics["average_scores"].items()},  # pragma: no mutate
            **{f"tokens/{k}": v for k, v in metrics["tokens"].items()},  # pragma: no mutate
        }
        run.log(flat)  # pragma: no mutate
        table = wandb.Table(columns=["which", "context_id", "overall", "completion"])  # pragma: no mutate
        for which in ("best", "worst"):  # pragma: no mutate
            pick = metrics[which]  # pragma: no mutate
            if pick:  # pragma: no mutate
                table.add_data(which, pick["context_id"], pick["overall"], pick["completion"])  # pragma: no mutate
        run.log({"generations": table})  # pragma: no mutate
    finally:
        run.finish()  # pragma: no mutate
    return True  # pragma: no mutate (wandb is never importable in the sandbox)
