"""The shipped task metric_card: its public tools and labels, and how its graders reward submissions.

The reference must earn 1.0, the starter at most its cap, and a submission missing one part (the
HTML page, or the formatting dimension of its scorer) must land strictly between them. The partial
submissions are copies of the reference with one part taken out.
"""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from shipped import assert_full_reward, assert_within_cap, copy_reference, failed_tests, starter_cap

from pytest_rlgrade import load_trusted

ROOT = Path(__file__).resolve().parent.parent
TASK = "metric_card"
TASK_DIR = ROOT / "tasks" / TASK
REFERENCE = ROOT / "reference" / TASK
STARTER = ROOT / "starter" / TASK
SEED = "20250601"

# The names the task's own conftest uses: the hidden scorer imports the tools under this one.
tools = load_trusted(TASK_DIR / "tools", "metric_card_tools")
hidden = load_trusted(TASK_DIR / "hidden", "metric_card_hidden")


def tool(name: str) -> ModuleType:
    return importlib.import_module(f"metric_card_tools.{name}")


simulator = tool("openai_client")
card_schema = tool("card_schema")
contexts_tool = tool("contexts")
scorer = hidden.scoring


def body(context: dict[str, Any] | None, **params: Any) -> dict[str, Any]:
    user = "Make the card." if context is None else f"Card please.\n<context>\n{json.dumps(context)}\n</context>"
    return {
        "model": "gpt-4.1-mini",
        "messages": [{"role": "system", "content": "You write cards."}, {"role": "user", "content": user}],
        **params,
    }


@pytest.fixture(scope="module")
def contexts() -> list[dict[str, Any]]:
    return contexts_tool.load_contexts()


# -- the public tools ---------------------------------------------------------------------------


def test_simulator_is_deterministic_and_depends_on_the_request(contexts: list[dict[str, Any]]) -> None:
    request = body(contexts[0], n=6, seed=3, temperature=0.7)
    first, again = simulator.simulate(request), simulator.simulate(request)
    assert first == again
    assert first["id"].startswith("chatcmpl-sim-")
    assert len(first["choices"]) == 6
    other_seed = simulator.simulate(body(contexts[0], n=6, seed=4, temperature=0.7))
    assert other_seed["id"] != first["id"]
    texts = [c["message"]["content"] for c in first["choices"]]
    assert [c["message"]["content"] for c in other_seed["choices"]] != texts
    usage = first["usage"]
    assert usage["completion_tokens"] == sum(simulator.count_tokens(c["message"]["content"]) for c in first["choices"])
    assert usage["prompt_tokens"] == sum(simulator.count_tokens(m["content"]) for m in request["messages"])
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_simulator_writes_every_quality(contexts: list[dict[str, Any]]) -> None:
    seen = set()
    for context in contexts:
        request = simulator.normalize_request(body(context, n=16, seed=0))
        seen.update(simulator.choice_quality(request, i) for i in range(16))
    assert seen == set(simulator.QUALITIES)
    assert simulator.choice_quality(simulator.normalize_request(body(None)), 0) is None


def test_simulator_without_a_context_answers_in_prose() -> None:
    answer = simulator.simulate(body(None, n=2))
    assert [c["message"]["content"] for c in answer["choices"]] == [simulator.NO_CONTEXT_REPLY] * 2
    assert not scorer.extract_json(simulator.NO_CONTEXT_REPLY)["found"]


def test_simulator_cuts_answers_at_max_tokens(contexts: list[dict[str, Any]]) -> None:
    answer = simulator.simulate(body(contexts[1], n=3, max_tokens=20))
    for choice in answer["choices"]:
        assert len(choice["message"]["content"]) <= 80
        assert choice["finish_reason"] == "length"
    assert simulator.simulate(body(contexts[1], max_completion_tokens=20))["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    "bad",
    [{"n": 0}, {"n": 17}, {"model": ""}, {"messages": []}, {"stream": True}, {"temperature": 3}, {"seed": "x"}],
)
def test_simulator_rejects_bad_requests(bad: dict[str, Any], contexts: list[dict[str, Any]]) -> None:
    with pytest.raises(simulator.SimulatedRequestError):
        simulator.simulate({**body(contexts[0]), **bad})


