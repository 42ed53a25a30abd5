"""``python -m character_eval.synthetic_generation.conversation_generator``: persona conversations.

The assistant speaks first. Turn 1 is the assistant's, turn 2 the user's, and so on: 1 turn is
assistant only, 2 assistant + user, 3 assistant + user + assistant. The assistant model sees the
context's supporting documents prepended to its persona's system prompt, the scenario as the
opening user message, then the conversation; the user model sees its persona's prompt with the
scenario, and the conversation with the roles swapped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..cli_support import ArgumentParser, run


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="conversation_generator", description=__doc__)
    parser.add_argument("--assistant-persona", required=True)
    parser.add_argument("--assistant-model", required=True)
    parser.add_argument("--user-persona", required=True)
    parser.add_argument("--user-model", required=True)
    parser.add_argument("--context-file", required=True)
    parser.add_argument("--num-conversations", type=int, required=True)
    parser.add_argument("--num-turns", type=int, required=True)
    parser.add_argument("--output-file", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    # TODO: load the contexts, generate the conversations turn by turn, write JSONL
    print("conversation_generator: not implemented yet", file=sys.stderr)
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
