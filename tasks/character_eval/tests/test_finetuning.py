"""Steps 3 and 4: Together's chat format, and the upload and job through the Together SDK."""

from __future__ import annotations

import hashlib
import json

from character_eval_oracle import (
    FINETUNE_MODEL,
    TOGETHER_LOG,
    assert_clear_failure,
    assert_ok,
    assert_required_flags,
    make_conversations,
    read_jsonl,
    run,
    served,
    together_sim,
    word,
    write_jsonl,
)

INPUT = "synthetic_evaluation_data/conversations/conv_ft.jsonl"
OUTPUT = "finetuning/finetuning_data/conv_ft_finetune.jsonl"
JOBS = "finetuning/jobs.jsonl"


def _example(conversation):
    turns = conversation["turns"]
    if turns[-1]["role"] == "user":
        turns = turns[:-1]
    messages = [
        {"role": "system", "content": conversation["system_prompt"]},
        {"role": "user", "content": conversation["scenario"]},
    ]
    return {"messages": messages + [{"role": t["role"], "content": t["content"]} for t in turns]}


INVALID_KINDS = ("not_json", "user_first", "two_assistant_turns", "no_turns", "bad_role", "missing_field")


def _invalid(rng, conversation, kind):
    """A broken copy of ``conversation`` (as a JSON line) of ``kind``, and the field it misses
    (for ``missing_field``, else None)."""
    broken = json.loads(json.dumps(conversation))
    if kind == "not_json":
        return json.dumps(broken)[: rng.randint(5, 40)], None
    if kind == "user_first":
        broken["turns"][0]["role"] = "user"
    elif kind == "two_assistant_turns":  # a user's turn answered by the assistant: no alternation
        broken["turns"][rng.randrange(1, len(broken["turns"]), 2)]["role"] = "assistant"
    elif kind == "no_turns":
        broken["turns"] = []
    elif kind == "bad_role":
        broken["turns"][rng.randrange(len(broken["turns"]))]["role"] = rng.choice(["system", "narrator", "bot"])
    else:
        missing = rng.choice(["turns", "system_prompt", "scenario"])
        del broken[missing]
        return json.dumps(broken), missing
    return json.dumps(broken), None


def test_prepare_data_writes_together_chat_format(submission, rlgrade_rng):
    conversations = [c for c, _ in make_conversations(rlgrade_rng, rlgrade_rng.randint(3, 6))]
    # a turn of a single character is still a turn
    rlgrade_rng.choice(conversations)["turns"][0]["content"] = rlgrade_rng.choice("abcdefghijklmnopqrstuvwxyz")
    write_jsonl(submission.workdir / INPUT, conversations, blank_after=rlgrade_rng.randint(1, len(conversations) - 1))
    result = run(submission, "prepare_data", ["--input_file", INPUT, "--output_file", OUTPUT])
    assert_ok(result, "prepare_data")
    examples = read_jsonl(submission, OUTPUT)
    expected = [_example(c) for c in conversations]
    assert len(examples) == len(expected), f"{len(examples)} examples for {len(expected)} conversations"
    for number, (got, want) in enumerate(zip(examples, expected, strict=True), 1):
        assert got == want, f"example {number} should be {json.dumps(want)[:400]}, got {json.dumps(got)[:400]}"
    checked, problem = together_sim.check_training_file(submission.read_bytes(OUTPUT))
    assert problem is None, f"Together would refuse the file: {problem}"


def test_prepare_data_reports_invalid_conversations(submission, rlgrade_rng):
    # every kind of invalid line, each once, among valid ones, in a random order
    kinds = [*INVALID_KINDS, *[None] * rlgrade_rng.randint(1, 3)]
    rlgrade_rng.shuffle(kinds)
    conversations = [c for c, _ in make_conversations(rlgrade_rng, len(kinds))]
    lines, expected, bad_lines, missing_fields = [], [], [], {}
    for conversation, kind in zip(conversations, kinds, strict=True):
        if kind:
            line, missing = _invalid(rlgrade_rng, conversation, kind)
            lines.append(line)
            bad_lines.append(len(lines))
            if missing:
                missing_fields[len(lines)] = missing
        else:
            lines.append(json.dumps(conversation))
            expected.append(_example(conversation))
    path = submission.workdir / INPUT
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    (submission.workdir / OUTPUT).parent.mkdir(parents=True)  # the output's folder may exist already
    result = run(submission, "prepare_data", ["--input_file", INPUT, "--output_file", OUTPUT])
    assert result.returncode != 0, "prepare_data should exit non-zero when a conversation is invalid"
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    for number in bad_lines:
        assert f"line {number}" in result.stderr, f"the invalid line {number} should be reported:\n{result.stderr}"
    for number, field in missing_fields.items():
        reported = [line for line in result.stderr.splitlines() if f"line {number}:" in line]
        assert any(field in line for line in reported), (
            f"line {number} misses the field {field!r}; its report should name it:\n{result.stderr}"
        )
    good = [n for n in range(1, len(lines) + 1) if n not in bad_lines]
    for number in good:
        assert f"line {number}:" not in result.stderr, f"line {number} is valid but was reported:\n{result.stderr}"
    assert read_jsonl(submission, OUTPUT) == expected, "the valid conversations should still be written"


