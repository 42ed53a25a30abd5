"""Trusted helpers of the character_eval graders: generated inputs, the simulators' logs, and what
a correct pipeline must have sent and written.

``conftest.py`` loads this module as ``character_eval_oracle``. The task's public tools are loaded
here as the package ``_character_eval_trusted_tools`` (never as ``tools``, which another task may
also have), and its hidden labels as ``_character_eval_hidden``.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from pytest_rlgrade import load_trusted

TASK_DIR = Path(__file__).resolve().parent.parent
tools = load_trusted(TASK_DIR / "tools", "_character_eval_trusted_tools")
hidden = load_trusted(TASK_DIR / "hidden", "_character_eval_hidden")
simulation = load_trusted(TASK_DIR / "tools" / "simulation.py", "_character_eval_trusted_tools.simulation")
anthropic_sim = load_trusted(TASK_DIR / "tools" / "anthropic_sim.py", "_character_eval_trusted_tools.anthropic_sim")
openrouter_sim = load_trusted(TASK_DIR / "tools" / "openrouter_sim.py", "_character_eval_trusted_tools.openrouter_sim")
together_sim = load_trusted(TASK_DIR / "tools" / "together_sim.py", "_character_eval_trusted_tools.together_sim")
labels = load_trusted(TASK_DIR / "hidden" / "labels.py", "_character_eval_hidden.labels")

PRIMARY = "anthropic/claude-sonnet-4-20250514"
FALLBACK = "openrouter/anthropic/claude-sonnet-4"
USER_MODEL = "openrouter/qwen/qwen3-32b"
THINKING = {"type": "enabled", "budget_tokens": 10000}
FINETUNE_MODEL = "Qwen/Qwen3-32B"
ANTHROPIC_LOG = anthropic_sim.REQUEST_LOG
OPENROUTER_LOG = openrouter_sim.REQUEST_LOG
TOGETHER_LOG = together_sim.REQUEST_LOG
CONFIG = json.loads((TASK_DIR / "data" / "config.json").read_text())
PERSONAS = json.loads((TASK_DIR / "data" / "personas.json").read_text())
EVALUATORS = list(CONFIG["evaluators"])
BAD_MODELS = [
    "anthropic/claude-3-opus-20240229",
    "openai/gpt-4o",
    "claude-sonnet-4-20250514",
    "openrouter/meta-llama/llama-3.1-70b-instruct",
    "anthropic/claude-sonnet-4",
]
SYLLABLES = ("ka", "lo", "mir", "tan", "vek", "sul", "dor", "pi", "ren", "zo", "qua", "bel", "fen", "gra", "hu")
MODULES = {
    "contexts": "character_eval.synthetic_generation.context_generator",
    "conversations": "character_eval.synthetic_generation.conversation_generator",
    "prepare_data": "character_eval.finetuning.prepare_data",
    "run_finetuning": "character_eval.finetuning.run_finetuning",
    "run_evaluations": "character_eval.run_evaluations",
}


def word(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def run(submission: Any, step: str, argv: list[str]) -> Any:
    """Run one pipeline step's command line in the submission's working folder."""
    return submission.run_cli([str(a) for a in argv], module=MODULES[step], timeout=60)


def assert_ok(result: Any, what: str) -> None:
    assert result.returncode == 0, f"{what} exited with {result.returncode}:\n{result.stderr[-2000:]}"


def assert_clear_failure(result: Any, what: str, *names: str) -> None:
    """A non-zero exit, no traceback, and stderr naming each of ``names``."""
    assert result.returncode != 0, f"{what} succeeded; it should have failed"
    output = result.stderr + result.stdout
    assert "Traceback" not in output, f"{what} crashed instead of failing clearly:\n{output[-2000:]}"
    for name in names:
        assert name in result.stderr, f"{what}: the error should name {name!r}:\n{result.stderr[-2000:]}"


def assert_required_flags(submission: Any, step: str, argv: list[Any], flags: list[str]) -> None:
    """Each of ``flags``, left out of the otherwise valid ``argv``, fails clearly naming it."""
    for flag in flags:
        at = argv.index(flag)
        result = run(submission, step, argv[:at] + argv[at + 2 :])
        assert_clear_failure(result, f"a run without {flag}", flag)


def write_settings(submission: Any, settings: dict[str, Any]) -> None:
    (submission.workdir / simulation.SETTINGS_FILE).write_text(json.dumps(settings))


def read_jsonl(submission: Any, relative: str) -> list[Any]:
    """The JSON lines of a file the submission wrote ([] when it does not exist)."""
    if not (submission.workdir / relative).is_file():
        return []
    rows = []
    for number, line in enumerate(submission.read_text(relative).splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"{relative} line {number} is not JSON: {line[:200]!r}") from None
    return rows


def served(submission: Any, log: str) -> list[dict[str, Any]]:
    """The entries of a simulator's request log, checked against the trusted simulator: every
    answer logged must be the one the simulator gives for the logged request."""
    entries = read_jsonl(submission, log)
    for entry in entries:
        assert isinstance(entry, dict), f"{log}: an entry that is not an object"
        if entry.get("status") != 200 or log == TOGETHER_LOG:
            continue
        sim = anthropic_sim if log == ANTHROPIC_LOG else openrouter_sim
        expected = sim.simulate(entry["request"], entry.get("malformed") is True)
        assert entry.get("response") == expected, f"{log}: entry {entry.get('call')} was not written by the simulator"
    return entries


def answered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in entries if e.get("status") == 200]


def text_of_anthropic(response: dict[str, Any]) -> str:
    return "".join(b["text"] for b in response["content"] if b["type"] == "text")


def text_of_openrouter(response: dict[str, Any]) -> str:
    return response["choices"][0]["message"]["content"]


def answer_text(entry: dict[str, Any], log: str) -> str:
    return text_of_anthropic(entry["response"]) if log == ANTHROPIC_LOG else text_of_openrouter(entry["response"])


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return is_number(a) and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# -- generated inputs -----------------------------------------------------------------------------


def make_contexts(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Contexts as the context generator writes them, with generated text."""
    contexts = []
    for number in range(1, count + 1):
        documents = [
            {"title": f"Policy {word(rng)} {i}", "content": f"Rule {word(rng)}: treat callers {word(rng)}."}
            for i in range(rng.randint(1, 3))
        ]
        contexts.append(
            {
                "id": f"context_{number:03d}",
                "theme": f"Theme {word(rng)}",
                "scenario": f"A candidate named {word(rng)} meets the interviewer about {word(rng)}.",
                "supporting_documents": documents,
                "model": PRIMARY,
            }
        )
    return contexts


