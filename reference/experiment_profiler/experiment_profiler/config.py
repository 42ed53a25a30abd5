"""Experiment manifests: the pydantic models, loading, and run selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from tools.dataset import Dialogue, load_dialogues

Effort = Literal["low", "medium", "high", "xhigh", "max"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
DEFAULT_MAX_TOKENS = 1024


class ConfigError(ValueError):
    """A manifest that cannot be loaded or run; the message says which file and which field."""


class Filters(BaseModel):
    """Which dialogues of the dataset a run uses."""

    model_config = ConfigDict(extra="forbid")

    ids: list[str] | None = None
    tags: list[str] | None = None
    limit: int | None = Field(default=None, ge=1)

    def apply(self, dialogues: list[Dialogue]) -> list[Dialogue]:
        chosen = [
            d
            for d in dialogues
            if (self.ids is None or d.id in self.ids) and (self.tags is None or set(d.tags) & set(self.tags))
        ]
        return chosen[: self.limit] if self.limit is not None else chosen


class RunParameters(BaseModel):
    """Model and sampling parameters; every field is optional so runs can inherit defaults."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    effort: Effort | None = None
    stop_sequences: list[str] | None = None
    system: str | None = None


class RunConfig(RunParameters):
    """One run of the manifest."""

    name: str = Field(pattern=NAME_PATTERN)
    enabled: bool = True
    filters: Filters = Field(default_factory=Filters)


class ExperimentConfig(BaseModel):
    """A whole experiment manifest."""

    model_config = ConfigDict(extra="forbid")

    experiment_id: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    dataset: str | None = None
    defaults: RunParameters = Field(default_factory=RunParameters)
    runs: list[RunConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_runs(self) -> ExperimentConfig:
        seen: set[str] = set()
        for run in self.runs:
            if run.name in seen:
                raise ValueError(f"duplicate run name {run.name!r}")
            seen.add(run.name)
            if run.model is None and self.defaults.model is None:
                raise ValueError(f"run {run.name!r} has no model and defaults.model is not set")
        return self


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
    """Parse and validate a YAML manifest; a relative ``dataset`` is resolved against its folder."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:  # a missing file says "No such file or directory"
        raise ConfigError(f"cannot read config file {source}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the manifest must be a YAML mapping, got {type(data).__name__}")
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid experiment manifest: {exc}") from None
    if config.dataset is not None:
        dataset = Path(config.dataset)
        if not dataset.is_absolute():
            dataset = source.resolve().parent / dataset
        config = config.model_copy(update={"dataset": str(dataset)})
    return config


def _as_config(config: ExperimentConfig | str | Path) -> ExperimentConfig:
    return config if isinstance(config, ExperimentConfig) else load_config(config)


def load_dataset(config: ExperimentConfig) -> list[Dialogue]:
    """The dialogues of the experiment's dataset (the shipped one when none is named)."""
    try:
        return load_dialogues(config.dataset)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def select_runs(config: ExperimentConfig | str | Path) -> list[RunPlan]:
    """The enabled runs in manifest order, with parameters resolved against ``defaults``."""
    config = _as_config(config)
    dialogues = load_dataset(config)
    known = {d.id for d in dialogues}
    plans = []
    for run in config.runs:
        unknown = [i for i in run.filters.ids or [] if i not in known]
        if unknown:
            raise ConfigError(
                f"run {run.name!r}: unknown dialogue id(s) {', '.join(map(repr, unknown))} in filters.ids"
            )
        if not run.enabled:
            continue
        defaults = config.defaults

        def pick(field: str, run: RunConfig = run, defaults: RunParameters = defaults) -> Any:
            value = getattr(run, field)
            return value if value is not None else getattr(defaults, field)

        plans.append(
            RunPlan(
                name=run.name,
                model=pick("model"),
                max_tokens=pick("max_tokens") or DEFAULT_MAX_TOKENS,
                effort=pick("effort"),
                stop_sequences=list(pick("stop_sequences") or []),
                system=pick("system") or None,
                dialogue_ids=[d.id for d in run.filters.apply(dialogues)],
            )
        )
    return plans
