"""Running an experiment: one request per selected (run, dialogue), logged and scored."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tools import anthropic_client, logging_utils

from . import metrics, storage
from .config import ExperimentConfig, RunPlan, load_config, load_dataset, select_runs

log = logging_utils.get_logger("experiment_profiler")


def _request(plan: RunPlan, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "model": plan.model,
        "max_tokens": plan.max_tokens,
        "effort": plan.effort,
        "stop_sequences": list(plan.stop_sequences),
        "system": plan.system,
        "messages": messages,
    }


def _call(client: Any, request: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {
        "model": request["model"],
        "max_tokens": request["max_tokens"],
        "messages": request["messages"],
    }
    if request["system"]:
        kwargs["system"] = request["system"]
    if request["stop_sequences"]:
        kwargs["stop_sequences"] = request["stop_sequences"]
    if request["effort"]:
        kwargs["output_config"] = {"effort": request["effort"]}
    return client.messages.create(**kwargs)


def run_experiment(config: ExperimentConfig | str | Path, output_dir: str | Path = "runs") -> dict[str, Any]:
    """Run the manifest's enabled runs; write records and ``summary.json``; return the summary."""
    if not isinstance(config, ExperimentConfig):
        config = load_config(config)
    plans = select_runs(config)
    dialogues = {d.id: d for d in load_dataset(config)}
    folder = storage.experiment_dir(output_dir, config.experiment_id)
    storage.reset(folder)
    client = anthropic_client.get_client()

    runs: dict[str, Any] = {}
    every_score: list[dict[str, Any]] = []
    for plan in plans:
        scores = []
        for dialogue_id in plan.dialogue_ids:
            dialogue = dialogues[dialogue_id]
            request = _request(plan, dialogue.messages())
            started = time.perf_counter()
            message = _call(client, request)
            latency_ms = (time.perf_counter() - started) * 1000
            text = "".join(getattr(block, "text", "") for block in message.content)  # text blocks only
            score = metrics.score_response(text, dialogue.expected_facts, message.stop_reason)
            storage.append_record(
                folder,
                {
                    "experiment_id": config.experiment_id,
                    "run": plan.name,
                    "dialogue_id": dialogue.id,
                    "timestamp": logging_utils.utc_timestamp(),
                    "request": request,
                    "response": {
                        "id": message.id,
                        "model": message.model,
                        "text": text,
                        "stop_reason": message.stop_reason,
                        "usage": {
                            "input_tokens": message.usage.input_tokens,
                            "output_tokens": message.usage.output_tokens,
                        },
                    },
                    "metrics": score,
                    "latency_ms": latency_ms,
                },
            )
            scores.append(score)
        runs[plan.name] = {"model": plan.model, **metrics.aggregate(scores)}
        every_score.extend(scores)
        log.info("run %s: %d dialogues", plan.name, len(scores))

    summary = {
        "experiment_id": config.experiment_id,
        "description": config.description,
        "runs": runs,
        "overall": metrics.aggregate(every_score),
    }
    storage.write_summary(folder, summary)
    return summary
