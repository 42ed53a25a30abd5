"""``python -m character_eval.finetuning.prepare_data``: conversations to Together's chat format.

One example per valid conversation: ``{"messages": [system prompt, the scenario as the user's
opening, then the turns with their roles]}``, a trailing user turn left out (it has no answer to
learn from). Every invalid line is reported on stderr as ``line N: problem``; the valid ones are
still written, and the exit status is 1 when any line was invalid.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli_support import ArgumentParser, run


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="prepare_data", description=__doc__)
    parser.add_argument("--input_file", required=True)
    parser.add_argument("--output_file", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    # TODO: turn conversations into Together chat examples, report invalid lines
    print("prepare_data: not implemented yet", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
