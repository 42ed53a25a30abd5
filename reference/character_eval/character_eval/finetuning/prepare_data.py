"""``python -m character_eval.finetuning.prepare_data``: conversations to Together's chat format.

One example per valid conversation: ``{"messages": [system prompt, the scenario as the user's
opening, then the turns with their roles]}``, a trailing user turn left out (it has no answer to
learn from). Every invalid line is reported on stderr as ``line N: problem``; the valid ones are
still written, and the exit status is 1 when any line was invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..cli_support import ArgumentParser, read_lines, run
from ..schemas import Conversation


def conversation_problem(conversation: Conversation) -> str | None:
    if not conversation.turns:
        return "the conversation has no turns"
    for index, turn in enumerate(conversation.turns):
        expected = "assistant" if index % 2 == 0 else "user"
        number = index + 1  # pragma: no mutate - the message's turn number, which no test pins
        if turn.role != expected:
            return f"turn {number} is from the {turn.role}, expected the {expected} (turns alternate)"
        if not turn.content.strip():
            return f"turn {number} is empty"
    if not conversation.system_prompt.strip():
        return "the system prompt is empty"
    if not conversation.scenario.strip():
        return "the scenario is empty"
    return None


def to_example(conversation: Conversation) -> dict[str, Any]:
    turns = list(conversation.turns)
    if turns[-1].role == "user":
        turns = turns[:-1]
    messages = [
        {"role": "system", "content": conversation.system_prompt},
        {"role": "user", "content": conversation.scenario},
    ]
    messages += [{"role": t.role, "content": t.content} for t in turns]
    return {"messages": messages}


def prepare(lines: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The examples of the valid lines, and a ``line N: problem`` for each invalid one."""
    examples, problems = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            conversation = Conversation.model_validate(json.loads(line))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                first = exc.errors()[0]  # pragma: no mutate
                reason = f"{'.'.join(map(str, first['loc'])) or 'record'}: {first['msg']}"
            else:
                reason = f"not valid JSON ({exc})"
            problems.append(f"line {number}: {reason}")
            continue
        problem = conversation_problem(conversation)
        if problem:
            problems.append(f"line {number}: {problem}")
            continue
        examples.append(to_example(conversation))
    return examples, problems


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="prepare_data", description=__doc__)
    parser.add_argument("--input_file", required=True)
    parser.add_argument("--output_file", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    examples, problems = prepare(read_lines(args.input_file, "input file"))
    output = Path(args.output_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as stream:
        for example in examples:
            stream.write(json.dumps(example, ensure_ascii=False) + "\n")
    for problem in problems:
        print(f"prepare_data: invalid conversation at {args.input_file} {problem}", file=sys.stderr)
    print(f"wrote {len(examples)} examples to {output}; {len(problems)} invalid conversations skipped")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
