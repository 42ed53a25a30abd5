"""Step 5, evaluations: structured judge requests, retries, results and their aggregates."""

from __future__ import annotations

import json

import pytest
from character_eval_oracle import (
    ANTHROPIC_LOG,
    BAD_MODELS,
    CONFIG,
    EVALUATORS,
    FALLBACK,
    OPENROUTER_LOG,
    PRIMARY,
    THINKING,
    USER_MODEL,
    answered,
    assert_clear_failure,
    assert_ok,
    assert_required_flags,
    close,
    expected_summary,
    flag_of,
    make_conversations,
    read_jsonl,
    run,
    served,
    transcript_of,
    verdict,
    word,
    write_jsonl,
    write_settings,
)

STEM = "conversations_eval"
INPUT = f"synthetic_evaluation_data/conversations/{STEM}.jsonl"
RECORDS = f"results/{STEM}/evaluations.jsonl"
SUMMARY = f"results/{STEM}/summary.json"


def _evaluate(submission, rng, count=None, judge=None, settings=None):
    pairs = make_conversations(rng, count or rng.randint(2, 4))
    write_jsonl(submission.workdir / INPUT, [c for c, _ in pairs], blank_after=rng.randint(1, len(pairs) - 1))
    if settings:
        write_settings(submission, settings)
    judge = judge or rng.choice([PRIMARY, FALLBACK])
    result = run(submission, "run_evaluations", ["--input-file", INPUT, "--judge-model", judge])
    assert_ok(result, "run_evaluations")
    return [c for c, _ in pairs], judge, result


def _judge_log(judge):
    return ANTHROPIC_LOG if judge == PRIMARY else OPENROUTER_LOG


def _records(submission):
    records = read_jsonl(submission, RECORDS)
    found = {}
    for record in records:
        assert isinstance(record, dict), f"{RECORDS}: a record that is not an object"
        key = (record.get("conversation_id"), record.get("evaluator"))
        assert key not in found, f"{RECORDS}: two records for {key}"
        found[key] = record
    return found


def _requests_for(entries, evaluator, conversation):
    """The judge requests for one evaluator and conversation: its schema, and a prompt holding the
    conversation's turns (and a word only that conversation has)."""
    schema = CONFIG["evaluators"][evaluator]["schema"]
    marker = conversation["turns"][0]["content"]
    return [
        e for e in entries if e["request"]["schema"] == schema and marker in e["request"]["messages"][-1]["content"]
    ]


def test_judge_gets_the_schema_and_the_transcript(submission, rlgrade_rng):
    conversations, judge, _ = _evaluate(submission, rlgrade_rng)
    entries = answered(served(submission, _judge_log(judge)))
    assert len(entries) == len(conversations) * len(EVALUATORS), (
        f"{len(entries)} judge requests for {len(conversations)} conversations and {len(EVALUATORS)} evaluators"
    )
    for conversation in conversations:
        for evaluator in EVALUATORS:
            requests = _requests_for(entries, evaluator, conversation)
            assert len(requests) == 1, f"{evaluator} on {conversation['id']}: {len(requests)} requests with its schema"
            request = requests[0]["request"]
            if judge == PRIMARY:
                assert request["thinking"] == THINKING
                assert request["model"] == "claude-sonnet-4-20250514"
            else:
                assert request["model"] == "anthropic/claude-sonnet-4"
            prompt = request["messages"][-1]["content"]
            position = 0
            for role, content in transcript_of(conversation):
                tagged = f"<{role}>{content}</{role}>"
                found = prompt.find(tagged, position)
                assert found >= 0, f"the judge prompt should hold the turn {tagged[:80]!r}, in order"
                position = found + len(tagged)


def test_results_record_every_verdict(submission, rlgrade_rng):
    conversations, judge, _ = _evaluate(submission, rlgrade_rng)
    records = _records(submission)
    assert len(records) == len(conversations) * len(EVALUATORS)
    for conversation in conversations:
        for evaluator in EVALUATORS:
            record = records.get((conversation["id"], evaluator))
            assert record is not None, f"no record for {evaluator} on {conversation['id']}"
            assert record.get("valid") is True
            assert record.get("attempts") == 1
            assert record.get("result") == verdict(evaluator, conversation), f"{evaluator} on {conversation['id']}"
            assert record.get("judge_model") == judge


