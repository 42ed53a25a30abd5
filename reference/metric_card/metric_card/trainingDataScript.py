"""Build a training dataset from collected chat-format examples: deduplicated, then split.

``python -m metric_card.trainingDataScript INPUT... --output-dir DIR [--val-fraction X] [--seed N]``
writes ``train.jsonl``, ``validation.jsonl`` and ``dataset_info.json`` into ``DIR``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from metric_card.rollouts import RolloutsError, read_jsonl

TRAIN_FILE = "train.jsonl"
VALIDATION_FILE = "validation.jsonl"
INFO_FILE = "dataset_info.json"
ROLES = ("system", "developer", "user", "assistant")


def _check_example(example: Any, where: str) -> dict[str, Any]:
    messages = example.get("messages") if isinstance(example, dict) else None
    if not isinstance(messages, list) or not messages:
        raise RolloutsError(f"{where}: an example needs a non-empty list 'messages'")
    for number, message in enumerate(messages):
        if (
            not isinstance(message, dict)
            or message.get("role") not in ROLES
            or not isinstance(message.get("content"), str)
        ):
            raise RolloutsError(f"{where}: messages[{number}] needs a role ({', '.join(ROLES)}) and a string content")
    if messages[-1]["role"] != "assistant":
        raise RolloutsError(f"{where}: the last message must be the assistant's")
    return example


def build_dataset(
    inputs: Sequence[str | Path], output_dir: str | Path, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, Any]:
    """Read every example of ``inputs`` in order, drop repeated conversations (keeping the first),
    shuffle with ``random.Random(seed)``, put the first ``round(n * val_fraction)`` in validation
    and the rest in train. Returns (and writes as ``dataset_info.json``) the counts."""
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) or not 0 <= val_fraction < 1:  # noqa: E501  # pragma: no mutate (how a bool or non-number fails is open)
        raise ValueError(f"val_fraction must be a number in [0, 1), got {val_fraction!r}")
    if not inputs:
        raise ValueError("no input files")
    examples: list[dict[str, Any]] = []
    seen: set[str] = set()
    read = 0
    for path in inputs:
        for number, example in read_jsonl(path):
            _check_example(example, f"{path}:{number}")
            read += 1
            key = json.dumps(example["messages"], sort_keys=True)
            if key not in seen:
                seen.add(key)
                examples.append(example)
    random.Random(seed).shuffle(examples)
    cut = round(len(examples) * val_fraction)
    validation, train = examples[:cut], examples[cut:]
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in ((TRAIN_FILE, train), (VALIDATION_FILE, validation)):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    info = {
        "examples": read,
        "duplicates": read - len(examples),
        "train": len(train),
        "validation": len(validation),
        "seed": seed,
        "val_fraction": val_fraction,
    }
    (folder / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trainingDataScript", description=__doc__.splitlines()[0])  # noqa: E501  # pragma: no mutate
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        info = build_dataset(args.inputs, args.output_dir, args.val_fraction, args.seed)
    except (ValueError, OSError) as exc:  # a RolloutsError is a ValueError
        print(f"trainingDataScript: {exc}", file=sys.stderr)
        return 2  # pragma: no mutate (any failing status)
    print(
        f"{info['examples']} examples read, {info['duplicates']} duplicates dropped: "
        f"{info['train']} train, {info['validation']} validation"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
