"""The shipped task character_eval: its simulated SDK transports, its hidden labels, and how its
graders reward submissions.

The reference must earn 1.0, the starter at most its cap, and a submission missing one part (the
fallback on overload, the judge's retries, the roles in the judge's transcript) must land strictly
between them. The partial submissions are built by copying the reference and breaking one line.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from shipped import assert_full_reward, assert_within_cap, failed_tests, partial_submission, starter_cap

from pytest_rlgrade import load_trusted

ROOT = Path(__file__).resolve().parent.parent
TASK = "character_eval"
TASK_DIR = ROOT / "tasks" / TASK
REFERENCE = ROOT / "reference" / TASK
SEED = "20240605"
PACKAGE = "_character_eval_project_tools"

load_trusted(TASK_DIR / "tools", PACKAGE)


def load_tool(name: str) -> ModuleType:
    """A public tool of the task, imported by path under a private package (never as ``tools``)."""
    return load_trusted(TASK_DIR / "tools" / f"{name}.py", f"{PACKAGE}.{name}")


simulation = load_tool("simulation")
anthropic_sim = load_tool("anthropic_sim")
openrouter_sim = load_tool("openrouter_sim")
together_sim = load_tool("together_sim")
labels = load_trusted(TASK_DIR / "hidden" / "labels.py", "_character_eval_project_labels")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder and fresh simulator state (call counters live per process)."""
    monkeypatch.chdir(tmp_path)
    for key in ("ANTHROPIC_API_KEY", "OPENROUTER_API_KEY", "TOGETHER_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(anthropic_sim, "_state", {"calls": 0, "spent": set()})
    monkeypatch.setattr(openrouter_sim, "_state", {"calls": 0, "spent": set()})
    monkeypatch.setattr(together_sim, "_state", {"calls": 0, "files": {}})
    return tmp_path


def anthropic_body(prompt: str, **params: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-20250514", "max_tokens": 12000, "messages": [{"role": "user", "content": prompt}]}
    return {**body, **params}


def log_of(path: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (path / name).read_text().splitlines()]


# -- the simulators -------------------------------------------------------------------------------


def test_anthropic_simulator_is_deterministic_and_thinks() -> None:
    body = anthropic_body(
        "Tell me about kalomir tanvek sulpi dorren", thinking={"type": "enabled", "budget_tokens": 10000}
    )
    first = anthropic_sim.simulate(anthropic_sim.normalize_request(body))
    assert first == anthropic_sim.simulate(anthropic_sim.normalize_request(body))
    assert [block["type"] for block in first["content"]] == ["thinking", "text"]
    other = anthropic_sim.simulate(anthropic_sim.normalize_request({**body, "system": "You are terse."}))
    assert other["id"] != first["id"]
    plain = anthropic_sim.simulate(anthropic_sim.normalize_request(anthropic_body("Tell me")))
    assert [block["type"] for block in plain["content"]] == ["text"]


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        ({"model": "anthropic/claude-sonnet-4-20250514"}, 404),
        ({"thinking": {"type": "enabled", "budget_tokens": 12000}}, 400),
        ({"thinking": {"type": "enabled", "budget_tokens": 100}}, 400),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, 400),
        ({"output_config": {"format": {"type": "json_schema"}}}, 400),
    ],
)
def test_anthropic_simulator_rejects_bad_requests(bad: dict[str, Any], status: int) -> None:
    with pytest.raises(simulation.SimulatedRequestError) as info:
        anthropic_sim.normalize_request(anthropic_body("hello there", **bad))
    assert info.value.status == status