def _assert_summary(summary, expected):
    assert isinstance(summary, dict)
    for name, want in expected["evaluators"].items():
        got = summary.get("evaluators", {}).get(name)
        assert isinstance(got, dict), f"summary.json: no aggregate for evaluator {name}"
        for key, value in want.items():
            assert key in got, f"summary.json: evaluators.{name} has no {key}"
            assert close(got[key], value) if isinstance(value, float) or value is None else got[key] == value, (
                f"summary.json: evaluators.{name}.{key} is {got[key]!r}, expected {value!r}"
            )
    for ident, want in expected["conversations"].items():
        got = summary.get("conversations", {}).get(ident)
        assert isinstance(got, dict), f"summary.json: no aggregate for conversation {ident}"
        assert got.get("scores") == want["scores"], f"summary.json: conversations.{ident}.scores"
        assert close(got.get("mean_score"), want["mean_score"]), f"summary.json: conversations.{ident}.mean_score"
    assert close(summary.get("overall_mean_score"), expected["overall_mean_score"]), "summary.json: overall_mean_score"


def test_summary_aggregates_per_evaluator_and_conversation(submission, rlgrade_rng):
    conversations, judge, result = _evaluate(submission, rlgrade_rng, count=rlgrade_rng.randint(4, 6))
    results = {(c["id"], e): verdict(e, c) for c in conversations for e in EVALUATORS}
    summary = submission.read_json(SUMMARY)
    _assert_summary(summary, expected_summary(results, [c["id"] for c in conversations]))
    assert summary.get("judge_model") == judge
    for name in EVALUATORS:  # the printed table has a row for each evaluator
        assert name in result.stdout, f"the printed summary should show the evaluator {name}:\n{result.stdout[-2000:]}"


def test_malformed_answers_are_retried_then_recorded(submission, rlgrade_rng):
    pairs = make_conversations(rlgrade_rng, 4)
    conversations = [c for c, _ in pairs]
    flaky, broken = rlgrade_rng.sample(conversations, 2)
    # and an evaluator whose rubric the judge never answers to the schema: no valid verdict at all
    dead = rlgrade_rng.choice(EVALUATORS)
    always = [broken["turns"][0]["content"], CONFIG["evaluators"][dead]["rubric"]]
    settings = {"judge": {"malformed_once": [flaky["turns"][0]["content"]], "malformed_always": always}}
    write_jsonl(submission.workdir / INPUT, conversations)
    write_settings(submission, settings)
    (submission.workdir / SUMMARY).parent.mkdir(parents=True)  # left by an earlier run: written over
    judge = rlgrade_rng.choice([PRIMARY, FALLBACK])
    result = run(submission, "run_evaluations", ["--input-file", INPUT, "--judge-model", judge])
    assert_ok(result, "run_evaluations with malformed judge answers (its results folder already there)")
    entries = answered(served(submission, _judge_log(judge)))
    records = _records(submission)
    results = {}
    for conversation in conversations:
        for evaluator in EVALUATORS:
            record = records.get((conversation["id"], evaluator))
            assert record is not None, f"no record for {evaluator} on {conversation['id']}"
            asked = len(_requests_for(entries, evaluator, conversation))
            if conversation is broken or evaluator == dead:
                assert asked == 3, f"a judge that never answers to the schema should be asked 3 times, was {asked}"
                assert record.get("valid") is False, "an answer that never fits the schema should be recorded invalid"
                assert record.get("result") is None, record
                assert record.get("error"), f"an invalid verdict should say what was wrong: {record}"
                assert record.get("attempts") == 3
                results[(conversation["id"], evaluator)] = None
            else:
                want = 2 if conversation is flaky else 1
                assert asked == want, f"{evaluator} on {conversation['id']}: asked {asked} times, expected {want}"
                assert record.get("valid") is True
                assert record.get("attempts") == want
                assert record.get("result") == verdict(evaluator, conversation)
                results[(conversation["id"], evaluator)] = record["result"]
    _assert_summary(submission.read_json(SUMMARY), expected_summary(results, [c["id"] for c in conversations]))


