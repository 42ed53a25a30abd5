"""The distribution of scores per dimension in a rollouts file: printed, and drawn as a PNG.

``python -m metric_card.show_score_distribution ROLLOUTS [--bins N] [--output FILE.png]``
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def score_distribution(rollouts_path: str | Path, bins: int = 10) -> dict[str, dict[str, Any]]:
    """Per dimension and ``overall``: ``{"counts", "mean", "min", "max"}``."""
    # TODO
    raise NotImplementedError("score_distribution")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="show_score_distribution")
    parser.add_argument("rollouts")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--output", default=None)
    parser.parse_args(argv)
    # TODO: print the distribution, write the histogram image
    print("show_score_distribution: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