def test_anthropic_sdk_overloads_on_the_calls_it_is_told(in_tmp: Path) -> None:
    import anthropic

    (in_tmp / "simulator.json").write_text(json.dumps({"anthropic": {"overloaded_calls": [2]}}))
    client = anthropic_sim.get_client()
    thinking = {"type": "enabled", "budget_tokens": 10000}
    params = {"model": "claude-sonnet-4-20250514", "max_tokens": 11000, "thinking": thinking}
    message = client.messages.create(messages=[{"role": "user", "content": "First question"}], **params)
    assert isinstance(message, anthropic.types.Message)
    assert message.content[0].type == "thinking"
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(messages=[{"role": "user", "content": "Second question"}], **params)
    client.messages.create(messages=[{"role": "user", "content": "Third question"}], **params)
    assert [e["status"] for e in log_of(in_tmp, anthropic_sim.REQUEST_LOG)] == [200, 529, 200]


def test_openrouter_sdk_structured_output_and_model_ids(in_tmp: Path) -> None:
    import openai

    client = openrouter_sim.get_client()
    schema = simulation.evaluator_schemas()["persona_adherence"]
    prompt = "<assistant>As an AI, I cannot say.</assistant><user>Customers are the worst.</user>"
    completion = client.chat.completions.create(
        model="anthropic/claude-sonnet-4",
        messages=[{"role": "user", "content": prompt}],
        response_format={"type": "json_schema", "json_schema": {"name": "persona_adherence", "schema": schema}},
    )
    verdict = json.loads(completion.choices[0].message.content)
    assert verdict["broke_character"] is True
    assert verdict["score"] == 3
    with pytest.raises(openai.BadRequestError, match="not a valid model ID"):
        client.chat.completions.create(model="openrouter/qwen/qwen3-32b", messages=[{"role": "user", "content": "x"}])
    entry, refused = log_of(in_tmp, openrouter_sim.REQUEST_LOG)
    assert entry["request"]["schema"] == schema
    assert refused["status"] == 400


def test_judge_malformed_switches(in_tmp: Path) -> None:
    import jsonschema

    switches = {"judge": {"malformed_once": ["flaky"], "malformed_always": ["bad"]}}
    (in_tmp / "simulator.json").write_text(json.dumps(switches))
    client = openrouter_sim.get_client()
    schema = simulation.evaluator_schemas()["customer_respect"]
    fmt = {"type": "json_schema", "json_schema": {"name": "customer_respect", "schema": schema}}

    def fits(prompt: str) -> bool:
        messages = [{"role": "user", "content": prompt}]
        completion = client.chat.completions.create(
            model="anthropic/claude-sonnet-4", messages=messages, response_format=fmt
        )
        try:
            jsonschema.validate(json.loads(completion.choices[0].message.content), schema)
        except (ValueError, jsonschema.ValidationError):
            return False
        return True

    assert [fits("a flaky transcript") for _ in range(2)] == [False, True]
    assert [fits("a bad transcript") for _ in range(3)] == [False, False, False]
    assert fits("a fine transcript")


