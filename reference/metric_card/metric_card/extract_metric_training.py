"""Curate fine-tuning data from a rollouts file.

``python -m metric_card.extract_metric_training ROLLOUTS [--output-dir DIR] [--threshold X]``
writes ``metric_training.jsonl`` (a chat-format example per rollout whose output holds a JSON
object) and ``metric_training_high_quality.jsonl`` (those whose overall score is at least the
threshold).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metric_card.rollouts import read_groups, rollouts
from metric_card.scoring import extract_json

TRAINING_FILE = "metric_training.jsonl"
HIGH_QUALITY_FILE = "metric_training_high_quality.jsonl"
DEFAULT_THRESHOLD = 0.9


def example_of(rollout: dict[str, Any]) -> dict[str, Any] | None:
    """The chat-format example of a rollout, None when its output holds no JSON object."""
    found = extract_json(rollout["messages"][-1]["content"])
    if not found["found"] or not isinstance(found["value"], dict):
        return None
    prompt = [{"role": m["role"], "content": m["content"]} for m in rollout["messages"][:-1]]
    answer = {"role": "assistant", "content": json.dumps(found["value"], indent=2, ensure_ascii=False)}
    return {
        "messages": [*prompt, answer],
        "score": rollout["breakdown"]["overall"],
        "context_id": rollout["context_id"],
    }


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8"
    )  # pragma: no mutate (escapes read back the same)


def extract_training(
    rollouts_path: str | Path, output_dir: str | Path | None = None, threshold: float = DEFAULT_THRESHOLD
) -> dict[str, int]:
    """Write both files into ``output_dir`` (default: the rollouts file's folder); their sizes."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be a number between 0 and 1, got {threshold!r}")
    groups = read_groups(rollouts_path)
    folder = Path(output_dir) if output_dir is not None else Path(rollouts_path).parent
    folder.mkdir(parents=True, exist_ok=True)
    examples = [e for e in (example_of(r) for r in rollouts(groups)) if e is not None]
    high = [e for e in examples if e["score"] >= threshold]
    _write_jsonl(folder / TRAINING_FILE, examples)
    _write_jsonl(folder / HIGH_QUALITY_FILE, high)
    return {"examples": len(examples), "high_quality": len(high)}


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:  # pragma: no mutate (argparse reports a type's ValueError the same way)
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or not 0 <= value <= 1:  # noqa: E501  # pragma: no mutate (extract_training refuses the rest the same way)
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="extract_metric_training", description=__doc__.splitlines()[0])  # noqa: E501  # pragma: no mutate (help text)
    parser.add_argument("rollouts")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--threshold", type=_threshold, default=DEFAULT_THRESHOLD)
    args = parser.parse_args(argv)
    try:
        counts = extract_training(args.rollouts, args.output_dir, args.threshold)
    except (ValueError, OSError) as exc:  # a RolloutsError is a ValueError
        print(f"extract_metric_training: {exc}", file=sys.stderr)
        return 2  # pragma: no mutate (any failing status)
    print(f"{counts['examples']} examples, {counts['high_quality']} at or above {args.threshold}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
