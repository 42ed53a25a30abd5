"""Logging helpers: JSON/JSONL writers and the schemas of the profiler's files.

``RECORD_SCHEMA`` is the JSON Schema of one log record (one prompt/response pair, one line of
``records.jsonl``); ``SUMMARY_SCHEMA`` is the JSON Schema of ``summary.json``. ``validate_record``
and ``validate_summary`` check data against them (they need the ``jsonschema`` package).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EFFORTS = ["low", "medium", "high", "xhigh", "max"]

_RATE = {"type": "number", "minimum": 0, "maximum": 1}

RECORD_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "experiment_profiler log record",
    "type": "object",
    "required": ["experiment_id", "run", "dialogue_id", "timestamp", "request", "response", "metrics", "latency_ms"],
    "properties": {
        "experiment_id": {"type": "string", "minLength": 1},
        "run": {"type": "string", "minLength": 1},
        "dialogue_id": {"type": "string", "minLength": 1},
        "timestamp": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"},
        "request": {
            "type": "object",
            "required": ["model", "max_tokens", "effort", "stop_sequences", "system", "messages"],
            "properties": {
                "model": {"type": "string", "minLength": 1},
                "max_tokens": {"type": "integer", "minimum": 1},
                "effort": {"enum": [*EFFORTS, None]},
                "stop_sequences": {"type": "array", "items": {"type": "string"}},
                "system": {"type": ["string", "null"]},
                "messages": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["role", "content"],
                        "properties": {"role": {"enum": ["user", "assistant"]}, "content": {"type": "string"}},
                    },
                },
            },
        },
        "response": {
            "type": "object",
            "required": ["id", "model", "text", "stop_reason", "usage"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "model": {"type": "string"},
                "text": {"type": "string"},
                "stop_reason": {"type": ["string", "null"]},
                "usage": {
                    "type": "object",
                    "required": ["input_tokens", "output_tokens"],
                    "properties": {
                        "input_tokens": {"type": "integer", "minimum": 0},
                        "output_tokens": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
        "metrics": {
            "type": "object",
            "required": ["fact_coverage", "completed", "refused"],
            "properties": {
                "fact_coverage": _RATE,
                "completed": {"type": "boolean"},
                "refused": {"type": "boolean"},
            },
        },
        "latency_ms": {"type": "number", "minimum": 0},
    },
}

_AGGREGATE: dict[str, Any] = {
    "type": "object",
    "required": ["num_records", "fact_coverage", "completion_rate", "refusal_rate", "geometric_mean"],
    "properties": {
        "num_records": {"type": "integer", "minimum": 0},
        "fact_coverage": _RATE,
        "completion_rate": _RATE,
        "refusal_rate": _RATE,
        "geometric_mean": _RATE,
    },
}

SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "experiment_profiler summary",
    "type": "object",
    "required": ["experiment_id", "runs", "overall"],
    "properties": {
        "experiment_id": {"type": "string", "minLength": 1},
        "runs": {
            "type": "object",
            "additionalProperties": {
                **_AGGREGATE,
                "required": [*_AGGREGATE["required"], "model"],
                "properties": {**_AGGREGATE["properties"], "model": {"type": "string"}},
            },
        },
        "overall": _AGGREGATE,
    },
}


def get_logger(name: str = "experiment_profiler") -> logging.Logger:
    """A logger writing ``LEVEL name: message`` lines to stderr (configured once)."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def utc_timestamp() -> str:
    """The current time as an ISO 8601 UTC string, e.g. ``2025-01-31T12:00:00.123456+00:00``."""
    return datetime.now(UTC).isoformat()


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line to ``path`` (creating parent folders)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All records of a JSON Lines file (blank lines skipped)."""
    with Path(path).open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream if line.strip()]


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically (temporary file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_VALIDATORS: dict[int, Any] = {}


def _validator(schema: dict[str, Any]) -> Any:
    """The schema's validator, its own soundness checked once (as ``jsonschema.validate`` does on
    every call, at ~50 ms a record)."""
    import jsonschema

    cached = _VALIDATORS.get(id(schema))
    if cached is None or cached.schema is not schema:
        kind = jsonschema.validators.validator_for(schema)
        kind.check_schema(schema)
        cached = _VALIDATORS[id(schema)] = kind(schema)
    return cached


def _validate(data: Any, schema: dict[str, Any], what: str) -> None:
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"invalid {what} at {where}: {error.message}")


def validate_record(record: Any) -> None:
    """Raise ``ValueError`` unless ``record`` matches ``RECORD_SCHEMA``."""
    _validate(record, RECORD_SCHEMA, "log record")


def validate_summary(summary: Any) -> None:
    """Raise ``ValueError`` unless ``summary`` matches ``SUMMARY_SCHEMA``."""
    _validate(summary, SUMMARY_SCHEMA, "summary")
