"""Command line: ``python -m metric_card.cli process --env.data_path_to_save_groups FILE ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metric_card", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    process = commands.add_parser("process", help="collect, score and save groups of rollouts")
    process.add_argument("--env.data_path_to_save_groups", dest="data_path_to_save_groups", required=True)
    # TODO: --env.group_size, --env.num_prompts, --env.seed, --env.contexts_path,
    # --env.max_token_length, --env.use_wandb, --openai.model_name
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # TODO: run the environment (metric_card_generator); report bad input clearly
    print(f"{args.command}: not implemented yet", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
