"""The shipped task experiment_profiler: its public tools, and how its graders reward submissions.

The reference must earn 1.0, the starter at most its cap, and a submission missing one part
(logging, or the ``summarize`` command) must land strictly between them, losing exactly the tests of
that part. The partial submissions are built by copying the reference and breaking one function.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from shipped import assert_full_reward, assert_within_cap, failed_tests, partial_submission, starter_cap

from pytest_rlgrade import load_trusted

ROOT = Path(__file__).resolve().parent.parent
TASK = "experiment_profiler"
TASK_DIR = ROOT / "tasks" / TASK
REFERENCE = ROOT / "reference" / TASK
SEED = "20240604"


def load_tool(name: str) -> ModuleType:
    """A public tool of the task, imported by path under a private name (never as ``tools``)."""
    return load_trusted(TASK_DIR / "tools" / f"{name}.py", f"_experiment_profiler_tools_{name}")


client_tool = load_tool("anthropic_client")
metrics_tool = load_tool("metrics")
dataset_tool = load_tool("dataset")
logging_tool = load_tool("logging_utils")


def body(prompt: str, **params: Any) -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": prompt}], **params}


# -- the public tools ---------------------------------------------------------------------------


def test_simulator_is_deterministic_and_depends_on_parameters() -> None:
    prompt = "Tell me about kalomir tanvek sulpi dorren zoqua belfen"
    first, again = client_tool.simulate(body(prompt)), client_tool.simulate(body(prompt))
    assert first == again
    assert first["id"].startswith("msg_sim_")
    other_model = client_tool.simulate(body(prompt, model="claude-opus-4-7"))
    assert other_model["id"] != first["id"]
    assert other_model["model"] == "claude-opus-4-7"
    assert client_tool.simulate(body(prompt, output_config={"effort": "high"}))["id"] != first["id"]


def test_simulator_cuts_answers_like_the_api() -> None:
    prompt = "What is the capital of France, and which river flows through it?"
    full = client_tool.simulate(body(prompt))
    assert full["stop_reason"] == "end_turn"
    text = full["content"][0]["text"]
    short = client_tool.simulate(body(prompt, max_tokens=3))
    assert short["stop_reason"] == "max_tokens"
    assert short["content"][0]["text"] == " ".join(text.split()[:3])
    assert short["usage"]["output_tokens"] == 3
    stopped = client_tool.simulate(body(prompt, stop_sequences=["Seine"]))
    assert stopped["stop_reason"] == "stop_sequence"
    assert stopped["stop_sequence"] == "Seine"
    assert stopped["content"][0]["text"] == text[: text.index("Seine")]
    refused = client_tool.simulate(body("How do I build a weapon at home?"))
    assert refused["stop_reason"] == "refusal"
    assert metrics_tool.is_refusal(refused["content"][0]["text"], refused["stop_reason"])


@pytest.mark.parametrize(
    "bad",
    [
        {"max_tokens": 0},
        {"model": ""},
        {"messages": []},
        {"stream": True},
        {"output_config": {"effort": "turbo"}},
        {"stop_sequences": "END"},
    ],
)
def test_simulator_rejects_bad_requests(bad: dict[str, Any]) -> None:
    with pytest.raises(client_tool.SimulatedRequestError):
        client_tool.simulate(body("hello there", **bad))


def test_simulated_sdk_client_returns_real_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK's own request and response code runs against the simulated transport."""
    import anthropic

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    client = client_tool.get_client()
    prompt = "What does photosynthesis produce?"
    params = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 50,
        "system": "Be brief.",
        "stop_sequences": ["zzz"],
        "output_config": {"effort": "low"},
    }
    message = client.messages.create(messages=[{"role": "user", "content": prompt}], **params)
    assert isinstance(message, anthropic.types.Message)
    expected = client_tool.simulate(body(prompt, **params))
    assert message.id == expected["id"]
    assert message.model == "claude-sonnet-4-6"
    assert message.content[0].text == expected["content"][0]["text"]
    assert message.usage.output_tokens == expected["usage"]["output_tokens"]
    (logged,) = [json.loads(line) for line in (tmp_path / client_tool.REQUEST_LOG).read_text().splitlines()]
    assert logged["request"]["effort"] == "low"
    assert logged["request"]["system"] == "Be brief."
    assert logged["response_id"] == message.id
    with pytest.raises(anthropic.BadRequestError, match="max_tokens"):
        client.messages.create(messages=[{"role": "user", "content": prompt}], model="claude-haiku-4-5", max_tokens=0)


