"""Generated experiments and their oracle, shared by the experiment_profiler graders.

``conftest.py`` loads this module as ``experiment_profiler_oracle`` (pytest imports test modules
with ``--import-mode=importlib``, so the tests folder is not on ``sys.path``); tests import it by
that name.

The oracle is the task's own trusted tools (loaded by path under private names, never as ``tools``,
so they cannot clash with another task's public package): ``anthropic_client.simulate`` says what
the simulated API answers to a request, ``metrics`` how an answer scores, ``logging_utils`` the JSON
Schemas of log records and summaries.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_rlgrade import load_trusted

TASK_DIR = Path(__file__).resolve().parent.parent
MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7"]
EFFORTS = ["low", "medium", "high", "xhigh", "max"]
TAGS = ["alpha", "beta", "gamma", "delta", "omega"]
SYLLABLES = ["ka", "lo", "mir", "tan", "vek", "sul", "dor", "pi", "ren", "zo", "qua", "bel", "fen", "gra", "hu"]
REQUEST_LOG = ".simulated_anthropic_requests.jsonl"
RECORDS = "records.jsonl"
SUMMARY = "summary.json"
AGGREGATE_KEYS = ("num_records", "fact_coverage", "completion_rate", "refusal_rate", "geometric_mean")


def _load(name: str) -> Any:
    return load_trusted(TASK_DIR / "tools" / f"{name}.py", f"_experiment_profiler_trusted_{name}")


simulator = _load("anthropic_client")
trusted_metrics = _load("metrics")
trusted_logging = _load("logging_utils")


# -- the oracle ---------------------------------------------------------------------------------


def score(text: str, facts: Sequence[str], stop_reason: str | None) -> dict[str, Any]:
    return {
        "fact_coverage": trusted_metrics.fact_coverage(text, list(facts)),
        "completed": trusted_metrics.is_complete(stop_reason),
        "refused": trusted_metrics.is_refusal(text, stop_reason),
    }


def aggregate(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(scores)
    coverage = math.fsum(s["fact_coverage"] for s in scores) / n if n else 0.0
    completion = sum(1 for s in scores if s["completed"]) / n if n else 0.0
    refusal = sum(1 for s in scores if s["refused"]) / n if n else 0.0
    return {
        "num_records": n,
        "fact_coverage": coverage,
        "completion_rate": completion,
        "refusal_rate": refusal,
        "geometric_mean": trusted_metrics.geometric_mean([coverage, completion]),
    }


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def assert_aggregate(actual: Any, expected: dict[str, Any], where: str) -> None:
    """``actual`` has the aggregate keys with the right types and (to 1e-9) the right values."""
    assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
    for key in AGGREGATE_KEYS:
        assert key in actual, f"{where}: missing {key!r} in {actual!r}"
        value = actual[key]
        if key == "num_records":
            assert type(value) is int, f"{where}: num_records must be an int, got {value!r}"
            assert value == expected[key], f"{where}: num_records is {value}, expected {expected[key]}"
        else:
            assert is_number(value), f"{where}: {key} must be a number, got {value!r}"
            assert math.isclose(value, expected[key], rel_tol=1e-9, abs_tol=1e-9), (
                f"{where}: {key} is {value}, expected {expected[key]}"
            )


def schema_errors(data: Any, schema: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator.iter_errors(data)]


# -- generated experiments ----------------------------------------------------------------------


@dataclass(frozen=True)
class Dialogue:
    id: str
    prompt: str
    expected_facts: list[str]
    tags: list[str]


@dataclass
class Plan:
    """A run the manifest selects, with what the oracle expects of it."""

    name: str
    model: str
    max_tokens: int
    effort: str | None
    stop_sequences: list[str]
    system: str | None
    dialogue_ids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "max_tokens": self.max_tokens,
            "effort": self.effort,
            "stop_sequences": self.stop_sequences,
            "system": self.system,
            "dialogue_ids": self.dialogue_ids,
        }


@dataclass
class Pair:
    """One expected prompt/response pair: the request the client must receive and its answer."""

    run: str
    dialogue: Dialogue
    request: dict[str, Any]
    response: dict[str, Any]
    score: dict[str, Any]

    @property
    def text(self) -> str:
        return "".join(block["text"] for block in self.response["content"])


@dataclass
class Experiment:
    """A generated manifest (written under the submission's working folder) and its oracle."""

    experiment_id: str
    manifest: dict[str, Any]
    manifest_path: str  # relative to the working folder
    dialogues: list[Dialogue]
    plans: list[Plan]
    pairs: list[Pair] = field(default_factory=list)

    @property
    def run_names(self) -> list[str]:
        return [r["name"] for r in self.manifest["runs"]]

    def summary(self) -> dict[str, Any]:
        runs = {}
        for plan in self.plans:
            runs[plan.name] = {"model": plan.model, **aggregate([p.score for p in self.pairs if p.run == plan.name])}
        return {"experiment_id": self.experiment_id, "runs": runs, "overall": aggregate([p.score for p in self.pairs])}


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def generate_dialogues(rng: random.Random) -> list[Dialogue]:
    triggers = simulator.load_mock_responses()["refusal_triggers"]
    dialogues, seen = [], set()
    for _ in range(rng.randint(6, 10)):
        ident = f"dlg-{rng.randrange(16**6):06x}"
        while ident in seen:
            ident = f"dlg-{rng.randrange(16**6):06x}"
        seen.add(ident)
        words = [word(rng) for _ in range(rng.randint(4, 12))]
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words) + 1), rng.choice(triggers))
        prompt = f"Tell me about {' '.join(words)}?"
        facts = rng.sample(words, rng.randint(0, min(3, len(words))))
        facts = [f.upper() if rng.random() < 0.3 else f for f in facts]
        if rng.random() < 0.3:
            facts.append(word(rng) + "x")
        tags = rng.sample(TAGS, rng.randint(1, 2))
        dialogues.append(Dialogue(ident, prompt, facts, tags))
    return dialogues


