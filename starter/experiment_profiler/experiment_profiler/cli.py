"""Command line: ``python -m experiment_profiler.cli run|summarize``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="experiment_profiler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the experiment of a YAML manifest")
    run.add_argument("--config", required=True)
    run.add_argument("--output-dir", default="runs")
    commands.add_parser("summarize", help="print the metrics of a finished experiment").add_argument("directory")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # TODO: run the experiment / print the summary table (tabulate); report errors clearly
    print(f"{args.command}: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
