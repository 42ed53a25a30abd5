"""The environment: prompts from contexts, groups of completions through the client, scored,
saved as scored groups (JSONL), rendered as HTML, summarised as metrics."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.contexts import load_contexts
from tools.openai_client import get_client

from metric_card import html_report, logged_metrics, prompts, scoring

DEFAULT_MODEL = "gpt-4.1-mini"


@dataclass
class EnvConfig:
    """What ``process`` runs: the seed's ``--env.*`` and ``--openai.*`` settings."""

    data_path_to_save_groups: str = "artifacts/metric_rollouts.jsonl"
    group_size: int = 4
    num_prompts: int | None = None
    seed: int = 0
    contexts_path: str | None = None
    max_token_length: int = 1024
    temperature: float = 1.0  # pragma: no mutate
    model_name: str = DEFAULT_MODEL
    use_wandb: bool = True  # pragma: no mutate

    def check(self) -> None:
        if self.group_size < 1:
            raise ValueError(f"group_size must be at least 1, got {self.group_size}")
        if self.num_prompts is not None and self.num_prompts < 1:
            raise ValueError(f"num_prompts must be at least 1, got {self.num_prompts}")
        if self.max_token_length < 1:
            raise ValueError(f"max_token_length must be at least 1, got {self.max_token_length}")
        if not 0 <= self.temperature <= 2:  # pragma: no mutate (the API checks it too)
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")
        if not self.data_path_to_save_groups:
            raise ValueError("data_path_to_save_groups must name a file")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these are files people open
        os.replace(temporary, path)
    except BaseException:  # pragma: no mutate
        Path(temporary).unlink(missing_ok=True)  # pragma: no mutate
        raise


def html_path(rollouts: str | Path) -> Path:
    """``metric_rollouts.html`` beside ``metric_rollouts.jsonl``."""
    return Path(rollouts).with_suffix(".html")


def metrics_path(rollouts: str | Path) -> Path:
    """``metric_rollouts.metrics.json`` beside ``metric_rollouts.jsonl``."""
    return Path(rollouts).with_suffix(".metrics.json")


class MetricCardEnv:
    """Collects and scores groups of completions, one group per prompt."""

    def __init__(self, config: EnvConfig, client: Any = None) -> None:
        config.check()
        self.config = config
        self.contexts = load_contexts(config.contexts_path)
        self.client = client if client is not None else get_client()

    def prompts(self) -> list[dict[str, Any]]:
        """The contexts to prompt from: ``num_prompts`` of them, in file order, cycling."""
        count = self.config.num_prompts or len(self.contexts)
        return [self.contexts[i % len(self.contexts)] for i in range(count)]

    def collect_group(self, context: dict[str, Any]) -> dict[str, Any]:
        """One request with ``n = group_size``; the scored group of its completions."""
        messages = prompts.build_messages(context)
        response = self.client.chat.completions.create(
            model=self.config.model_name,
            messages=messages,
            n=self.config.group_size,
            seed=self.config.seed,
            temperature=self.config.temperature,
            max_tokens=self.config.max_token_length,
        )
        choices = sorted(response.choices, key=lambda c: c.index)
        completions = [choice.message.content or "" for choice in choices]
        breakdowns = [scoring.breakdown(scoring.score_output(text, context)) for text in completions]
        usage = response.usage  # None only from servers that do not report usage
        return {
            "context_id": context["id"],
            "context": context,
            "messages": [[*messages, {"role": "assistant", "content": text}] for text in completions],
            "scores": [b["overall"] for b in breakdowns],
            "breakdown": breakdowns,
            "finish_reasons": [choice.finish_reason for choice in choices],
            "response_id": response.id,
            "usage": {
                "prompt_tokens": usage.prompt_tokens if usage else 0,  # pragma: no mutate
                "completion_tokens": usage.completion_tokens if usage else 0,  # pragma: no mutate
                "total_tokens": usage.total_tokens if usage else 0,  # pragma: no mutate
            },
        }

    def process(self) -> dict[str, Any]:
        """Collect every group, write the rollouts, the HTML page and the metrics; the metrics."""
        groups = [self.collect_group(context) for context in self.prompts()]
        target = Path(self.config.data_path_to_save_groups)
        _atomic_write(target, "".join(json.dumps(g, ensure_ascii=False) + "\n" for g in groups))  # noqa: E501  # pragma: no mutate (escapes read back the same)
        _atomic_write(html_path(target), html_report.render(groups, title=target.name))
        metrics = logged_metrics.compute(groups)
        _atomic_write(metrics_path(target), json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
        if self.config.use_wandb:  # pragma: no mutate (wandb is never importable in the sandbox)
            logged_metrics.log_to_wandb(metrics, groups, config=vars(self.config), directory=target.parent)
        return metrics


def run_process(data_path_to_save_groups: str, **settings: Any) -> dict[str, Any]:
    """``process`` as a function: the settings are ``EnvConfig``'s fields; returns the metrics."""
    return MetricCardEnv(EnvConfig(data_path_to_save_groups=data_path_to_save_groups, **settings)).process()