def shipped_dialogues() -> list[Dialogue]:
    data = json.loads((TASK_DIR / "data" / "dialogues.json").read_text())
    return [Dialogue(d["id"], d["prompt"], list(d["expected_facts"]), list(d["tags"])) for d in data["dialogues"]]


def _run_entry(rng: random.Random, name: str, dialogues: list[Dialogue], has_default_model: bool) -> dict[str, Any]:
    run: dict[str, Any] = {"name": name}
    if rng.random() < 0.35:
        run["enabled"] = rng.random() < 0.3
    if not has_default_model or rng.random() < 0.5:
        run["model"] = rng.choice(MODELS)
    if rng.random() < 0.5:
        run["max_tokens"] = rng.choice([rng.randint(1, 6), rng.randint(7, 40), rng.randint(100, 4096)])
    if rng.random() < 0.5:
        run["effort"] = rng.choice(EFFORTS)
    if rng.random() < 0.3:
        prompt_words = [w for d in dialogues for w in d.prompt.rstrip("?").split()[3:]]
        run["stop_sequences"] = rng.sample(prompt_words, min(len(prompt_words), rng.randint(1, 2)))
    if rng.random() < 0.3:
        run["system"] = f"You are {word(rng)}, an assistant for {word(rng)}."
    filters: dict[str, Any] = {}
    kind = rng.choice(["none", "ids", "tags", "limit", "tags+limit", "ids+tags"])
    if "ids" in kind:
        filters["ids"] = [d.id for d in rng.sample(dialogues, rng.randint(1, len(dialogues)))]
    if "tags" in kind:
        filters["tags"] = rng.sample(sorted({t for d in dialogues for t in d.tags}), rng.randint(1, 2))
    if "limit" in kind:
        filters["limit"] = rng.randint(1, 4)
    if filters:
        run["filters"] = filters
    return run


def _select(run: dict[str, Any], dialogues: list[Dialogue]) -> list[str]:
    filters = run.get("filters", {})
    ids, tags, limit = filters.get("ids"), filters.get("tags"), filters.get("limit")
    chosen = [d.id for d in dialogues if (ids is None or d.id in ids) and (tags is None or set(d.tags) & set(tags))]
    return chosen[:limit] if limit is not None else chosen


def body_of(request: dict[str, Any]) -> dict[str, Any]:
    """A Messages API request body with exactly these (normalized) parameters."""
    body: dict[str, Any] = {
        "model": request["model"],
        "max_tokens": request["max_tokens"],
        "messages": request["messages"],
    }
    if request["effort"]:
        body["output_config"] = {"effort": request["effort"]}
    if request["stop_sequences"]:
        body["stop_sequences"] = request["stop_sequences"]
    if request["system"]:
        body["system"] = request["system"]
    return body


