"""``python -m character_eval.synthetic_generation.conversation_generator``: persona conversations.

The assistant speaks first. Turn 1 is the assistant's, turn 2 the user's, and so on: 1 turn is
assistant only, 2 assistant + user, 3 assistant + user + assistant. The assistant model sees the
context's supporting documents prepended to its persona's system prompt, the scenario as the
opening user message, then the conversation; the user model sees its persona's prompt with the
scenario, and the conversation with the roles swapped.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from ..cli_support import ArgumentParser, PipelineError, read_json_file, run
from ..config import persona
from ..llm_api import FALLBACK, PRIMARY, USER_MODEL, check_model, complete
from ..schemas import Context, Conversation, Turn

ASSISTANT_MODELS = (PRIMARY, FALLBACK)
USER_MODELS = (USER_MODEL,)


def documents_block(context: Context) -> str:
    parts = [f"## {doc.title}\n{doc.content}" for doc in context.supporting_documents]
    return "Supporting documents:\n\n" + "\n\n".join(parts)


def assistant_system_prompt(context: Context, persona_prompt: str) -> str:
    """The supporting documents, prepended to the assistant persona's system prompt."""
    return f"{documents_block(context)}\n\n{persona_prompt}"


def user_system_prompt(context: Context, persona_prompt: str) -> str:
    return f"{persona_prompt}\n\nScenario: {context.scenario}"


def assistant_view(context: Context, turns: list[Turn]) -> list[dict[str, str]]:
    return [{"role": "user", "content": context.scenario}] + [{"role": t.role, "content": t.content} for t in turns]


def user_view(turns: list[Turn]) -> list[dict[str, str]]:
    flip = {"assistant": "user", "user": "assistant"}
    return [{"role": flip[t.role], "content": t.content} for t in turns]


def generate_conversation(
    number: int,
    context: Context,
    assistant_persona: str,
    assistant_model: str,
    user_persona: str,
    user_model: str,
    num_turns: int,
) -> Conversation:
    system = assistant_system_prompt(context, persona(assistant_persona, "assistant")["system_prompt"])
    user_system = user_system_prompt(context, persona(user_persona, "user")["system_prompt"])
    turns: list[Turn] = []
    for index in range(num_turns):
        if index % 2 == 0:
            result = complete(assistant_model, assistant_view(context, turns), system=system, allowed=ASSISTANT_MODELS)
            turns.append(Turn(role="assistant", content=result.text, model=result.model))
        else:
            result = complete(user_model, user_view(turns), system=user_system, allowed=USER_MODELS)
            turns.append(Turn(role="user", content=result.text, model=result.model))
    return Conversation(
        id=f"conversation_{number:03d}",
        context_id=context.id,
        assistant_persona=assistant_persona,
        assistant_model=assistant_model,
        user_persona=user_persona,
        user_model=user_model,
        scenario=context.scenario,
        system_prompt=system,
        turns=turns,
    )


def load_contexts(path: str | Path) -> list[Context]:
    data = read_json_file(path, "context file")
    if not isinstance(data, list):
        raise PipelineError(f"context file {path} must hold a JSON list of contexts")
    contexts = []
    for number, item in enumerate(data, 1):  # pragma: no mutate - the message's context number, left open
        try:
            contexts.append(Context.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]  # pragma: no mutate - which of several errors the message names
            where = ".".join(map(str, first["loc"]))
            raise PipelineError(f"context file {path}: context {number}: {where}: {first['msg']}") from None
    return contexts


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="conversation_generator", description=__doc__)
    parser.add_argument("--assistant-persona", required=True)
    parser.add_argument("--assistant-model", required=True)  # pragma: no mutate
    parser.add_argument("--user-persona", required=True)
    parser.add_argument("--user-model", required=True)  # pragma: no mutate
    parser.add_argument("--context-file", required=True)
    parser.add_argument("--num-conversations", type=int, required=True)
    parser.add_argument("--num-turns", type=int, required=True)
    parser.add_argument("--output-file", required=True)
    return parser


def _main(args: argparse.Namespace) -> int:
    check_model(args.assistant_model, ASSISTANT_MODELS, "--assistant-model")
    check_model(args.user_model, USER_MODELS, "--user-model")
    persona(args.assistant_persona, "assistant")
    persona(args.user_persona, "user")
    if args.num_turns < 1:
        raise PipelineError(f"--num-turns must be at least 1, got {args.num_turns}")
    if args.num_conversations < 1:
        raise PipelineError(f"--num-conversations must be at least 1, got {args.num_conversations}")
    contexts = load_contexts(args.context_file)
    if args.num_conversations > len(contexts):
        raise PipelineError(
            f"--num-conversations {args.num_conversations} is more than the {len(contexts)} contexts "
            f"of {args.context_file}"
        )
    output = Path(args.output_file)
    output.parent.mkdir(parents=True, exist_ok=True)
    conversations = [
        generate_conversation(
            number,
            context,
            args.assistant_persona,
            args.assistant_model,
            args.user_persona,
            args.user_model,
            args.num_turns,
        )
        for number, context in enumerate(contexts[: args.num_conversations], 1)  # pragma: no mutate
    ]
    with output.open("w", encoding="utf-8") as stream:
        for conversation in conversations:
            stream.write(json.dumps(conversation.model_dump(), ensure_ascii=False) + "\n")
    print(f"wrote {len(conversations)} conversations of {args.num_turns} turns to {output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