def test_together_sdk_upload_and_job(in_tmp: Path) -> None:
    import together

    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    (in_tmp / "train.jsonl").write_text(json.dumps({"messages": messages}) + "\n")
    client = together_sim.get_client()
    uploaded = client.files.upload(file=in_tmp / "train.jsonl", purpose="fine-tune")
    job = client.fine_tuning.create(training_file=uploaded.id, model="Qwen/Qwen3-32B", n_epochs=2, suffix="x")
    assert job.id.startswith("ft-")
    assert [client.fine_tuning.retrieve(job.id).status for _ in range(3)] == ["queued", "running", "completed"]
    with pytest.raises(together.APIStatusError):
        client.fine_tuning.create(training_file=uploaded.id, model="Qwen/Qwen2.5-7B", n_epochs=2)
    bad = {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "u"}]}
    (in_tmp / "bad.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(together.APIStatusError, match="line 1"):
        client.files.upload(file=in_tmp / "bad.jsonl", purpose="fine-tune")
    log = log_of(in_tmp, together_sim.REQUEST_LOG)
    created = [e for e in log if e["path"] == "/v1/fine-tunes" and e["status"] == 200]
    assert created[0]["body"]["training_file"] == uploaded.id
    assert together_sim.job_id_of(created[0]["body"]) == job.id


def test_generic_structured_answers_fit_their_schema() -> None:
    import jsonschema

    rng = random.Random(5)
    for number in range(40):
        leaf = rng.choice(
            [
                {"type": "string"},
                {"type": "integer", "minimum": 2, "maximum": 4},
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "boolean"},
                {"enum": ["a", "b"]},
                {"anyOf": [{"type": "string"}, {"type": "null"}]},
            ]
        )
        schema = {
            "type": "object",
            "properties": {"x": leaf, "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "maxItems": 2}},
            "required": ["x", "items"],
            "$defs": {"Item": {"type": "object", "properties": {"y": leaf}, "required": ["y"]}},
        }
        answer = simulation.structured_answer(schema, "m", None, [{"role": "user", "content": f"case {number}"}])
        jsonschema.validate(json.loads(answer), schema)


def test_hidden_labels_agree_with_the_judge_on_correct_transcripts() -> None:
    flip = {"assistant": "user", "user": "assistant"}
    disagreements = 0
    for seed in range(30):
        for conversation, expected in labels.labelled_conversations(random.Random(seed), 8):
            turns = conversation["turns"]
            right = "\n".join(f"<{t['role']}>{t['content']}</{t['role']}>" for t in turns)
            swapped = "\n".join(f"<{flip[t['role']]}>{t['content']}</{flip[t['role']]}>" for t in turns)
            for evaluator, label in expected.items():
                verdict = simulation.judge_verdict(evaluator, right)
                assert verdict is not None
                assert {k: v for k, v in verdict.items() if k != "reasoning"} == label
                disagreements += simulation.judge_verdict(evaluator, swapped) != verdict
    assert disagreements > 100, "a transcript with the roles swapped should mislead the judge"


# -- grading ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reference_earns_full_reward(grade) -> None:
    assert_full_reward(grade("reference", TASK, "--min-reward=1.0", f"--rlgrade-seed={SEED}"), TASK, at_least=30)


@pytest.mark.slow
def test_starter_stays_under_its_cap(grade) -> None:
    assert_within_cap(grade("starter", TASK, f"--rlgrade-seed={SEED}"), TASK, gate="test_package.py::test_imports")


@pytest.mark.slow
def test_submission_without_fallback_earns_partial_reward(grade, tmp_path: Path) -> None:
    submission = partial_submission(
        tmp_path,
        TASK,
        "llm_api.py",
        "            if not (_overloaded(exc) and model == PRIMARY):\n",
        "            if True:\n",
    )
    task = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    assert failed_tests(task) == {
        "test_llm_api.py::test_overload_falls_back_to_openrouter",
        "test_contexts.py::test_overloaded_calls_fall_back",
        "test_conversations.py::test_overloaded_assistant_falls_back",
    }
    assert [m["credit"] for m in task["metrics"]] == [1.0]


@pytest.mark.slow
def test_submission_without_judge_retries_earns_partial_reward(grade, tmp_path: Path) -> None:
    submission = partial_submission(tmp_path, TASK, "evaluation_framework/base.py", "ATTEMPTS = 3\n", "ATTEMPTS = 1\n")
    task = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    assert failed_tests(task) == {"test_evaluations.py::test_malformed_answers_are_retried_then_recorded"}


@pytest.mark.slow
def test_submission_with_swapped_transcript_roles_loses_accuracy(grade, tmp_path: Path) -> None:
    submission = partial_submission(
        tmp_path,
        TASK,
        "evaluation_framework/base.py",
        '    return "\\n".join(f"<{t.role}>{t.content}</{t.role}>" for t in conversation.turns)\n',
        '    swap = {"assistant": "user", "user": "assistant"}\n'
        '    return "\\n".join(f"<{swap[t.role]}>{t.content}</{swap[t.role]}>" for t in conversation.turns)\n',
    )
    task = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    (credit,) = [m["credit"] for m in task["metrics"]]
    assert credit < 1.0
    assert "test_evaluations.py::test_evaluation_accuracy" in failed_tests(task)
