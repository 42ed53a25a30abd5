"""Command line: ``python -m metric_card.cli process --env.data_path_to_save_groups FILE ...``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tools.contexts import ContextError

from metric_card.metric_card_generator import EnvConfig, MetricCardEnv, html_path, metrics_path


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    # only --env.use_wandb is a boolean, and wandb is never importable in the sandbox
    if lowered in ("1", "true", "yes", "on"):
        return True  # pragma: no mutate
    if lowered in ("0", "false", "no", "off"):
        return False  # pragma: no mutate
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="metric_card", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    process = commands.add_parser("process", help="collect, score and save groups of rollouts")
    defaults = EnvConfig()
    process.add_argument("--env.data_path_to_save_groups", dest="data_path_to_save_groups", required=True)  # noqa: E501  # pragma: no mutate (without it, the check names the flag)
    process.add_argument("--env.group_size", dest="group_size", type=int, default=defaults.group_size)
    process.add_argument("--env.num_prompts", dest="num_prompts", type=int, default=None)
    process.add_argument("--env.seed", dest="seed", type=int, default=defaults.seed)
    process.add_argument("--env.contexts_path", dest="contexts_path", default=None)
    process.add_argument("--env.max_token_length", dest="max_token_length", type=int, default=defaults.max_token_length)
    process.add_argument("--env.temperature", dest="temperature", type=float, default=defaults.temperature)
    process.add_argument("--env.use_wandb", dest="use_wandb", type=_boolean, default=defaults.use_wandb)
    process.add_argument("--openai.model_name", dest="model_name", default=defaults.model_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = {k: v for k, v in vars(args).items() if k != "command"}  # pragma: no mutate
    try:
        config = EnvConfig(**settings)
        try:
            config.check()
        except ValueError as exc:
            flag = str(exc).split(" ")[0]
            raise ValueError(f"--env.{flag}: {exc}") from None
        metrics = MetricCardEnv(config).process()
    except (ValueError, ContextError, OSError) as exc:
        print(f"metric_card process: {exc}", file=sys.stderr)
        return 2  # pragma: no mutate (any failing status)
    target = config.data_path_to_save_groups
    print(f"wrote {metrics['num_groups']} groups ({metrics['num_rollouts']} rollouts) to {target}")
    print(f"page: {html_path(target)}; metrics: {metrics_path(target)}")
    summary = {
        "percent_valid_json": metrics["percent_valid_json"],
        "average_scores": metrics["average_scores"],
        "tokens": metrics["tokens"],
    }
    print(json.dumps(summary, indent=2))  # pragma: no mutate (a summary for people)
    return 0


if __name__ == "__main__":
    sys.exit(main())
