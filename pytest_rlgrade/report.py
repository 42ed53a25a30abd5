"""The JSON report: typed models, atomic writing, and the shipped JSON Schema.

Consumers should ignore keys they do not know; ``schema_version`` changes when a key they may rely
on changes meaning or goes away. ``report.schema.json`` beside this module is generated from these
models (``python -m pytest_rlgrade.report --write-schema``) and a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")

# not_run: not run because the reward was already settled (the submission has no package).
Outcome = Literal[
    "passed",
    "failed",
    "error",
    "skipped",
    "xfailed",
    "xpassed",
    "missing",
    "timeout",
    "crash",
    "memory",
    "protocol",
    "not_run",
]
# Flags a task can carry. Submission faults: timeout, crash, memory, protocol, output_truncated,
# tamper (the submission carried files meant to subvert grading; they were not used),
# missing_package (no package where the task expects it: reward 0, `reason` says what was
# expected where), invalid_submission (in-memory files that cannot be laid out: an absolute
# path, one climbing out with `..` or through a file). Not the submission's fault, reward null:
# missing_tests (expected tests did not run), infra_error, task_error, interrupted. For task
# authors: starter_over_cap.
Flag = Literal[
    "timeout",
    "crash",
    "memory",
    "protocol",
    "output_truncated",
    "tamper",
    "missing_package",
    "invalid_submission",
    "missing_tests",
    "infra_error",
    "task_error",
    "interrupted",
    "starter_over_cap",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TestResult(_Model):
    node_id: str
    outcome: Outcome
    weight: float = Field(ge=0)
    gate: bool = False
    duration: float = Field(ge=0)
    message: str | None = Field(default=None, description="why it did not pass; null when passed or hidden")


class MetricResult(_Model):
    name: str
    value: float | None = Field(description="the recorded value; null when no test recorded it")
    target: float
    baseline: float
    direction: Literal["higher", "lower"]
    weight: float = Field(ge=0)
    credit: float = Field(ge=0, le=1)


class Counts(_Model):
    total: int = Field(ge=0)
    passed: int = Field(ge=0)
    failed: int = Field(ge=0, description="everything that did not pass, missing tests included")
    missing: int = Field(ge=0)


class TaskReport(_Model):
    name: str
    reward: float | None = Field(ge=0, le=1, description="null when the task could not be graded")
    flags: list[Flag] = Field(default_factory=list)
    error: str | None = Field(default=None, description="why the task could not be graded")
    reason: str | None = Field(default=None, description="why the submission earned nothing without its tests running")
    instance: str | None = Field(default=None, description="the dataset instance graded, for a task with instances")
    counts: Counts
    duration: float = Field(ge=0)
    tests: list[TestResult] = Field(default_factory=list)
    metrics: list[MetricResult] = Field(default_factory=list)


class SandboxInfo(_Model):
    isolation: Literal["sandbox", "none"]
    confinement: list[str] = Field(default_factory=list, description="the mechanisms that were in force")


class Report(_Model):
    schema_version: Literal[1] = SCHEMA_VERSION
    submission: str = Field(description="--submission as given")
    submission_path: str = Field(description="the folder graded, resolved")
    seed: int
    reward: float | None = Field(ge=0, le=1, description="mean of the task rewards; null if any is null")
    exit_status: int
    duration: float = Field(ge=0)
    sandbox: SandboxInfo
    tasks: list[TaskReport]


def write_report(report: Report, path: Path) -> None:
    """Write the report atomically (see :func:`write_report_data`)."""
    write_report_data(report.model_dump(mode="json"), path)


def write_report_data(data: dict[str, Any], path: Path, *, durable: bool = True) -> None:
    """Write JSON-ready report data atomically: a temporary file beside ``path``, flushed and
    (``durable``) synced, then renamed over it, so a reader never sees a half-written report.
    ``durable=False`` is for a report read back at once and then removed (a grader worker's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, allow_nan=False)
            out.write("\n")
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def report_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Report`, as generated from the models."""
    schema = Report.model_json_schema()
    # The models forbid unknown keys when *we* build a report, but readers must ignore keys they do
    # not know (hooks may add some), so the published schema allows them.
    _allow_unknown_keys(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://pytest-rlgrade.invalid/report.schema.json"
    return schema


def _allow_unknown_keys(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("additionalProperties") is False:
            del node["additionalProperties"]
        for value in node.values():
            _allow_unknown_keys(value)
    elif isinstance(node, list):
        for value in node:
            _allow_unknown_keys(value)


@cache
def shipped_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _validator() -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(shipped_schema())


def validate_report_data(data: Any) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``data`` is a valid report (the first error, as
    ``jsonschema.validate`` would; the shipped schema itself is checked by a test, not per call)."""
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        raise error


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Print or write the report's JSON Schema.")
    parser.add_argument("--write-schema", action="store_true", help=f"write it to {SCHEMA_PATH}")
    args = parser.parse_args(argv)
    text = json.dumps(report_schema(), indent=2) + "\n"
    if args.write_schema:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
