"""``python -m character_eval.run_evaluations``: judge every conversation with every evaluator.

Writes ``results/<input file stem>/evaluations.jsonl`` (one record per conversation and evaluator)
and ``results/<input file stem>/summary.json`` (the aggregates), and prints a summary table.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .cli_support import ArgumentParser, run


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="run_evaluations", description=__doc__)
    parser.add_argument("--input-file", required=True)
    parser.add_argument("--judge-model", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    # TODO: run every evaluator on every conversation, write results/<stem>/
    print("run_evaluations: not implemented yet", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