@pytest.mark.hidden
def test_evaluation_accuracy(submission, rlgrade_rng, metric):
    """The verdicts recorded for labelled conversations, against their hidden labels."""
    pairs = make_conversations(rlgrade_rng, 8)
    write_jsonl(submission.workdir / INPUT, [c for c, _ in pairs])
    result = run(
        submission, "run_evaluations", ["--input-file", INPUT, "--judge-model", rlgrade_rng.choice([PRIMARY, FALLBACK])]
    )
    records = _records(submission) if result.returncode == 0 else {}
    correct = 0
    for conversation, labels in pairs:
        for evaluator, label in labels.items():
            record = records.get((conversation["id"], evaluator)) or {}
            got = record.get("result") if record.get("valid") is True else None
            flag = flag_of(evaluator)
            if isinstance(got, dict) and got.get("score") == label["score"] and got.get(flag) is label[flag]:
                correct += 1
    total = sum(len(labels) for _, labels in pairs)
    metric("evaluation_accuracy", correct / total)
    assert correct == total, f"{correct} of {total} verdicts match the labels"


def test_run_evaluations_fails_clearly(submission, rlgrade_rng):
    write_jsonl(submission.workdir / INPUT, [c for c, _ in make_conversations(rlgrade_rng, 2)])
    bad = rlgrade_rng.choice([*BAD_MODELS, USER_MODEL])
    result = run(submission, "run_evaluations", ["--input-file", INPUT, "--judge-model", bad])
    assert_clear_failure(result, "a disallowed --judge-model", bad)
    missing = f"synthetic_evaluation_data/conversations/{word(rlgrade_rng)}.jsonl"
    result = run(submission, "run_evaluations", ["--input-file", missing, "--judge-model", PRIMARY])
    assert_clear_failure(result, "a missing --input-file", missing)
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []
    flag = f"--{word(rlgrade_rng)}"
    result = run(submission, "run_evaluations", ["--input-file", INPUT, "--judge-model", PRIMARY, flag, "x"])
    assert_clear_failure(result, f"the unknown flag {flag}", flag)
    conversations = [c for c, _ in make_conversations(rlgrade_rng, 3)]
    bad_line = rlgrade_rng.randint(1, 3)
    victim = conversations[bad_line - 1]
    victim["turns"][0]["role"] = rlgrade_rng.choice(["narrator", "system", 7])
    write_jsonl(submission.workdir / "broken.jsonl", conversations)
    result = run(submission, "run_evaluations", ["--input-file", "broken.jsonl", "--judge-model", PRIMARY])
    assert_clear_failure(result, "an input line that is not a conversation", "broken.jsonl", f"line {bad_line}")
    lines = [json.dumps(c) for c, _ in make_conversations(rlgrade_rng, 3)]
    bad_line = rlgrade_rng.randint(1, 3)
    lines[bad_line - 1] = lines[bad_line - 1][: rlgrade_rng.randint(5, 40)]
    (submission.workdir / "half.jsonl").write_text("\n".join(lines) + "\n")
    result = run(submission, "run_evaluations", ["--input-file", "half.jsonl", "--judge-model", PRIMARY])
    assert_clear_failure(result, "an input line that is not JSON", "half.jsonl", f"line {bad_line}")
    (submission.workdir / "latin1.jsonl").write_bytes(lines[-1].encode() + b" \xe9\xff\n")
    result = run(submission, "run_evaluations", ["--input-file", "latin1.jsonl", "--judge-model", PRIMARY])
    assert_clear_failure(result, "an input file that is not UTF-8", "latin1.jsonl")
    folder = f"synthetic_evaluation_data/conversations/{word(rlgrade_rng)}_folder.jsonl"
    (submission.workdir / folder).mkdir()
    result = run(submission, "run_evaluations", ["--input-file", folder, "--judge-model", PRIMARY])
    assert_clear_failure(result, "an --input-file that is a folder", folder)
    assert_required_flags(
        submission,
        "run_evaluations",
        ["--input-file", INPUT, "--judge-model", PRIMARY],
        ["--input-file", "--judge-model"],
    )
    assert served(submission, ANTHROPIC_LOG) == []
    assert served(submission, OPENROUTER_LOG) == []
    assert not (submission.workdir / SUMMARY).exists()