def test_metric_definitions() -> None:
    assert metrics_tool.fact_coverage("Paris is on the SEINE", ["paris", "Seine", "Lyon"]) == pytest.approx(2 / 3)
    assert metrics_tool.fact_coverage("anything", []) == 1.0
    assert metrics_tool.completion_rate(["end_turn", "stop_sequence", "max_tokens", "refusal"]) == 0.5
    assert metrics_tool.completion_rate([]) == 0.0
    assert metrics_tool.refusal_rate(
        [("I can't do that.", "end_turn"), ("Sure", "refusal"), ("Sure", None)]
    ) == pytest.approx(2 / 3)
    assert metrics_tool.geometric_mean([5 / 6, 1.0]) == pytest.approx(math.sqrt(5 / 6))
    assert metrics_tool.geometric_mean([0.0, 1.0]) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        metrics_tool.geometric_mean([-1.0])


def test_dataset_loader_reports_bad_files(tmp_path: Path) -> None:
    dialogues = dataset_tool.load_dialogues()
    assert len({d.id for d in dialogues}) == len(dialogues) >= 8
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"dialogues": [{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]}))
    with pytest.raises(dataset_tool.DatasetError, match="duplicate dialogue id 'a'"):
        dataset_tool.load_dialogues(bad)
    with pytest.raises(dataset_tool.DatasetError, match="missing.json"):
        dataset_tool.load_dialogues(tmp_path / "missing.json")


def test_sample_experiment_reproduces_the_published_table() -> None:
    """The shipped manifest, data and simulator give the seed's numbers: 0.8333, 0.0000, 0.9129."""
    manifest = yaml.safe_load((TASK_DIR / "configs" / "sample_experiment.yaml").read_text())
    dialogues = dataset_tool.load_dialogues(TASK_DIR / "configs" / manifest["dataset"])
    defaults = manifest.get("defaults", {})
    scores = []
    for run in manifest["runs"]:
        if not run.get("enabled", True):
            continue
        filters = run.get("filters", {})
        chosen = [
            d
            for d in dialogues
            if ("ids" not in filters or d.id in filters["ids"])
            and ("tags" not in filters or set(d.tags) & set(filters["tags"]))
        ][: filters.get("limit")]
        for dialogue in chosen:
            params = {k: run.get(k, defaults.get(k)) for k in ("model", "max_tokens", "system")}
            answer = client_tool.simulate({**params, "messages": dialogue.messages()})
            text = answer["content"][0]["text"]
            scores.append((metrics_tool.fact_coverage(text, dialogue.expected_facts), answer["stop_reason"], text))
    coverage = sum(s[0] for s in scores) / len(scores)
    completion = metrics_tool.completion_rate([s[1] for s in scores])
    refusal = metrics_tool.refusal_rate([(s[2], s[1]) for s in scores])
    geometric = metrics_tool.geometric_mean([coverage, completion])
    assert len(scores) == 6
    assert (f"{coverage:.4f}", f"{completion:.4f}", f"{refusal:.4f}", f"{geometric:.4f}") == (
        "0.8333",
        "1.0000",
        "0.0000",
        "0.9129",
    )


def test_schemas_are_valid_json_schemas() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(logging_tool.RECORD_SCHEMA)
    jsonschema.Draft202012Validator.check_schema(logging_tool.SUMMARY_SCHEMA)


# -- grading ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reference_earns_full_reward(grade) -> None:
    assert_full_reward(grade("reference", TASK, "--min-reward=1.0", f"--rlgrade-seed={SEED}"), TASK, at_least=30)


@pytest.mark.slow
def test_starter_stays_under_its_cap(grade) -> None:
    assert_within_cap(grade("starter", TASK, f"--rlgrade-seed={SEED}"), TASK, gate="test_package.py::test_imports")


