"""Step 2, conversations: who speaks when, what each model sees, and the models allowed."""

from __future__ import annotations

import json

import pytest
from character_eval_oracle import (
    ANTHROPIC_LOG,
    BAD_MODELS,
    FALLBACK,
    OPENROUTER_LOG,
    PERSONAS,
    PRIMARY,
    THINKING,
    USER_MODEL,
    answer_text,
    answered,
    assert_clear_failure,
    assert_ok,
    assert_required_flags,
    make_contexts,
    read_jsonl,
    run,
    served,
    word,
    write_settings,
)

CONTEXTS = "synthetic_evaluation_data/contexts/contexts_gen.json"
OUTPUT = "synthetic_evaluation_data/conversations/generated/conversations_gen.jsonl"  # its folders made as needed


def _setup(submission, rng, count):
    contexts = make_contexts(rng, count)
    path = submission.workdir / CONTEXTS
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(contexts, indent=2))
    assistant = rng.choice(sorted(PERSONAS["assistant_personas"]))
    user = rng.choice(sorted(PERSONAS["user_personas"]))
    return contexts, assistant, user


def _args(assistant, user, conversations, turns, assistant_model=PRIMARY, user_model=USER_MODEL):
    return [
        "--assistant-persona", assistant,
        "--assistant-model", assistant_model,
        "--user-persona", user,
        "--user-model", user_model,
        "--context-file", CONTEXTS,
        "--num-conversations", conversations,
        "--num-turns", turns,
        "--output-file", OUTPUT,
    ]  # fmt: skip


def _generate(submission, rng, turns, assistant_model=PRIMARY, wanted=None, folder_exists=False):
    """Conversations of ``turns`` turns for the first ``wanted`` contexts (``"all"`` of them; by
    default a random number of them); with ``folder_exists``, the output's folder is there already."""
    count = rng.randint(2, 4)
    contexts, assistant, user = _setup(submission, rng, count)
    if folder_exists:
        (submission.workdir / OUTPUT).parent.mkdir(parents=True)
    if wanted == "all":
        wanted = count
    elif wanted is None:
        wanted = rng.randint(1, count)
    result = run(submission, "conversations", _args(assistant, user, wanted, turns, assistant_model))
    assert_ok(result, "the conversation generator")
    conversations = read_jsonl(submission, OUTPUT)
    assert len(conversations) == wanted, f"{len(conversations)} conversations, expected {wanted} (the first contexts)"
    return contexts[:wanted], assistant, user, conversations


@pytest.mark.parametrize("turns", [1, 2, 3, 4, 5])
def test_turns_alternate_from_the_assistant(submission, rlgrade_rng, turns):
    # one conversation, every context, or a random number of them
    wanted = {1: 1, 5: "all"}.get(turns)
    contexts, assistant, user, conversations = _generate(submission, rlgrade_rng, turns, wanted=wanted)
    roles = ["assistant" if i % 2 == 0 else "user" for i in range(turns)]
    for context, conversation in zip(contexts, conversations, strict=True):
        assert conversation.get("context_id") == context["id"], "conversations should use the first contexts, in order"
        got = [t.get("role") for t in conversation.get("turns", [])]
        assert got == roles, f"{turns} turns should be {roles}, got {got}"
        assert conversation.get("assistant_persona") == assistant
        assert conversation.get("user_persona") == user
    assistant_calls = answered(served(submission, ANTHROPIC_LOG))
    user_calls = answered(served(submission, OPENROUTER_LOG))
    assert len(assistant_calls) == len(contexts) * roles.count("assistant")
    assert len(user_calls) == len(contexts) * roles.count("user")


def _check_assistant_request(entry, context, persona_prompt, turns_before):
    request = entry["request"]
    assert request["thinking"] == THINKING
    system = request["system"] or ""
    assert system.rstrip().endswith(persona_prompt), (
        "the assistant's system prompt should end with its persona's prompt"
    )
    position = 0
    for document in context["supporting_documents"]:
        found = system.find(document["content"], position)
        assert found >= 0, f"supporting document {document['title']!r} should be prepended, in order"
        position = found + len(document["content"])
    assert position <= system.rfind(persona_prompt), "the supporting documents should come before the persona's prompt"
    expected = [{"role": "user", "content": context["scenario"]}]
    expected += [{"role": t["role"], "content": t["content"]} for t in turns_before]
    assert request["messages"] == expected, "the assistant should see the scenario, then the conversation so far"


def _check_user_request(entry, persona_prompt, turns_before):
    request = entry["request"]
    assert request["model"] == "qwen/qwen3-32b", request["model"]
    assert persona_prompt in (request["system"] or ""), "the user model's system prompt should hold its persona"
    flip = {"assistant": "user", "user": "assistant"}
    expected = [{"role": flip[t["role"]], "content": t["content"]} for t in turns_before]
    assert request["messages"] == expected, "the user model should see the conversation with the roles swapped"