def make_conversations(rng: random.Random, count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Valid conversations with planted slips, and their labels (the hidden generator)."""
    return labels.labelled_conversations(rng, count)


def transcript_of(conversation: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["role"], t["content"]) for t in conversation["turns"]]


def verdict(evaluator: str, conversation: dict[str, Any]) -> dict[str, Any]:
    """What the simulated judge answers for a correctly rendered transcript of ``conversation``."""
    prompt = "\n".join(f"<{r}>{c}</{r}>" for r, c in transcript_of(conversation))
    found = simulation.judge_verdict(evaluator, prompt)
    assert found is not None
    return found


def flag_of(evaluator: str) -> str:
    schema = CONFIG["evaluators"][evaluator]["schema"]
    return next(name for name, spec in schema["properties"].items() if spec["type"] == "boolean")


def expected_summary(results: dict[tuple[str, str], dict[str, Any] | None], ids: list[str]) -> dict[str, Any]:
    """The aggregates of the task statement for ``results`` ((conversation, evaluator) -> result
    or None when invalid)."""

    def mean(values: list[float]) -> float | None:
        return math.fsum(values) / len(values) if values else None

    evaluators = {}
    for name in EVALUATORS:
        valid = [r for (c, e), r in results.items() if e == name and r is not None]
        flag = flag_of(name)
        evaluators[name] = {
            "num_valid": len(valid),
            "num_invalid": sum(1 for (c, e), r in results.items() if e == name and r is None),
            "mean_score": mean([float(r["score"]) for r in valid]),
            f"{flag}_rate": mean([1.0 if r[flag] else 0.0 for r in valid]),
        }
    conversations = {}
    for ident in ids:
        scores = {e: (results[(ident, e)] or {}).get("score") for e in EVALUATORS}
        conversations[ident] = {
            "scores": scores,
            "mean_score": mean([float(s) for s in scores.values() if s is not None]),
        }
    every = [float(r["score"]) for r in results.values() if r is not None]
    return {"evaluators": evaluators, "conversations": conversations, "overall_mean_score": mean(every)}


def write_jsonl(path: Path, rows: list[Any], blank_after: int | None = None) -> None:
    """``rows`` as JSON lines; with ``blank_after``, a blank line after that many rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) + "\n" for r in rows]
    if blank_after is not None:
        lines.insert(blank_after, "\n")
    path.write_text("".join(lines))
