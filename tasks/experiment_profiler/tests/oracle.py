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

from pytest_rlgrade import load_trusted, memo

TASK_DIR = Path(__file__).resolve().parent.parent
MODELS = ["claude-haiku-4-5", "claude-sonnet-4-6", "claude-opus-4-5", "claude-opus-4-6", "claude-opus-4-7"]
EFFORTS = ["low", "medium", "high", "xhigh", "max"]
TAGS = ["alpha", "beta", "gamma", "delta", "omega"]
SYLLABLES = ["ka", "lo", "mir", "tan", "vek", "sul", "dor", "pi", "ren", "zo", "qua", "bel", "fen", "gra", "hu"]
REQUEST_LOG = ".simulated_anthropic_requests.jsonl"
RECORDS = "records.jsonl"
SUMMARY = "summary.json"
AGGREGATE_KEYS = ("num_records", "fact_coverage", "completion_rate", "refusal_rate", "geometric_mean")


# libyaml's emitter writes the same text as PyYAML's pure-Python one (checked on generated
# manifests) in a quarter of the time; manifests are written for every test.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump_yaml(data: Any, *, sort_keys: bool = True) -> str:
    """``yaml.safe_dump(data, sort_keys=sort_keys)``, with libyaml when PyYAML has it."""
    return yaml.dump(data, Dumper=_DUMPER, sort_keys=sort_keys)


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
    window: tuple[Any, Any] | None = None  # when it ran: set by the `ran` fixture

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
    """6 to 10 dialogues holding, by construction, every case the metrics distinguish: a refusal
    trigger, facts in another case than the answer's, a fact the answer never has, no facts at all,
    and tags shared by some dialogues but not all."""
    triggers = simulator.load_mock_responses()["refusal_triggers"]
    count = rng.randint(6, 10)
    refusing, factless = rng.sample(range(count), 2)
    dialogues, seen = [], set()
    for index in range(count):
        ident = f"dlg-{rng.randrange(16**6):06x}"
        while ident in seen:
            ident = f"dlg-{rng.randrange(16**6):06x}"
        seen.add(ident)
        words = [word(rng) for _ in range(rng.randint(5, 12))]
        if index == refusing:
            words.insert(rng.randrange(len(words) + 1), rng.choice(triggers))
        prompt = f"Tell me about {' '.join(words)}?"
        facts = [] if index == factless else rng.sample(words, rng.randint(1, 3))
        if facts:
            facts[0] = facts[0].upper()
            if index % 2:
                facts.append(word(rng) + "x")  # never in any answer
        tags = rng.sample(TAGS, rng.randint(1, 2))
        dialogues.append(Dialogue(ident, prompt, facts, tags))
    return dialogues


def shipped_dialogues() -> list[Dialogue]:
    data = json.loads((TASK_DIR / "data" / "dialogues.json").read_text())
    return [Dialogue(d["id"], d["prompt"], list(d["expected_facts"]), list(d["tags"])) for d in data["dialogues"]]


def _filters(kind: str, rng: random.Random, dialogues: list[Dialogue]) -> dict[str, Any]:
    """Filters of one kind; ids are listed out of dataset order (the plan keeps dataset order)."""
    tags = sorted({t for d in dialogues for t in d.tags})
    filters: dict[str, Any] = {}
    if "ids" in kind:
        chosen = rng.sample(dialogues, rng.randint(2, max(2, len(dialogues) - 2)))
        filters["ids"] = [d.id for d in sorted(chosen, key=dialogues.index, reverse=True)]
    if "tags" in kind:
        filters["tags"] = rng.sample(tags, rng.randint(1, 2))
    if "limit" in kind:
        filters["limit"] = rng.randint(1, 3)
    if kind == "nothing":
        filters["tags"] = ["no-such-tag"]
    return filters


def _stopping_run(name: str, rng: random.Random, dialogues: list[Dialogue], defaults: dict[str, Any]) -> dict[str, Any]:
    """A run with an effort and a stop sequence that does cut one of its answers."""
    run: dict[str, Any] = {"name": name, "effort": rng.choice(EFFORTS), "max_tokens": 4096}
    run["filters"] = _filters("ids", rng, dialogues)
    for dialogue_id in rng.sample(run["filters"]["ids"], len(run["filters"]["ids"])):
        prompt = next(d.prompt for d in dialogues if d.id == dialogue_id)
        request = {"model": defaults["model"], "max_tokens": 4096, "effort": run["effort"], "stop_sequences": [],
                   "system": defaults["system"], "messages": [{"role": "user", "content": prompt}]}  # fmt: skip
        answer = simulator.simulate(body_of(request))
        words = "".join(block["text"] for block in answer["content"]).split()
        if answer["stop_reason"] == "end_turn" and len(words) >= 2:
            run["stop_sequences"] = [rng.choice(words[1:])]
            break
    return run


