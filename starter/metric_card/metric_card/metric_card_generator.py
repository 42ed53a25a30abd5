"""The environment: prompts from contexts, groups of completions through the client, scored,
saved as scored groups (JSONL), rendered as HTML, summarised as metrics."""

from __future__ import annotations

from typing import Any

DEFAULT_MODEL = "gpt-4.1-mini"


def run_process(
    data_path_to_save_groups: str,
    group_size: int = 4,
    num_prompts: int | None = None,
    seed: int = 0,
    contexts_path: str | None = None,
    max_token_length: int = 1024,
    model_name: str = DEFAULT_MODEL,
    use_wandb: bool = True,
) -> dict[str, Any]:
    """Collect one scored group per prompt through ``tools.openai_client.get_client()``, write the
    rollouts, ``metric_rollouts.html`` and ``metric_rollouts.metrics.json``; return the metrics."""
    # TODO: contexts (tools.contexts), one request per prompt with n=group_size, scoring,
    # the scored groups (JSONL), the HTML page (html_report), the metrics (logged_metrics)
    raise NotImplementedError("run_process")
