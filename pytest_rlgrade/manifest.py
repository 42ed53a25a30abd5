"""Task manifests: ``tasks/NAME/task.yaml`` parsed into frozen pydantic models.

A bad manifest raises :class:`~pytest_rlgrade.errors.ManifestError` naming the file and the key
(``tasks/x/task.yaml: reward.metrics.speed.target: Input should be a valid number``), never a
traceback from inside pydantic or PyYAML.
"""

from __future__ import annotations

import functools
import keyword
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError, field_validator, model_validator

from .errors import ManifestError

MANIFEST_NAME = "task.yaml"
# Folders of a task that hold trusted material and must never reach the sandbox.
TRUSTED_FOLDERS = frozenset({"tests", "hidden"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricSpec(_Model):
    """A measured value that earns partial credit against its target.

    Credit is ``clamp((value - baseline) / (target - baseline), 0, 1)``: ``baseline`` is the value
    that earns nothing. ``direction`` says which side of the baseline the target lies on.
    """

    target: FiniteFloat
    baseline: FiniteFloat | None = None
    weight: FiniteFloat = Field(default=1.0, ge=0)
    direction: Literal["higher", "lower"] = "higher"

    @model_validator(mode="after")
    def _consistent(self) -> MetricSpec:
        if not math.isfinite(self.target):
            raise ValueError("target must be a finite number")
        if self.baseline is None:
            if self.direction == "lower":
                raise ValueError("a metric with direction 'lower' needs a baseline (the value that earns nothing)")
            object.__setattr__(self, "baseline", 0.0)
        assert self.baseline is not None
        if self.direction == "higher" and not self.target > self.baseline:
            raise ValueError(f"direction 'higher' needs target > baseline, got {self.target} <= {self.baseline}")
        if self.direction == "lower" and not self.target < self.baseline:
            raise ValueError(f"direction 'lower' needs target < baseline, got {self.target} >= {self.baseline}")
        return self


class RewardSpec(_Model):
    """How a task's outcomes become its reward."""

    starter_cap: FiniteFloat = Field(default=0.1, ge=0, le=1)
    default_weight: FiniteFloat = Field(default=1.0, ge=0)
    weights: dict[str, FiniteFloat] = Field(default_factory=dict)
    gates: list[str] = Field(default_factory=list)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    # `rlgrade validate`: the share of the reference's mutants a sound grader must fail.
    min_kill_rate: FiniteFloat = Field(default=0.9, ge=0, le=1)

    @field_validator("weights")
    @classmethod
    def _weights_not_negative(cls, weights: dict[str, float]) -> dict[str, float]:
        for selector, weight in weights.items():
            if not weight >= 0:
                raise ValueError(f"weight of {selector!r} must be >= 0, got {weight}")
        return weights


class Limits(_Model):
    """What the sandbox allows one task's submission."""

    call_timeout: FiniteFloat = Field(default=10.0, gt=0)
    test_timeout: FiniteFloat = Field(default=60.0, gt=0)
    task_timeout: FiniteFloat = Field(default=300.0, gt=0)
    memory_mb: int = Field(default=2048, ge=64)
    output_mb: int = Field(default=16, ge=1)
    processes: int = Field(default=64, ge=1)
    open_files: int = Field(default=256, ge=16)
    message_mb: int = Field(default=16, ge=1)
    fault_budget: int = Field(default=2, ge=1)


class TaskManifest(_Model):
    """The contents of one ``task.yaml``."""

    name: str
    package: str
    prompt: str = "prompt.md"
    public: list[str] = Field(default_factory=list)
    preload: list[str] = Field(default_factory=list)
    # Third-party distributions (as pip names them) the submission may import: the sandbox sees
    # these, what they depend on, and the standard library; nothing else of the grading
    # environment's site-packages.
    dependencies: list[str] = Field(default_factory=list)
    # A JSONL file of the task whose rows each have a unique string `id`: the dataset instances.
    instances: str | None = None
    # Withhold every failure message from the report (an RL loop must not see expected values).
    hide_messages: bool = False
    reward: RewardSpec = Field(default_factory=RewardSpec)
    limits: Limits = Field(default_factory=Limits)

    @field_validator("name")
    @classmethod
    def _name_is_plain(cls, name: str) -> str:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not a folder name")
        return name

    @field_validator("package")
    @classmethod
    def _package_is_importable(cls, package: str) -> str:
        if not package.isidentifier() or keyword.iskeyword(package):
            raise ValueError(f"{package!r} is not a top-level import name")
        return package

    @field_validator("dependencies")
    @classmethod
    def _dependencies_are_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", name):
                raise ValueError(f"{name!r} is not a distribution name (as in `pip install NAME`)")
        return names

    @field_validator("instances")
    @classmethod
    def _instances_inside(cls, entry: str | None) -> str | None:
        if entry is not None:
            parts = Path(entry).parts
            if not parts or Path(entry).is_absolute() or ".." in parts:
                raise ValueError(f"{entry!r} must be a path inside the task folder")
        return entry

    @field_validator("public")
    @classmethod
    def _public_is_safe(cls, public: list[str]) -> list[str]:
        for entry in public:
            parts = Path(entry).parts
            if not parts or Path(entry).is_absolute() or ".." in parts:
                raise ValueError(f"{entry!r} must be a path inside the task folder")
            if parts[0] in TRUSTED_FOLDERS:
                raise ValueError(f"{entry!r} is trusted material and cannot be public")
        return public


@dataclass(frozen=True)
class Task:
    """A task found on disk: its manifest and where it lives."""

    manifest: TaskManifest
    folder: Path

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def package(self) -> str:
        return self.manifest.package

    @property
    def tests_dir(self) -> Path:
        return self.folder / "tests"

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_NAME

    def public_paths(self) -> list[Path]:
        return [self.folder / entry for entry in self.manifest.public]


def _key_of(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def parse_manifest(data: Any, path: Path) -> TaskManifest:
    """Validate already-loaded YAML data; errors name ``path`` and the first bad key."""
    if not isinstance(data, Mapping):
        raise ManifestError(path, None, f"must be a mapping of keys, not {type(data).__name__}")
    try:
        return TaskManifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise ManifestError(path, _key_of(first["loc"]), message) from None


def _strict_loader() -> type[Any]:
    """A safe YAML loader that refuses duplicate keys (PyYAML silently keeps the last one, which
    would drop, say, a task's gates without a word)."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    return StrictLoader


def load_task(folder: Path) -> Task:
    """Load and check ``folder/task.yaml``."""
    import yaml

    path = folder / MANIFEST_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(path, None, f"cannot be read: {exc}") from None
    try:
        data = yaml.load(text, Loader=_strict_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ManifestError(path, None, f"not valid YAML{where}: {problem}") from None
    manifest = parse_manifest(data, path)
    if manifest.name != folder.name:
        raise ManifestError(path, "name", f"{manifest.name!r} differs from the folder's name {folder.name!r}")
    for entry in manifest.public:
        if not (folder / entry).exists():
            raise ManifestError(path, "public", f"{entry!r} does not exist in {folder}")
    if not (folder / "tests").is_dir():
        raise ManifestError(path, None, f"the task has no tests folder ({folder / 'tests'})")
    return Task(manifest, folder)


def discover_tasks(tasks_root: Path) -> dict[str, Path]:
    """The task folders under ``tasks_root`` (those holding a ``task.yaml``), by name."""
    if not tasks_root.is_dir():
        return {}
    return {p.parent.name: p.parent for p in sorted(tasks_root.glob(f"*/{MANIFEST_NAME}"))}


def selector_matches(selector: str, test_id: str, markers: Collection[str]) -> bool:
    """Whether a weight or gate selector picks a test.

    ``marker:NAME`` picks tests carrying that marker; anything else is a glob over the test's id
    relative to the task's tests folder (``test_cli.py::test_run``, ``test_cli.py::*``,
    ``test_x.py::test_y[*]``). Only ``*`` and ``?`` are wildcards: brackets stand for themselves,
    since parametrized ids carry them.
    """
    if selector.startswith("marker:"):
        return selector.removeprefix("marker:") in markers
    return _glob(selector).fullmatch(test_id) is not None


@functools.cache
def _glob(selector: str) -> re.Pattern[str]:
    return re.compile(re.escape(selector).replace(r"\*", ".*").replace(r"\?", "."), re.DOTALL)


def weight_of(spec: RewardSpec, test_id: str, markers: Collection[str]) -> float:
    """The weight of a test: the first matching selector's, else the default."""
    for selector, weight in spec.weights.items():
        if selector_matches(selector, test_id, markers):
            return weight
    return spec.default_weight


def is_gate(spec: RewardSpec, test_id: str, markers: Collection[str]) -> bool:
    return any(selector_matches(selector, test_id, markers) for selector in spec.gates)


def markers_named(spec: RewardSpec) -> set[str]:
    """Markers the reward spec refers to, to register them so ``--strict-markers`` accepts them."""
    selectors = [*spec.weights, *spec.gates]
    return {s.removeprefix("marker:") for s in selectors if s.startswith("marker:")}


def load_instances(task: Task) -> list[dict[str, Any]]:
    """The rows of a task's ``instances`` file (JSONL, each an object with a unique string
    ``id``); ``[]`` for a task without instances. Errors name the file and the line."""
    import json

    if task.manifest.instances is None:
        return []
    path = task.folder / task.manifest.instances
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(task.manifest_path, "instances", f"{path} cannot be read: {exc}") from None
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise ManifestError(path, f"line {number}", f"not JSON: {exc}") from None
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
            raise ManifestError(path, f"line {number}", "each row must be an object with a non-empty string 'id'")
        if row["id"] in seen:
            raise ManifestError(path, f"line {number}", f"the id {row['id']!r} is there twice")
        seen.add(row["id"])
        rows.append(row)
    if not rows:
        raise ManifestError(path, None, "holds no instances")
    return rows