def _runs(rng: random.Random, dialogues: list[Dialogue], defaults: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs exercising every rule of the manifest, by construction, in a random order:

    - ``inherit``: sets nothing, takes every default (its effort and stop sequences: none);
    - ``override``: sets every parameter itself, different from the defaults, with stop sequences
      from the prompts and a max_tokens that cuts long answers;
    - a disabled run, an explicitly enabled one, one selecting no dialogue at all, and runs with
      each kind of filter (ids, tags, limit and their combinations)."""
    prompt_words = [w for d in dialogues for w in d.prompt.rstrip("?").split()[3:]]
    names: list[str] = []
    while len(names) < 8:
        name = f"run_{rng.randrange(16**4):04x}"
        if name not in names:
            names.append(name)
    runs: list[dict[str, Any]] = [
        {"name": names[0]},
        {
            "name": names[1],
            "model": rng.choice([m for m in MODELS if m != defaults["model"]]),
            "max_tokens": rng.randint(2, 4),
            "effort": rng.choice(EFFORTS),
            "stop_sequences": rng.sample(prompt_words, 2),
            "system": f"You are {word(rng)}, an assistant for {word(rng)}.",
        },
        {"name": names[2], "enabled": False, "model": rng.choice(MODELS), "filters": _filters("ids", rng, dialogues)},
        {"name": names[3], "enabled": True, "filters": _filters("tags+limit", rng, dialogues)},
        {"name": names[4], "filters": _filters("nothing", rng, dialogues)},
        _stopping_run(names[5], rng, dialogues, defaults),
        {"name": names[6], "max_tokens": rng.randint(100, 4096), "filters": _filters("ids+tags", rng, dialogues)},
        {"name": names[7], "model": rng.choice(MODELS), "filters": _filters("limit", rng, dialogues)},
    ]
    for run in runs:
        if run.get("filters") == {}:
            del run["filters"]
    rng.shuffle(runs)
    return runs


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
    """Write a generated dataset and manifest under ``workdir``; return them with their oracle.

    The manifest sits in a folder of its own and names its dataset relative to it (``../``), so
    that a dataset path resolved against the working folder instead is caught on every seed.
    ``rng`` is left as if the experiment had been drawn from it."""
    files, experiment, after = _design_experiment(rng.getstate())
    for relative, text in files.items():
        (workdir / relative).parent.mkdir(parents=True, exist_ok=True)
        (workdir / relative).write_text(text)
    rng.setstate(after)
    return experiment


@memo  # a function of the generator's state: the rollouts of one seed share each experiment
def _design_experiment(state: Any) -> tuple[dict[str, str], Experiment, Any]:
    """The files (relative path -> text) and oracle of the experiment drawn from a generator in
    ``state``, and the generator's state after the drawing."""
    rng = random.Random()
    rng.setstate(state)
    experiment_id = f"exp_{rng.randrange(16**8):08x}"
    manifest_path = f"manifests/{experiment_id}.yaml"
    manifest: dict[str, Any] = {"experiment_id": experiment_id}
    if rng.random() < 0.5:
        manifest["description"] = f"generated experiment {word(rng)}"
    dialogues = generate_dialogues(rng)
    data_name = f"datasets/{word(rng)}.json"
    files = {data_name: json.dumps({"dialogues": [d.__dict__ for d in dialogues]}, indent=1)}
    manifest["dataset"] = "../" + data_name
    defaults: dict[str, Any] = {
        "model": rng.choice(MODELS),
        "max_tokens": rng.choice([rng.randint(10, 14), rng.randint(64, 1024)]),
        "system": f"You are a {word(rng)} assistant.",
    }
    manifest["defaults"] = defaults
    runs = _runs(rng, dialogues, defaults)
    manifest["runs"] = runs
    files[manifest_path] = dump_yaml(manifest, sort_keys=False)
    return files, _with_oracle(experiment_id, manifest, manifest_path, dialogues), rng.getstate()


def plans_of(manifest: dict[str, Any], dialogues: list[Dialogue]) -> list[Plan]:
    """What ``select_runs`` must give for ``manifest`` over ``dialogues``."""
    defaults = manifest.get("defaults", {})
    runs = manifest["runs"]
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
    return plans


def _with_oracle(
    experiment_id: str, manifest: dict[str, Any], manifest_path: str, dialogues: list[Dialogue]
) -> Experiment:
    plans = plans_of(manifest, dialogues)
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