def test_simulated_sdk_client_returns_real_completions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contexts: list[dict[str, Any]]
) -> None:
    """The openai SDK's own request and response code runs against the simulated transport."""
    import openai

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    client = simulator.get_client()
    request = body(contexts[2], n=3, seed=11, max_tokens=900)
    completion = client.chat.completions.create(**request)
    assert isinstance(completion, openai.types.chat.ChatCompletion)
    expected = simulator.simulate(request)
    assert completion.id == expected["id"]
    assert [c.message.content for c in completion.choices] == [c["message"]["content"] for c in expected["choices"]]
    assert completion.usage.completion_tokens == expected["usage"]["completion_tokens"]
    (logged,) = [json.loads(line) for line in (tmp_path / simulator.REQUEST_LOG).read_text().splitlines()]
    assert logged["request"] == simulator.normalize_request(request)
    assert logged["response_id"] == completion.id
    assert logged["usage"] == expected["usage"]
    with pytest.raises(openai.BadRequestError, match="n: must be"):
        client.chat.completions.create(**body(contexts[2], n=0))


def test_good_cards_follow_the_schema_and_score_full_marks(contexts: list[dict[str, Any]]) -> None:
    validator = card_schema.validator()
    for context in contexts:
        for variant in range(25):
            card = simulator.good_card(context, variant)
            assert not list(validator.iter_errors(card)), (context["id"], variant)
            assert scorer.score_output(json.dumps(card), context)["overall"] == 1.0, (context["id"], variant)


def test_the_scorer_remembers_each_output_and_hands_out_copies(contexts: list[dict[str, Any]]) -> None:
    """``score_output`` is a function of the text and the context: a warm grader scores an output
    once, and a test that changes what it got back changes nobody else's."""
    from pytest_rlgrade import trusted

    text, context = json.dumps(simulator.good_card(contexts[0], 3)) + " ", contexts[0]
    before = len(trusted._ENTRIES)
    first = scorer.score_output(text, context)
    assert len(trusted._ENTRIES) == before + 1
    first["overall"] = -1.0
    again = scorer.score_output(text, context)
    assert len(trusted._ENTRIES) == before + 1
    assert again["overall"] == 1.0
    assert scorer.score_output(text.strip(), context) == again  # another text: scored on its own


SIGNATURES = {
    "valid": {"json_validity": 1.0, "overall": 1.0},
    "fenced": {"json_validity": 1.0, "overall": 1.0},
    "prose": {"json_validity": 1.0, "overall": 1.0},
    "truncated": {"json_validity": 0.0, "overall": 0.0},
    "trailing_comma": {"json_validity": 0.5, "schema_compliance": 1.0},
    "single_quotes": {"json_validity": 0.5, "schema_compliance": 1.0},
    "wrong_metric": {"schema_compliance": 1.0, "semantic_quality": 7 / 8},
    "contradicting_trend": {"schema_compliance": 1.0, "semantic_quality": 7 / 8},
    "wrong_unit": {"schema_compliance": 1.0, "semantic_quality": 5 / 8},
}


@pytest.mark.parametrize("quality", simulator.QUALITIES)
def test_every_quality_is_what_it_says(quality: str, contexts: list[dict[str, Any]]) -> None:
    for context in contexts:
        for variant in range(3):
            output = simulator.sample_output(context, quality, variant)
            scores = scorer.flat_scores(scorer.score_output(output, context))
            for key, want in SIGNATURES.get(quality, {}).items():
                assert scores[key] == pytest.approx(want), (quality, context["id"], key, scores)
            if quality in ("wrong_types", "missing_fields", "extra_fields", "flattened"):
                assert scores["json_validity"] == 1.0
                assert scores["schema_compliance"] < 1.0, (quality, scores)
            if quality == "inconsistent":
                assert scores["formatting"] < 1.0
                assert scores["semantic_quality"] == scores["schema_compliance"] == 1.0


