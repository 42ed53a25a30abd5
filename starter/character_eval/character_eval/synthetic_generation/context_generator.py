"""``python -m character_eval.synthetic_generation.context_generator``: scenario contexts.

One structured request per context; each context is a :class:`~character_eval.schemas.Context`
written as its dict into a JSON list.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli_support import ArgumentParser, run


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="context_generator", description=__doc__)
    parser.add_argument("--theme", required=True)
    parser.add_argument("--num_contexts", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--output-file", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    # TODO: generate one structured context per request (llm_api.complete) and write them
    print("context_generator: not implemented yet", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
