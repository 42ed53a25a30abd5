"""Experiment manifests: the pydantic models, loading, and run selection."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

Effort = Literal["low", "medium", "high", "xhigh", "max"]
DEFAULT_MAX_TOKENS = 1024


class ConfigError(ValueError):
    """A manifest that cannot be loaded or run; the message says which file and which field."""


class RunConfig(BaseModel):
    """One run of the manifest."""

    model_config = ConfigDict(extra="forbid")

    name: str
    # TODO: enabled, model, max_tokens, effort, stop_sequences, system, filters (ids, tags, limit)


class ExperimentConfig(BaseModel):
    """A whole experiment manifest."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str
    runs: list[RunConfig]
    # TODO: description, dataset, defaults; validate names, parameters and cross-field rules


class RunPlan(BaseModel):
    """A selected run with its parameters resolved and its dialogues chosen."""

    name: str
    model: str
    max_tokens: int
    effort: Effort | None
    stop_sequences: list[str]
    system: str | None
    dialogue_ids: list[str]


def load_config(path: str | Path) -> ExperimentConfig:
    """Parse and validate a YAML manifest."""
    # TODO: read the file, parse the YAML, validate it, resolve the dataset path; raise ConfigError
    raise NotImplementedError("load_config")


def select_runs(config: ExperimentConfig | str | Path) -> list[RunPlan]:
    """The runs to execute, in manifest order, with resolved parameters and selected dialogues."""
    # TODO
    raise NotImplementedError("select_runs")
