"""Build a training dataset from collected chat-format examples: deduplicated, then split.

``python -m metric_card.trainingDataScript INPUT... --output-dir DIR [--val-fraction X] [--seed N]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def build_dataset(
    inputs: Sequence[str | Path], output_dir: str | Path, val_fraction: float = 0.1, seed: int = 0
) -> dict[str, Any]:
    """Deduplicate, shuffle with ``random.Random(seed)``, split; write the files; the counts."""
    # TODO
    raise NotImplementedError("build_dataset")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trainingDataScript")
    parser.add_argument("inputs", nargs="+")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.parse_args(argv)
    # TODO
    print("trainingDataScript: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