def test_contexts_loader_reports_bad_files(tmp_path: Path, contexts: list[dict[str, Any]]) -> None:
    assert len({c["id"] for c in contexts}) == len(contexts) >= 10
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"contexts": [contexts[0], contexts[0]]}))
    with pytest.raises(contexts_tool.ContextError, match="duplicate id"):
        contexts_tool.load_contexts(bad)
    wrong = dict(contexts[0], unit="ms")
    bad.write_text(json.dumps({"contexts": [wrong]}))
    with pytest.raises(contexts_tool.ContextError, match=r"contexts\[0\].*unit 'ms'"):
        contexts_tool.load_contexts(bad)
    with pytest.raises(contexts_tool.ContextError, match="missing.json"):
        contexts_tool.load_contexts(tmp_path / "missing.json")


def test_card_schema_is_a_valid_json_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(card_schema.CARD_SCHEMA)
    assert "metric.format.decimals" in card_schema.required_fields()
    assert card_schema.convert(0.5, "ratio", "percent") == 50
    assert card_schema.convert(1.0, "ms", "usd") is None


def test_labels_agree_with_the_scorer() -> None:
    """``hidden/labels.jsonl`` is what ``make_labels.py`` writes with the current scorer and tools."""
    make_labels = load_trusted(TASK_DIR / "hidden" / "make_labels.py", "_metric_card_make_labels")
    assert make_labels.build() == hidden.labelled_outputs(), "run tasks/metric_card/hidden/make_labels.py"
    kinds = {row["expected"]["json_validity"] for row in hidden.labelled_outputs()}
    assert kinds == {0.0, 0.5, 1.0}


# -- grading ------------------------------------------------------------------------------------


def replace_function(source: str, name: str, replacement: str) -> str:
    """``source`` with the top-level function ``name`` replaced by ``replacement``'s."""
    tree = ast.parse(source)
    (node,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    (new,) = [n for n in ast.parse(replacement).body if isinstance(n, ast.FunctionDef) and n.name == name]
    lines = source.splitlines(keepends=True)
    new_lines = replacement.splitlines(keepends=True)[new.lineno - 1 : new.end_lineno]
    return "".join(lines[: node.lineno - 1] + new_lines + lines[node.end_lineno :])


@pytest.mark.slow
def test_reference_earns_full_reward(grade) -> None:
    assert_full_reward(grade("reference", TASK, "--min-reward=1.0", f"--rlgrade-seed={SEED}"), TASK, at_least=50)


@pytest.mark.slow
def test_starter_stays_under_its_cap(grade) -> None:
    assert_within_cap(grade("starter", TASK, f"--rlgrade-seed={SEED}"), TASK, gate="test_mc_package.py::test_imports")


@pytest.mark.slow
def test_submission_without_the_html_page_earns_partial_reward(grade, tmp_path: Path) -> None:
    folder = copy_reference(tmp_path, TASK)
    path = folder / TASK / "metric_card_generator.py"
    source = path.read_text()
    line = "        _atomic_write(html_path(target), html_report.render(groups, title=target.name))\n"
    assert source.count(line) == 1
    path.write_text(source.replace(line, ""))
    task = grade(folder, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    assert failed_tests(task) == {
        "test_mc_process.py::test_html_page_shows_every_rollout",
        "test_mc_process.py::test_cli_process_with_the_seeds_flag",
    }


@pytest.mark.slow
def test_submission_with_the_starters_formatting_earns_partial_reward(grade, tmp_path: Path) -> None:
    """The reference whose scorer has the starter's (unfinished) formatting dimension."""
    folder = copy_reference(tmp_path, TASK)
    path = folder / TASK / "scoring.py"
    starter = (STARTER / TASK / "scoring.py").read_text()
    path.write_text(replace_function(path.read_text(), "score_formatting", starter))
    task = grade(folder, TASK, f"--rlgrade-seed={SEED}").task(TASK)
    assert task["reward"] is not None
    assert starter_cap(TASK) < task["reward"] < 1.0, task["reward"]
    failed = failed_tests(task)
    assert "test_mc_scoring.py::test_formatting_check[nesting]" in failed
    assert not any(name.startswith(("test_mc_extraction.py", "test_mc_prompts.py")) for name in failed), failed
    assert [m["credit"] for m in task["metrics"]] == [0.0]