def test_each_model_sees_the_conversation_so_far(submission, rlgrade_rng):
    turns = rlgrade_rng.randint(3, 5)
    contexts, assistant, user, conversations = _generate(submission, rlgrade_rng, turns)
    assistant_prompt = PERSONAS["assistant_personas"][assistant]["system_prompt"]
    user_prompt = PERSONAS["user_personas"][user]["system_prompt"]
    assistant_calls = iter(answered(served(submission, ANTHROPIC_LOG)))
    user_calls = iter(answered(served(submission, OPENROUTER_LOG)))
    for context, conversation in zip(contexts, conversations, strict=True):
        written = conversation["turns"]
        for index, turn in enumerate(written):
            if index % 2 == 0:
                entry, log = next(assistant_calls), ANTHROPIC_LOG
                _check_assistant_request(entry, context, assistant_prompt, written[:index])
                assert turn.get("model") == PRIMARY
            else:
                entry, log = next(user_calls), OPENROUTER_LOG
                _check_user_request(entry, user_prompt, written[:index])
                assert turn.get("model") == USER_MODEL
            assert turn.get("content") == answer_text(entry, log), f"turn {index + 1} is not the model's answer"


def test_overloaded_assistant_falls_back(submission, rlgrade_rng):
    write_settings(submission, {"anthropic": {"overloaded": True}})
    turns = rlgrade_rng.randint(2, 3)
    contexts, assistant, user, conversations = _generate(submission, rlgrade_rng, turns)
    calls = answered(served(submission, OPENROUTER_LOG))
    fallback = iter([e for e in calls if e["request"]["model"] == "anthropic/claude-sonnet-4"])
    for conversation in conversations:
        for index, turn in enumerate(conversation["turns"]):
            if index % 2 == 0:
                entry = next(fallback)
                assert turn.get("model") == FALLBACK, "a turn answered by the fallback should say so"
                assert turn.get("content") == answer_text(entry, OPENROUTER_LOG)
    assert next(fallback, None) is None


def test_fallback_as_the_assistant_model(submission, rlgrade_rng):
    contexts, assistant, user, conversations = _generate(
        submission, rlgrade_rng, 3, assistant_model=FALLBACK, folder_exists=True
    )
    assert served(submission, ANTHROPIC_LOG) == []
    models = [e["request"]["model"] for e in answered(served(submission, OPENROUTER_LOG))]
    assert models == ["anthropic/claude-sonnet-4", "qwen/qwen3-32b", "anthropic/claude-sonnet-4"] * len(conversations)


def test_conversations_cli_fails_clearly(submission, rlgrade_rng):
    contexts, assistant, user = _setup(submission, rlgrade_rng, 2)
    bad = rlgrade_rng.choice([*BAD_MODELS, USER_MODEL])
    result = run(submission, "conversations", _args(assistant, user, 1, 2, assistant_model=bad))
    assert_clear_failure(result, "a disallowed --assistant-model", bad)
    bad_user = rlgrade_rng.choice([PRIMARY, FALLBACK, *BAD_MODELS])
    result = run(submission, "conversations", _args(assistant, user, 1, 2, user_model=bad_user))
    assert_clear_failure(result, "a disallowed --user-model", bad_user)
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []
    missing = f"synthetic_evaluation_data/contexts/{word(rlgrade_rng)}.json"
    args = _args(assistant, user, 1, 2)
    args[args.index("--context-file") + 1] = missing
    result = run(submission, "conversations", args)
    assert_clear_failure(result, "a missing --context-file", missing)
    # a context file that is not JSON, one holding a context without its scenario, and a folder
    broken = json.loads((submission.workdir / CONTEXTS).read_text())
    del broken[-1]["scenario"]
    unreadable = {
        f"synthetic_evaluation_data/contexts/{word(rlgrade_rng)}_half.json": json.dumps(broken)[:-9],
        f"synthetic_evaluation_data/contexts/{word(rlgrade_rng)}_bad.json": json.dumps(broken),
        f"synthetic_evaluation_data/contexts/{word(rlgrade_rng)}_folder.json": None,
    }
    for name, text in unreadable.items():
        if text is None:
            (submission.workdir / name).mkdir()
        else:
            (submission.workdir / name).write_text(text)
        args = _args(assistant, user, 1, 2)
        args[args.index("--context-file") + 1] = name
        result = run(submission, "conversations", args)
        assert_clear_failure(result, f"the --context-file {name}", name)
    flag = f"--{word(rlgrade_rng)}"
    result = run(submission, "conversations", [*_args(assistant, user, 1, 2), flag, "3"])
    assert_clear_failure(result, f"the unknown flag {flag}", flag)
    result = run(submission, "conversations", _args(assistant, user, rlgrade_rng.randint(3, 6), 2))
    assert_clear_failure(result, "more conversations than contexts", "--num-conversations")
    required = [a for a in _args(assistant, user, 1, 2) if str(a).startswith("--")]
    assert_required_flags(submission, "conversations", _args(assistant, user, 1, 2), required)
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []
    assert not (submission.workdir / OUTPUT).exists()