def generate_experiment(rng: random.Random, workdir: Path, public_dir: Path) -> Experiment:
    """Write a generated dataset and manifest under ``workdir``; return them with their oracle."""
    experiment_id = f"exp_{rng.randrange(16**8):08x}"
    source = rng.choice(["generated", "generated", "generated", "shipped_default", "shipped_absolute"])
    folder = rng.choice(["", "manifests/"])
    manifest_path = f"{folder}{experiment_id}.yaml"
    manifest: dict[str, Any] = {"experiment_id": experiment_id}
    if rng.random() < 0.5:
        manifest["description"] = f"generated experiment {word(rng)}"
    if source == "generated":
        dialogues = generate_dialogues(rng)
        data_name = f"datasets/{word(rng)}.json"
        (workdir / "datasets").mkdir(exist_ok=True)
        (workdir / data_name).write_text(json.dumps({"dialogues": [d.__dict__ for d in dialogues]}, indent=1))
        manifest["dataset"] = ("../" if folder else "") + data_name
    else:
        dialogues = shipped_dialogues()
        if source == "shipped_absolute":
            manifest["dataset"] = str(public_dir / "data" / "dialogues.json")
    defaults: dict[str, Any] = {}
    has_default_model = rng.random() < 0.7
    if has_default_model:
        defaults["model"] = rng.choice(MODELS)
    if rng.random() < 0.5:
        defaults["max_tokens"] = rng.choice([rng.randint(3, 12), rng.randint(64, 1024)])
    if rng.random() < 0.3:
        defaults["effort"] = rng.choice(EFFORTS)
    if rng.random() < 0.3:
        defaults["system"] = f"You are a {word(rng)} assistant."
    if defaults:
        manifest["defaults"] = defaults
    names: list[str] = []
    count = rng.randint(3, 5)
    while len(names) < count:
        name = f"run_{rng.randrange(16**4):04x}"
        if name not in names:
            names.append(name)
    runs = [_run_entry(rng, name, dialogues, has_default_model) for name in names]
    if not any(r.get("enabled", True) for r in runs):
        runs[rng.randrange(len(runs))]["enabled"] = True
    manifest["runs"] = runs
    (workdir / manifest_path).parent.mkdir(parents=True, exist_ok=True)
    (workdir / manifest_path).write_text(yaml.safe_dump(manifest, sort_keys=False))

    plans = []
    for run in runs:
        if not run.get("enabled", True):
            continue

        def pick(key: str, run: dict[str, Any] = run) -> Any:
            return run[key] if run.get(key) is not None else defaults.get(key)

        plans.append(
            Plan(
                run["name"],
                pick("model"),
                pick("max_tokens") or 1024,
                pick("effort"),
                list(pick("stop_sequences") or []),
                pick("system") or None,
                _select(run, dialogues),
            )
        )
    experiment = Experiment(experiment_id, manifest, manifest_path, dialogues, plans)
    by_id = {d.id: d for d in dialogues}
    for plan in plans:
        for dialogue_id in plan.dialogue_ids:
            dialogue = by_id[dialogue_id]
            request = {
                "model": plan.model,
                "max_tokens": plan.max_tokens,
                "effort": plan.effort,
                "stop_sequences": plan.stop_sequences,
                "system": plan.system,
                "messages": [{"role": "user", "content": dialogue.prompt}],
            }
            response = simulator.simulate(body_of(request))
            text = "".join(block["text"] for block in response["content"])
            experiment.pairs.append(
                Pair(
                    plan.name,
                    dialogue,
                    request,
                    response,
                    score(text, dialogue.expected_facts, response["stop_reason"]),
                )
            )
    return experiment


def read_jsonl(submission: Any, relative: str) -> list[Any]:
    """The JSON lines of a file the submission wrote under its working folder, read through
    ``submission.read_text`` (size-capped, no link followed); a bad line fails the test."""
    name = Path(relative).name
    assert (submission.workdir / relative).is_file(), f"{name} was not written"
    lines = [line for line in submission.read_text(relative).splitlines() if line.strip()]
    records = []
    for number, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{name} line {number} is not JSON: {exc}")
    return records


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False)
