"""Command line: ``python -m experiment_profiler.cli run|summarize``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

METRIC_COLUMNS = ("fact_coverage", "completion_rate", "refusal_rate", "geometric_mean")


def format_table(summary: dict[str, Any]) -> str:
    """A table with one row per run and a final ``overall`` row; metrics with four decimals."""
    from tabulate import tabulate

    headers = ["run", "model", "records", *METRIC_COLUMNS]
    rows = [
        [name, run["model"], run["num_records"], *(float(run[m]) for m in METRIC_COLUMNS)]
        for name, run in summary["runs"].items()
    ]
    overall = summary["overall"]
    rows.append(["overall", "", overall["num_records"], *(float(overall[m]) for m in METRIC_COLUMNS)])
    table = tabulate(rows, headers=headers, floatfmt=".4f", tablefmt="github")
    return f"Experiment: {summary['experiment_id']}\n{table}"


def _run(args: argparse.Namespace) -> int:
    from .config import load_config
    from .runner import run_experiment
    from .storage import SUMMARY_FILE, experiment_dir

    config = load_config(args.config)  # fail on a bad manifest before importing the SDK
    summary = run_experiment(config, args.output_dir)
    print(format_table(summary))
    print(f"\nwrote {experiment_dir(args.output_dir, config.experiment_id) / SUMMARY_FILE}")
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from .storage import read_summary

    print(format_table(read_summary(args.directory)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="experiment_profiler", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the experiment of a YAML manifest")
    run.add_argument("--config", required=True, type=Path, help="the experiment manifest (YAML)")
    run.add_argument(
        "--output-dir", default=Path("runs"), type=Path, help="folder that receives <experiment_id>/ (default: runs)"
    )
    run.set_defaults(handler=_run)
    summarize = commands.add_parser("summarize", help="print the metrics of a finished experiment")
    summarize.add_argument("directory", type=Path, help="an experiment folder holding summary.json")
    summarize.set_defaults(handler=_summarize)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the SDK's API errors: report them without a traceback
        if type(exc).__module__.partition(".")[0] != "anthropic":
            raise
        print(f"error: Anthropic API call failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
