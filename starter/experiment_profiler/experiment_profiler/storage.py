"""Where an experiment's files live: ``<output_dir>/<experiment_id>/records.jsonl`` and ``summary.json``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"


def experiment_dir(output_dir: str | Path, experiment_id: str) -> Path:
    return Path(output_dir) / experiment_id


def append_record(folder: Path, record: dict[str, Any]) -> None:
    # TODO: one JSON line per prompt/response pair (see tools.logging_utils)
    raise NotImplementedError("append_record")


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    # TODO
    raise NotImplementedError("write_summary")


def read_summary(folder: str | Path) -> dict[str, Any]:
    # TODO
    raise NotImplementedError("read_summary")
