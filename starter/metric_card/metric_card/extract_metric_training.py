"""Curate fine-tuning data from a rollouts file.

``python -m metric_card.extract_metric_training ROLLOUTS [--output-dir DIR] [--threshold X]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def extract_training(
    rollouts_path: str | Path, output_dir: str | Path | None = None, threshold: float = 0.9
) -> dict[str, int]:
    """Write ``metric_training.jsonl`` and ``metric_training_high_quality.jsonl``; their sizes."""
    # TODO
    raise NotImplementedError("extract_training")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="extract_metric_training")
    parser.add_argument("rollouts")
    parser.add_argument("--output-dir", default=None)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.parse_args(argv)
    # TODO
    print("extract_metric_training: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
