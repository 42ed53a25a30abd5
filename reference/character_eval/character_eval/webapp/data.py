"""What the dashboard shows, read from the pipeline's folders under a data root (the current
directory unless ``CHARACTER_EVAL_DATA_DIR`` says otherwise)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

CONTEXTS = Path("synthetic_evaluation_data") / "contexts"
CONVERSATIONS = Path("synthetic_evaluation_data") / "conversations"
RESULTS = Path("results")
JOBS = Path("finetuning") / "jobs.jsonl"


def data_root() -> Path:
    return Path(os.environ.get("CHARACTER_EVAL_DATA_DIR", "."))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def context_files(root: Path) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for path in sorted((root / CONTEXTS).glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, list):
            found[path.name] = [c for c in data if isinstance(c, dict)]
    return found


def conversation_files(root: Path) -> dict[str, list[dict[str, Any]]]:
    return {path.name: _jsonl(path) for path in sorted((root / CONVERSATIONS).glob("*.jsonl"))}


def evaluation_runs(root: Path) -> dict[str, dict[str, Any]]:
    runs = {}
    for folder in sorted(p for p in (root / RESULTS).glob("*") if (p / "summary.json").is_file()):
        try:
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except ValueError:
            continue
        records = _jsonl(folder / "evaluations.jsonl") if (folder / "evaluations.jsonl").is_file() else []
        runs[folder.name] = {"summary": summary, "records": records}
    return runs


def jobs(root: Path) -> list[dict[str, Any]]:
    path = root / JOBS
    return _jsonl(path) if path.is_file() else []