def _train_file(submission, rng):
    conversations = [c for c, _ in make_conversations(rng, rng.randint(2, 4))]
    write_jsonl(submission.workdir / OUTPUT, [_example(c) for c in conversations])
    return (submission.workdir / OUTPUT).read_bytes()


def _uploads(entries):
    return [e for e in entries if e["method"] == "PUT" and e["status"] == 200]


def _jobs_created(entries):
    return [e for e in entries if e["method"] == "POST" and e["path"] == "/v1/fine-tunes" and e["status"] == 200]


def test_run_finetuning_uploads_and_starts_a_job(submission, rlgrade_rng):
    data = _train_file(submission, rlgrade_rng)
    epochs, suffix = rlgrade_rng.randint(1, 6), f"eval_{word(rlgrade_rng)}"
    args = ["--train_file", OUTPUT, "--model", FINETUNE_MODEL, "--n_epochs", epochs, "--suffix", suffix]
    result = run(submission, "run_finetuning", args)
    assert_ok(result, "run_finetuning")
    entries = served(submission, TOGETHER_LOG)
    (upload,) = _uploads(entries)
    assert upload["body"]["sha256"] == hashlib.sha256(data).hexdigest(), "the uploaded file differs from --train_file"
    (created,) = _jobs_created(entries)
    body = created["body"]
    assert body["model"] == FINETUNE_MODEL
    assert body["training_file"] == upload["file_id"], "the job should train on the uploaded file"
    assert body["n_epochs"] == epochs
    assert body.get("suffix") == suffix
    job_id = together_sim.job_id_of(body)
    assert job_id in result.stdout, "the job id should be printed"
    (record,) = read_jsonl(submission, JOBS)
    assert record.get("job_id") == job_id
    assert record.get("model") == FINETUNE_MODEL
    assert record.get("file_id") == upload["file_id"]
    assert record.get("status") == "pending"
    assert record.get("n_epochs") == epochs
    assert record.get("suffix") == suffix


def test_n_epochs_defaults_to_three(submission, rlgrade_rng):
    _train_file(submission, rlgrade_rng)
    result = run(submission, "run_finetuning", ["--train_file", OUTPUT, "--model", FINETUNE_MODEL])
    assert_ok(result, "run_finetuning")
    (created,) = _jobs_created(served(submission, TOGETHER_LOG))
    assert created["body"]["n_epochs"] == 3
    assert not created["body"].get("suffix")


def test_run_finetuning_fails_clearly(submission, rlgrade_rng):
    _train_file(submission, rlgrade_rng)
    bad = rlgrade_rng.choice(
        ["Qwen/Qwen2.5-7B-Instruct", "openrouter/qwen/qwen3-32b", "qwen/qwen3-32b", "Qwen/Qwen3-8B"]
    )
    result = run(submission, "run_finetuning", ["--train_file", OUTPUT, "--model", bad])
    assert_clear_failure(result, "a disallowed --model", bad)
    missing = f"finetuning/finetuning_data/{word(rlgrade_rng)}.jsonl"
    result = run(submission, "run_finetuning", ["--train_file", missing, "--model", FINETUNE_MODEL])
    assert_clear_failure(result, "a missing --train_file", missing)
    for epochs in (0, -rlgrade_rng.randint(1, 5)):
        result = run(
            submission, "run_finetuning", ["--train_file", OUTPUT, "--model", FINETUNE_MODEL, "--n_epochs", epochs]
        )
        assert_clear_failure(result, f"--n_epochs {epochs}", "--n_epochs")
    assert served(submission, TOGETHER_LOG) == [], "nothing should reach Together on bad input"
    flag = f"--{word(rlgrade_rng)}"
    result = run(submission, "run_finetuning", ["--train_file", OUTPUT, "--model", FINETUNE_MODEL, flag, "2"])
    assert_clear_failure(result, f"the unknown flag {flag}", flag)
    assert served(submission, TOGETHER_LOG) == []
    missing_input = f"synthetic_evaluation_data/conversations/{word(rlgrade_rng)}.jsonl"
    result = run(submission, "prepare_data", ["--input_file", missing_input, "--output_file", OUTPUT + ".new"])
    assert_clear_failure(result, "prepare_data with a missing --input_file", missing_input)
    assert_required_flags(
        submission, "run_finetuning", ["--train_file", OUTPUT, "--model", FINETUNE_MODEL], ["--train_file", "--model"]
    )
    assert_required_flags(
        submission, "prepare_data", ["--input_file", INPUT, "--output_file", OUTPUT], ["--input_file", "--output_file"]
    )
    assert served(submission, TOGETHER_LOG) == []
    # a training file Together refuses (a conversation opening with the assistant) fails clearly
    refused = "finetuning/finetuning_data/refused.jsonl"
    example = {"messages": [{"role": "assistant", "content": word(rlgrade_rng)}, {"role": "user", "content": "x"}]}
    (submission.workdir / refused).write_text(json.dumps(example) + "\n")
    result = run(submission, "run_finetuning", ["--train_file", refused, "--model", FINETUNE_MODEL])
    assert_clear_failure(result, "a training file Together refuses")
    assert read_jsonl(submission, JOBS) == [], "no job should be recorded when the upload is refused"
