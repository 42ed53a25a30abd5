"""Where an experiment's files live: ``<output_dir>/<experiment_id>/records.jsonl`` and ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools import logging_utils

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"


class StorageError(ValueError):
    """An experiment folder or its files are missing or malformed."""


def experiment_dir(output_dir: str | Path, experiment_id: str) -> Path:
    return Path(output_dir) / experiment_id


def reset(folder: Path) -> None:
    """Prepare a fresh experiment folder: a re-run replaces the previous records and summary."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in (RECORDS_FILE, SUMMARY_FILE):
        (folder / name).unlink(missing_ok=True)


def append_record(folder: Path, record: dict[str, Any]) -> None:
    logging_utils.validate_record(record)
    logging_utils.append_jsonl(folder / RECORDS_FILE, record)


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    logging_utils.validate_summary(summary)
    path = folder / SUMMARY_FILE
    logging_utils.write_json(path, summary)
    return path


def read_summary(folder: str | Path) -> dict[str, Any]:
    """The summary of an experiment folder; ``StorageError`` names the folder when it is unusable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StorageError(f"experiment directory not found: {folder}")
    path = folder / SUMMARY_FILE
    if not path.is_file():
        raise StorageError(f"no {SUMMARY_FILE} in {folder}: run the experiment first")
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # an unreadable file's OSError names it too
        raise StorageError(f"{path}: cannot read summary: {exc}") from None
    try:
        logging_utils.validate_summary(summary)
    except ValueError as exc:
        raise StorageError(f"{path}: {exc}") from None
    return summary
