"""Running an experiment: one request per selected (run, dialogue), logged and scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ExperimentConfig


def run_experiment(config: ExperimentConfig | str | Path, output_dir: str | Path = "runs") -> dict[str, Any]:
    """Run the manifest's selected runs, persist records and ``summary.json``, return the summary."""
    # TODO: select the runs, call tools.anthropic_client.get_client() for every (run, dialogue),
    # log each pair, score it, aggregate, write summary.json
    raise NotImplementedError("run_experiment")
