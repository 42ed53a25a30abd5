"""``python -m character_eval.finetuning.run_finetuning``: upload data and start a Together job.

The job is recorded (appended) in ``finetuning/jobs.jsonl`` under the current directory, where the
dashboard finds it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli_support import ArgumentParser, run


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="run_finetuning", description=__doc__)
    parser.add_argument("--train_file", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--n_epochs", type=int, default=3)
    parser.add_argument("--suffix", default=None)
    return parser


def _main(args: argparse.Namespace) -> int:
    # TODO: upload --train_file and create the job (tools.together_sim.get_client())
    print("run_finetuning: not implemented yet", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