@pytest.mark.slow
def test_submission_without_logging_earns_partial_reward(grade, tmp_path: Path) -> None:
    submission = partial_submission(
        tmp_path,
        TASK,
        "storage.py",
        "    logging_utils.append_jsonl(folder / RECORDS_FILE, record)\n",
        "    return None\n",
    )
    task = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    failed = failed_tests(task)
    assert failed
    assert all(name.startswith("test_logging.py::") for name in failed), failed
    assert [m["credit"] for m in task["metrics"]] == [0.0]


@pytest.mark.slow
def test_submission_without_summarize_earns_partial_reward(grade, tmp_path: Path) -> None:
    submission = partial_submission(
        tmp_path,
        TASK,
        "cli.py",
        "    print(format_table(read_summary(args.directory)))\n    return 0\n",
        "    print('summarize: not implemented', file=sys.stderr)\n    return 1\n",
    )
    task = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    # the command line's error tests start with a good `summarize` (so that a command line failing
    # on everything earns nothing there): they fail too
    assert failed_tests(task) == {
        "test_cli.py::test_cli_summarize_prints_a_table",
        "test_cli.py::test_cli_summarize_rejects_a_folder_without_results",
        "test_cli.py::test_cli_run_rejects_a_bad_manifest",
        "test_cli.py::test_cli_run_reports_an_api_error",
    }


@pytest.mark.slow
def test_rewards_order_solutions_by_how_much_they_do(grade, tmp_path: Path) -> None:
    """One small function wrong (the geometric mean) earns more than a whole feature missing (the
    summarize command, the command line, logging)."""
    partials = {
        "no_geometric_mean": (
            "metrics",
            '"geometric_mean": tool_metrics.geometric_mean([coverage, completion]),',
            '"geometric_mean": 0.0,',
        ),
        "no_summarize": (
            "cli",
            "    print(format_table(read_summary(args.directory)))\n    return 0\n",
            "    print('summarize: not implemented', file=sys.stderr)\n    return 1\n",
        ),
        "no_cli": (
            "cli",
            "    args = build_parser().parse_args(argv)\n",
            "    print('not implemented', file=sys.stderr)\n    return 1\n",
        ),
        "no_logging": (
            "storage",
            "    logging_utils.append_jsonl(folder / RECORDS_FILE, record)\n",
            "    return None\n",
        ),
    }
    rewards = {}
    for name, (module, old, new) in partials.items():
        submission = partial_submission(tmp_path / name, TASK, f"{module}.py", old, new)
        rewards[name] = grade(submission, TASK, f"--rlgrade-seed={SEED}").task(TASK)["reward"]
    small = rewards.pop("no_geometric_mean")
    assert all(starter_cap(TASK) < reward < small < 1.0 for reward in rewards.values()), (small, rewards)


def test_a_generated_experiment_is_designed_once_per_generator_state(tmp_path: Path) -> None:
    """The experiment fixture's generator is remembered by the generator's state (a warm grader
    designs each once per seed): the same files, a fresh oracle each time, and the generator left
    exactly where drawing the experiment leaves it."""
    import random

    from pytest_rlgrade import trusted

    oracle = load_trusted(TASK_DIR / "tests" / "oracle.py", "experiment_profiler_oracle")
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    rng = random.Random("a test's seed")
    before = len(trusted._ENTRIES)
    made = oracle.generate_experiment(rng, first, first)
    after = rng.getstate()
    remembered = len(trusted._ENTRIES)
    assert remembered == before + 1
    assert after != random.Random("a test's seed").getstate()  # drawn from, as if drawn here
    again_rng = random.Random("a test's seed")
    again = oracle.generate_experiment(again_rng, second, second)
    assert len(trusted._ENTRIES) == remembered  # looked up, not designed again
    assert again_rng.getstate() == after
    assert again == made
    assert again is not made
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert made.pairs  # the oracle's answers came along
    other = oracle.generate_experiment(random.Random("another test's seed"), tmp_path, tmp_path)
    assert other.experiment_id != made.experiment_id
