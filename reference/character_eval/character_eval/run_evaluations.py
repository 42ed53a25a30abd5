"""``python -m character_eval.run_evaluations``: judge every conversation with every evaluator.

Writes ``results/<input file stem>/evaluations.jsonl`` (one record per conversation and evaluator)
and ``results/<input file stem>/summary.json`` (the aggregates), and prints a summary table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .cli_support import ArgumentParser, PipelineError, read_lines, run
from .evaluation_framework import aggregate, build_evaluators
from .evaluation_framework.base import JUDGE_MODELS
from .llm_api import check_model
from .schemas import Conversation, EvaluationRecord

RESULTS_DIR = Path("results")


def load_conversations(path: str | Path) -> list[Conversation]:
    conversations = []
    for number, line in enumerate(read_lines(path, "input file"), 1):
        if not line.strip():
            continue
        try:
            conversations.append(Conversation.model_validate(json.loads(line)))
        except ValidationError as exc:
            first = exc.errors()[0]  # pragma: no mutate
            raise PipelineError(f"{path} line {number}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        except ValueError as exc:
            raise PipelineError(f"{path} line {number}: not valid JSON ({exc})") from None
    if not conversations:
        raise PipelineError(f"{path} holds no conversations")
    return conversations


def evaluate_file(input_file: str | Path, judge_model: str) -> dict[str, Any]:
    """Evaluate the conversations of ``input_file``; write and return the summary."""
    check_model(judge_model, JUDGE_MODELS, "--judge-model")
    conversations = load_conversations(input_file)
    evaluators = build_evaluators()
    records: list[EvaluationRecord] = [
        evaluator.evaluate(conversation, judge_model) for conversation in conversations for evaluator in evaluators
    ]
    folder = RESULTS_DIR / Path(input_file).stem
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "evaluations.jsonl").open("w", encoding="utf-8") as stream:
        for record in records:
            stream.write(json.dumps(record.model_dump(), ensure_ascii=False) + "\n")
    summary = {
        "input_file": str(input_file),
        "judge_model": judge_model,
        "num_conversations": len(conversations),
        **aggregate(records, evaluators, [c.id for c in conversations]),
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{'evaluator':<20} {'valid':>5} {'invalid':>7} {'mean score':>10}"]
    for name, entry in summary["evaluators"].items():
        mean = "-" if entry["mean_score"] is None else f"{entry['mean_score']:.4f}"
        lines.append(f"{name:<20} {entry['num_valid']:>5} {entry['num_invalid']:>7} {mean:>10}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="run_evaluations", description=__doc__)
    parser.add_argument("--input-file", required=True)
    parser.add_argument("--judge-model", required=True)  # pragma: no mutate
    return parser


def _main(args: argparse.Namespace) -> int:
    summary = evaluate_file(args.input_file, args.judge_model)
    print(format_summary(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
