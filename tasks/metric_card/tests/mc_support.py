"""Helpers of the metric_card graders: generated contexts and cards, one fault at a time, the run of
``process`` on generated data with what the oracle expects of it, and readers of what the
submission wrote.

``conftest.py`` loads this module as ``metric_card_support`` (after ``metric_card_tools`` and
``metric_card_hidden``); the test modules import it by that name. Everything here is trusted:
the simulator and schema are the task's own tools loaded by path, the scorer is
``hidden/scoring.py``.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from pytest_rlgrade import memo

simulator = importlib.import_module("metric_card_tools.openai_client")
card_schema = importlib.import_module("metric_card_tools.card_schema")
context_tool = importlib.import_module("metric_card_tools.contexts")
oracle = importlib.import_module("metric_card_hidden.scoring")
# What the simulator answers is a function of the request: remembered, as the oracle's scores are.
simulate = memo(simulator.simulate)

DIMENSIONS = oracle.DIMENSIONS
SCORES = (*DIMENSIONS, "overall")
SEMANTIC_CHECKS = oracle.SEMANTIC_CHECKS
FORMATTING_CHECKS = oracle.FORMATTING_CHECKS
REQUEST_LOG = simulator.REQUEST_LOG
DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_MAX_TOKENS = 1024
NON_ASCII = ["Δ", "é", "Ω", "ü", "→", "中"]
SYLLABLES = ["ka", "lo", "mir", "tan", "vek", "sul", "dor", "pi", "ren", "zo", "qua", "bel", "fen", "gra", "hu"]
# The grid each unit's generated values sit on: a value is an integer count of steps.
_STEPS = {"percent": 10, "ratio": 1000, "ms": 1, "s": 1000, "tokens_per_s": 1, "usd": 100, "points": 10, "elo": 1}
_RANGES = {
    "percent": (0, 1000),
    "ratio": (0, 1000),
    "ms": (20, 3000),
    "s": (20, 3000),
    "tokens_per_s": (50, 5000),
    "usd": (1, 5000),
    "points": (0, 1000),
    "elo": (800, 1500),
}


def word(rng: random.Random, syllables: int = 3) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def close(a: Any, b: float, tolerance: float = 1e-9) -> bool:
    return isinstance(a, (int, float)) and not isinstance(a, bool) and math.isclose(a, b, rel_tol=0, abs_tol=tolerance)


# -- contexts ------------------------------------------------------------------------------------


def _on_grid(count: int, unit: str) -> int | float:
    return count if _STEPS[unit] == 1 else count / _STEPS[unit]


def generate_contexts(rng: random.Random, count: int | None = None) -> list[dict[str, Any]]:
    """``count`` (default 4 or 5) valid contexts with distinct metrics; among them, by
    construction, a rising, a falling and a flat value, a benchmark with ``&`` and one with
    ``<...>`` (HTML must escape them), the first also with a character outside ASCII (written as
    itself where the task gives ``ensure_ascii=False``), and one with a baseline."""
    count = count or rng.randint(4, 5)
    metrics = rng.sample(sorted(card_schema.METRICS), count)
    directions = ["up", "down", "flat", *(rng.choice(["up", "down"]) for _ in range(count - 3))]
    rng.shuffle(directions)
    contexts = []
    for number, (metric, direction) in enumerate(zip(metrics, directions, strict=True)):
        unit = rng.choice(card_schema.units_for(metric))
        low, high = _RANGES[unit]
        now = rng.randint(low + 60, high)
        delta = rng.randint(1, 50)
        before = {"up": now - delta, "down": now + delta, "flat": now}[direction]
        benchmark = f"{word(rng).capitalize()}-{rng.randint(1, 99)}"
        if number == 0:
            benchmark += f" & {word(rng, 2).upper()} {rng.choice(NON_ASCII)}{word(rng, 2)}"
        elif number == 1:
            benchmark += f" <{word(rng, 2)}>"
        context: dict[str, Any] = {
            "id": f"{word(rng, 2)}-{metric.replace('@', '')}-{number}",
            "model": f"{word(rng).capitalize()}-{rng.randint(1, 9)}.{rng.randint(0, 9)}-{rng.randint(1, 400)}B",
            "benchmark": benchmark,
            "metric": metric,
            "value": _on_grid(now, unit),
            "unit": unit,
            "previous": _on_grid(before, unit),
            "period": rng.choice(card_schema.PERIODS),
        }
        if number == 2 or rng.random() < 0.3:
            context["baseline"] = {"label": word(rng).capitalize(), "value": _on_grid(rng.randint(low, high), unit)}
        contexts.append(context_tool.check_context(context))
    return contexts


def good_card(context: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    card = simulator.good_card(context, rng.randrange(10**9))
    assert oracle.score_output(json.dumps(card), context)["overall"] == 1.0, "the trusted good card is not perfect"
    return card


def _decimals(card: dict[str, Any]) -> int:
    return int(card["metric"]["format"]["decimals"])


def _step(card: dict[str, Any]) -> float:
    return 10.0 ** -_decimals(card)


def _shift(x: float, card: dict[str, Any], steps: int) -> float:
    return round(x + steps * _step(card), _decimals(card))


def _set_value(card: dict[str, Any], value: float) -> None:
    """Change metric.value and keep the sparkline ending at it (so only semantics change)."""
    card["metric"]["value"] = value
    if "sparkline" in card:
        card["sparkline"]["points"][-1] = value


def _other_case(text: str, rng: random.Random) -> str:
    """The same string for the normalized comparison: other case, separators swapped, padded."""
    swapped = re.sub(r"-", lambda _: rng.choice(["-", "_", " ", " - "]), text)
    return f"{rng.choice(['', ' '])}{rng.choice([swapped.upper(), swapped.lower(), swapped])}{rng.choice(['', '  '])}"


def subtly_right(card: dict[str, Any], context: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A card written differently from the context but meaning the same: it must score 1.0."""
    card = copy.deepcopy(card)
    card["model"] = _other_case(context["model"], rng)
    card["benchmark"] = _other_case(context["benchmark"], rng)
    label = card_schema.METRICS[context["metric"]]["label"]
    card["metric"]["name"] = rng.choice([label, label.upper(), context["metric"].upper()])
    return card


_NOT_DECIMALS = [None, 5, 7, 2.0, True, "3", -1]


def _without_decimals(card: dict[str, Any], rng: random.Random) -> None:
    """``metric.format.decimals`` missing or not an integer from 0 to 4: the tolerance is 4 decimals."""
    fmt = card["metric"]["format"]
    bad = rng.choice(_NOT_DECIMALS)
    if bad is None:
        fmt.pop("decimals", None)
    else:
        fmt["decimals"] = bad


def break_semantic(
    card: dict[str, Any], context: dict[str, Any], check: str, rng: random.Random, variant: int | None = None
) -> dict[str, Any]:
    """A copy of a good ``card`` that fails the semantic ``check`` (and keeps its format).

    With an odd ``variant``, ``metric.value`` and ``trend.change`` fail on a card without valid
    decimals, off by 1 to 4 ten-thousandths (outside the 4-decimal tolerance, inside 3's)."""
    card = copy.deepcopy(card)
    metric, trend = card["metric"], card["trend"]
    if check in ("metric.value", "trend.change") and variant is not None and variant % 2:
        _without_decimals(card, rng)
        off = rng.choice([-1, 1]) * rng.randint(1, 4) * 1e-4
        if check == "metric.value":
            _set_value(card, card_schema.convert(context["value"], context["unit"], metric["unit"]) + off)
        else:
            change = context["value"] - context["previous"]
            trend["change"] = card_schema.convert(change, context["unit"], metric["unit"]) + off
        return card
    if check in ("model", "benchmark"):
        card[check] = f"{card[check]} {word(rng, 2)}"
    elif check == "metric.name":
        metric["name"] = rng.choice(sorted(m for m in card_schema.METRICS if m != context["metric"]))
    elif check == "metric.unit":
        units = set(card_schema.UNITS) - set(card_schema.units_for(context["metric"]))
        metric["unit"] = rng.choice(sorted(units))
    elif check == "metric.value":
        _set_value(card, _shift(metric["value"], card, rng.choice([-1, 1]) * rng.randint(2, 9)))
    elif check == "trend.direction":
        trend["direction"] = rng.choice(sorted(set(card_schema.DIRECTIONS) - {trend["direction"]}))
    elif check == "trend.change":
        trend["change"] = _shift(trend["change"], card, rng.choice([-1, 1]) * rng.randint(2, 9))
    elif check == "trend.period":
        trend["period"] = rng.choice(sorted(set(card_schema.PERIODS) - {trend["period"]}))
    else:
        raise ValueError(check)
    return card


def _pick(options: list[Any], rng: random.Random, variant: int | None) -> Any:
    """``options[variant]`` (cycling), or one at random without a variant."""
    return rng.choice(options) if variant is None else options[variant % len(options)]


def break_formatting(
    card: dict[str, Any], check: str, rng: random.Random, variant: int | None = None
) -> dict[str, Any]:
    """A copy of a good ``card`` that fails the formatting ``check`` and no other.

    ``variant`` picks where (or how) the fault is made, cycling through the ways a check can
    fail: callers that pass 0, 1, 2, ... make every way on every seed; without it, one at random."""
    card = copy.deepcopy(card)
    metric = card["metric"]
    if check == "nesting":
        key = rng.choice(["name", "value", "unit", "direction", "change", "period"])
        card[key] = metric[key] if key in metric else card["trend"][key]
    elif check == "key_style":
        bad = rng.choice([f"{word(rng, 2)}_{word(rng, 2)}", f"{word(rng, 2).capitalize()}Value", f"_{word(rng, 2)}"])
        # at the top, in nested objects, and in an object that is an array's item
        where = _pick(["top", "layout", "metric", "array item"], rng, variant)
        if where == "array item":
            card["notes"] = [{"text": word(rng, 2)}, {bad: word(rng, 2)}]
        else:
            {"top": card, "layout": card["layout"], "metric": metric}[where][bad] = word(rng, 2)
    elif check == "field_types":
        disguised = rng.choice([f"{rng.randint(0, 99)}.{rng.randint(0, 9)}%", f" {rng.randint(-50, 50)} ", "7"])
        # an array's item, an object's value, a value nested deeper
        where = _pick(["array item", "object value", "nested value"], rng, variant)
        if where == "array item":
            card["tags"] = [*card.get("tags", []), disguised]
        elif where == "object value":
            card["description"] = disguised
        else:
            card["layout"]["caption"] = disguised
    elif check == "decimals":
        extra = 10.0 ** -(_decimals(card) + 1) * rng.randint(1, 4)
        places = ["trend"] + [k for k in ("comparison", "thresholds") if k in card]
        place = rng.choice(places)
        if place == "trend":
            card["trend"]["change"] = card["trend"]["change"] + extra
        elif place == "comparison":
            card["comparison"]["value"] = card["comparison"]["value"] + extra
        else:
            card["thresholds"][0]["min"] = card["thresholds"][0]["min"] + extra
    elif check == "thresholds":
        thresholds = card.get("thresholds") or [
            {"label": "poor", "min": 0, "color": "#dc2626"},
            {"label": "good", "min": 1, "color": "#16a34a"},
        ]
        how = _pick(["reversed", "repeated label", "equal label objects", "not a list of mins"], rng, variant)
        if how == "not a list of mins":
            item = rng.randrange(len(thresholds))
            kind = rng.choice(["no min", "min null", "min true", "min text", "not an object", "empty", "an object"])
            if kind == "no min":
                thresholds[item] = {k: v for k, v in thresholds[item].items() if k != "min"}
            elif kind == "not an object":
                thresholds[item] = word(rng, 2)
            elif kind == "empty":
                thresholds = []
            elif kind == "an object":
                thresholds = {"poor": 0, "good": 1}
            else:
                thresholds[item] = {**thresholds[item], "min": {"min null": None, "min true": True}.get(kind, "low")}
        elif how == "reversed":
            thresholds = list(reversed(thresholds))
        elif how == "repeated label":
            thresholds[-1] = {**thresholds[-1], "label": thresholds[0]["label"]}
        else:
            # labels that are equal JSON values, their keys written in another order
            text, tone = word(rng, 2), rng.choice(["good", "bad", "neutral"])
            thresholds[0] = {**thresholds[0], "label": {"text": text, "tone": tone}}
            thresholds[-1] = {**thresholds[-1], "label": {"tone": tone, "text": text}}
        card["thresholds"] = thresholds
    elif check == "sparkline":
        points = card.get("sparkline", {}).get("points", [metric["value"]])[:-1] or [metric["value"]]
        card["sparkline"] = {"points": [*points, _shift(metric["value"], card, rng.choice([-3, 2, 5]))]}
    else:
        raise ValueError(check)
    return card


# Independent faults, each exactly one error of the card's JSON Schema.
def _drop_title(card: dict[str, Any], rng: random.Random) -> None:
    card.pop("title", None)


def _bad_size(card: dict[str, Any], rng: random.Random) -> None:
    card["layout"]["size"] = rng.choice(["huge", "tiny", "XL"])


def _bad_decimals(card: dict[str, Any], rng: random.Random) -> None:
    card["metric"]["format"]["decimals"] = rng.randint(5, 9)


def _bad_theme(card: dict[str, Any], rng: random.Random) -> None:
    card["layout"]["theme"] = "sepia"


def _bad_date(card: dict[str, Any], rng: random.Random) -> None:
    card["lastUpdated"] = rng.choice(["yesterday", "2025/01/02", "Jan 5"])


def _duplicate_tags(card: dict[str, Any], rng: random.Random) -> None:
    card["tags"] = ["eval", "eval"]


def _bad_component(card: dict[str, Any], rng: random.Random) -> None:
    card["component"] = rng.choice(["Card", "metric-card", "KPI"])


def _empty_benchmark(card: dict[str, Any], rng: random.Random) -> None:
    card["benchmark"] = ""


SCHEMA_FAULTS = [
    _drop_title,
    _bad_size,
    _bad_decimals,
    _bad_theme,
    _bad_date,
    _duplicate_tags,
    _bad_component,
    _empty_benchmark,
]


# Where each fault's error is: the key a reason naming its place must mention.
SCHEMA_FAULT_PLACES = {
    _drop_title: "title",
    _bad_size: "size",
    _bad_decimals: "decimals",
    _bad_theme: "theme",
    _bad_date: "lastUpdated",
    _duplicate_tags: "tags",
    _bad_component: "component",
    _empty_benchmark: "benchmark",
}


def with_schema_errors(card: dict[str, Any], errors: int, rng: random.Random) -> dict[str, Any]:
    """A copy of a good ``card`` with exactly ``errors`` schema errors (checked by the oracle)."""
    card = copy.deepcopy(card)
    for fault in rng.sample(SCHEMA_FAULTS, errors):
        fault(card, rng)
    found = len(oracle.schema_errors(card))
    assert found == errors, f"the trusted fault generator made {found} errors, not {errors}"
    return card


# -- comparing a submission's scores with the oracle's ---------------------------------------------


def check_dimension(got: Any, want: dict[str, Any], where: str, prefixes: bool = False) -> None:
    """``got`` is ``{"score": float, "reasons": [str]}`` equal to the oracle's ``want``."""
    assert isinstance(got, dict), f"{where}: expected {{'score', 'reasons'}}, got {got!r}"
    score, reasons = got.get("score"), got.get("reasons")
    assert close(score, want["score"]), f"{where}: score {score!r}, expected {want['score']}"
    assert isinstance(reasons, list), f"{where}: reasons must be a list of strings, got {reasons!r}"
    assert all(isinstance(r, str) for r in reasons), f"{where}: reasons must be a list of strings, got {reasons!r}"
    if want["score"] == 1.0:
        assert reasons == [], f"{where}: a score of 1.0 has no reasons, got {reasons!r}"
    else:
        assert reasons, f"{where}: a score below 1.0 needs reasons"
    if prefixes:
        named = sorted(r.split(":", 1)[0].strip() for r in reasons)
        expected = sorted(r.split(":", 1)[0] for r in want["reasons"])
        assert named == expected, f"{where}: reasons name the checks {named}, expected the failed checks {expected}"


def check_result(got: Any, want: dict[str, Any], where: str) -> None:
    """A whole ``score_output`` result against the oracle's."""
    assert isinstance(got, dict), f"{where}: score_output should return a dict, got {got!r}"
    for dimension in DIMENSIONS:
        check_dimension(got.get(dimension), want[dimension], f"{where}: {dimension}", prefixes=dimension in PREFIXED)
        if dimension == "schema_compliance" and want[dimension]["score"] > 0:
            count = len(got[dimension]["reasons"])
            assert count == len(want[dimension]["reasons"]), (
                f"{where}: {count} schema reasons, expected one per error ({len(want[dimension]['reasons'])})"
            )
    assert close(got.get("overall"), want["overall"]), (
        f"{where}: overall {got.get('overall')!r}, expected {want['overall']}"
    )


PREFIXED = ("semantic_quality", "formatting")


def describe(text: str, limit: int = 160) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


# -- what the submission wrote -------------------------------------------------------------------


def read_jsonl(submission: Any, relative: str) -> list[Any]:
    """The JSON lines of a file the submission wrote (read through ``submission.read_text``)."""
    assert (submission.workdir / relative).is_file(), f"{relative} was not written"
    rows = []
    for number, line in enumerate(submission.read_text(relative).splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            pytest.fail(f"{relative} line {number} is not JSON: {exc}")
    return rows


def read_json(submission: Any, relative: str) -> Any:
    assert (submission.workdir / relative).is_file(), f"{relative} was not written"
    try:
        return submission.read_json(relative)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{relative} is not JSON: {exc}")


class RolloutPage(HTMLParser):
    """The rollouts of an HTML page: per element of class ``rollout``, its ``data-group``,
    ``data-index``, the text of its ``<pre>`` and of each element with ``data-score``."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rollouts: list[dict[str, Any]] = []
        self.remote: list[str] = []
        self.title = ""
        self._current: dict[str, Any] | None = None
        self._depth = 0
        self._pre = 0
        self._score: list[Any] = []  # [name, depth, text parts]
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for key in ("src", "href"):
            value = (attributes.get(key) or "").strip().lower()
            if value.startswith(("http:", "https:", "//")) or (tag == "script" and key == "src" and value):
                self.remote.append(f"<{tag} {key}={attributes.get(key)!r}>")
        if tag == "title":
            self._in_title = True
        if self._current is None:
            if "rollout" in (attributes.get("class") or "").split():
                self._current = {"group": attributes.get("data-group"), "index": attributes.get("data-index")}
                self._current.update(pre=[], scores={})
                self._depth = 1
            return
        if tag in self.VOID:
            return
        self._depth += 1
        if tag == "pre":
            self._pre += 1
            self._current["pre"].append([])
        if "data-score" in attributes and not self._score:
            self._score = [attributes["data-score"], self._depth, []]

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._current is None or tag in self.VOID:
            return
        if self._score and self._score[1] == self._depth:
            self._current["scores"].setdefault(self._score[0], []).append("".join(self._score[2]))
            self._score = []
        if tag == "pre" and self._pre:
            self._pre -= 1
        self._depth -= 1
        if self._depth == 0:
            self.rollouts.append(self._current)
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._current is None:
            return
        if self._pre:
            self._current["pre"][-1].append(data)
        if self._score:
            self._score[2].append(data)


def parse_page(text: str) -> RolloutPage:
    page = RolloutPage()
    page.feed(text)
    page.close()
    return page


# -- the generated run of process ------------------------------------------------------------------


@dataclass
class Run:
    """One generated run of ``run_process`` and the oracle's view of it."""

    contexts: list[dict[str, Any]]
    group_size: int
    num_prompts: int
    seed: int
    contexts_path: str
    path: str
    returned: Any
    log: list[Any] = field(default_factory=list)

    @property
    def html(self) -> str:
        return self.path[: -len(".jsonl")] + ".html"

    @property
    def metrics(self) -> str:
        return self.path[: -len(".jsonl")] + ".metrics.json"

    def context_of(self, number: int) -> dict[str, Any]:
        return self.contexts[number % len(self.contexts)]


def write_contexts(submission: Any, relative: str, contexts: list[dict[str, Any]]) -> str:
    path = submission.workdir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"contexts": contexts}, indent=2, ensure_ascii=False), encoding="utf-8")
    return relative


def run_generated_process(submission: Any, rng: random.Random) -> Run:
    """Generated contexts, group size (3-5), prompt count (more than the contexts, so they cycle)
    and seed, through ``run_process``; the request log as the simulator wrote it."""
    contexts = generate_contexts(rng, rng.randint(3, 4))
    contexts_path = write_contexts(submission, f"in_{word(rng, 2)}/contexts.json", contexts)
    group_size = rng.randint(3, 5)
    num_prompts = len(contexts) + rng.randint(1, 2)
    seed = rng.randrange(10**6)
    path = f"out_{word(rng, 2)}/metric_rollouts.jsonl"
    generator = submission.module("metric_card.metric_card_generator")
    returned = generator.run_process(
        path, group_size=group_size, num_prompts=num_prompts, seed=seed, contexts_path=contexts_path
    )
    run = Run(contexts, group_size, num_prompts, seed, contexts_path, path, returned)
    if (submission.workdir / REQUEST_LOG).is_file():
        run.log = read_jsonl(submission, REQUEST_LOG)
    return run


def picks_are_telling(scores: list[list[float]]) -> bool:
    """Whether the best and the worst of these overall scores (one list per group, in file order)
    tell a right pick from a wrong one: the first best (and the first worst) sits at an index other
    than its group number, and a later rollout is more extreme than the rollout at (group = that
    index, that index), so a pick that mixes up the group and the index lands elsewhere."""
    flat = [(number, index, score) for number, row in enumerate(scores) for index, score in enumerate(row)]
    for sign in (1, -1):
        extreme = max(sign * score for _, _, score in flat)
        first = next(k for k, (_, _, score) in enumerate(flat) if sign * score == extreme)
        number, index, _ = flat[first]
        if index == number:
            return False
        if index < len(scores) and index < len(scores[index]):
            other = sign * scores[index][index]
            if not any(sign * score > other for _, _, score in flat[first + 1 :]):
                return False
    return True


def telling_seed(run: Run, rng: random.Random, tries: int = 300) -> int:
    """A seed for another run of ``run``'s settings whose best and worst picks are telling (see
    ``picks_are_telling``), found by answering ``run``'s logged requests with that seed here, as
    the simulator will (the requests are the submission's own, so its prompt does not matter)."""
    seed = run.seed
    for _ in range(tries):
        seed = rng.randrange(10**6)
        scores = []
        for number, entry in enumerate(run.log):
            answer = simulate({**entry["request"], "seed": seed})
            context = run.context_of(number)
            scores.append([oracle.score_output(c["message"]["content"], context)["overall"] for c in answer["choices"]])
        if picks_are_telling(scores):
            return seed
    return seed


def expected_completions(entry: dict[str, Any]) -> dict[str, Any]:
    """What the simulator answered to a logged request."""
    return simulate(entry["request"])


def expected_metrics(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics of scored groups whose completions and usage are the simulator's."""
    rollouts = []
    for number, group in enumerate(groups):
        for index, conversation in enumerate(group["messages"]):
            text = conversation[-1]["content"]
            scores = oracle.flat_scores(oracle.score_output(text, group["context"]))
            rollouts.append({"group": number, "index": index, "scores": scores, "text": text, "group_data": group})
    count = len(rollouts)
    completion = sum(g["usage"]["completion_tokens"] for g in groups)
    prompt = sum(g["usage"]["prompt_tokens"] for g in groups)
    total = math.fsum(r["scores"]["overall"] for r in rollouts)
    return {
        "num_groups": len(groups),
        "num_rollouts": count,
        "percent_valid_json": 100.0 * sum(1 for r in rollouts if r["scores"]["json_validity"] == 1.0) / count,
        "average_scores": {k: math.fsum(r["scores"][k] for r in rollouts) / count for k in SCORES},
        "tokens": {
            "prompt": prompt,
            "completion": completion,
            "total": prompt + completion,
            "completion_per_rollout": completion / count,
            "score_per_1k_completion_tokens": 1000.0 * total / completion if completion else 0.0,
        },
        "rollouts": rollouts,
    }


# -- generated rollouts files and PNG images ---------------------------------------------------------


def generated_groups(rng: random.Random, scores: list[float] | None = None) -> list[dict[str, Any]]:
    """Scored groups as ``process`` writes them, with outputs of several kinds (some hold no JSON
    object) and breakdowns drawn at random (``scores``, when given, are the overall scores used in
    turn: the curation tools take the file's scores as they are)."""
    contexts = generate_contexts(rng, 3)
    kinds = ["valid", "fenced", "prose", "trailing_comma", "truncated", "wrong_unit", "array", "no_context"]
    pool = list(scores or [])
    groups = []
    for context in contexts:
        prompt = [
            {"role": "system", "content": f"Write metric cards. {word(rng)}"},
            {"role": "user", "content": f"<context>\n{json.dumps(context)}\n</context>"},
        ]
        conversations, breakdowns = [], []
        chosen = rng.sample(kinds, rng.randint(3, len(kinds)))
        if not groups:  # the first scores given go to outputs that hold a card
            chosen = ["valid", "fenced", *chosen]
        for kind in chosen:
            if kind == "array":
                text = json.dumps([simulator.good_card(context, rng.randrange(10**6))])
            elif kind == "no_context":
                text = simulator.NO_CONTEXT_REPLY
            else:
                text = simulator.sample_output(context, kind, rng.randrange(10**6))
            conversations.append([*prompt, {"role": "assistant", "content": text}])
            breakdown = {d: rng.choice([0.0, 0.25, 0.5, 0.75, 1.0, rng.random()]) for d in DIMENSIONS}
            breakdown["overall"] = pool.pop(0) if pool else rng.random()
            breakdown["reasons"] = {d: [] for d in DIMENSIONS}
            breakdowns.append(breakdown)
        groups.append(
            {
                "context_id": context["id"],
                "context": context,
                "messages": conversations,
                "scores": [b["overall"] for b in breakdowns],
                "breakdown": breakdowns,
                "finish_reasons": ["stop"] * len(conversations),
                "response_id": f"chatcmpl-{word(rng)}",
                "usage": {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
            }
        )
    return groups


def write_jsonl(submission: Any, relative: str, rows: list[Any]) -> str:
    path = submission.workdir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return relative


def training_examples(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``metric_training.jsonl`` must hold for ``groups``."""
    examples = []
    for group in groups:
        for conversation, breakdown in zip(group["messages"], group["breakdown"], strict=True):
            found = oracle.extract_json(conversation[-1]["content"])
            if not found["found"] or not isinstance(found["value"], dict):
                continue
            answer = {"role": "assistant", "content": json.dumps(found["value"], indent=2, ensure_ascii=False)}
            examples.append(
                {
                    "messages": [*({"role": m["role"], "content": m["content"]} for m in conversation[:-1]), answer],
                    "score": breakdown["overall"],
                    "context_id": group["context_id"],
                }
            )
    return examples


def bin_of(score: float, bins: int) -> int:
    return min(math.floor(score * bins), bins - 1)


def png_problems(data: bytes) -> list[str]:
    """What keeps ``data`` from being a well-formed, non-blank 8-bit PNG image of at least 64×64."""
    return decode_png(data)[0]


@memo  # a function of the bytes: the rollouts that draw the same plot have it decoded once
def decode_png(data: bytes) -> tuple[list[str], bytes]:
    """``(problems, pixels)``: what is wrong with ``data`` as a PNG image (see ``png_problems``),
    and its unfiltered pixel rows (empty when it cannot be decoded)."""
    import struct
    import zlib

    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ["no PNG signature"], b""
    position, chunks = 8, []
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length] or b"\0\0\0\0")
        if len(body) != length or zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            return [f"chunk {kind!r} is cut or has a bad CRC"], b""
        chunks.append((kind, body))
        position += 12 + length
        if kind == b"IEND":
            break
    kinds = [k for k, _ in chunks]
    if not kinds or kinds[0] != b"IHDR" or kinds[-1] != b"IEND" or b"IDAT" not in kinds:
        return [f"chunks {kinds[:8]} are not IHDR ... IDAT ... IEND"], b""
    width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if compression != 0 or filtering != 0:
        return [f"compression method {compression} and filter method {filtering}: PNG defines only 0"], b""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(color)
    if channels is None or depth != 8 or interlace != 0:
        return [f"only 8-bit, non-interlaced images are checked (depth {depth}, color type {color})"], b""
    if width < 64 or height < 64:
        return [f"the image is {width}x{height}, too small to show histograms"], b""
    try:
        raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    except zlib.error as exc:
        return [f"the image data does not decompress: {exc}"], b""
    stride = width * channels
    if len(raw) != height * (stride + 1):
        return [f"{len(raw)} bytes of image data, expected {height * (stride + 1)}"], b""
    previous = bytearray(stride)
    colors: set[bytes] = set()
    pixels = bytearray()
    for y in range(height):
        kind, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = row[x - channels] if x >= channels else 0
            up, corner = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                row[x] = (row[x] + left) & 0xFF
            elif kind == 2:
                row[x] = (row[x] + up) & 0xFF
            elif kind == 3:
                row[x] = (row[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                row[x] = (row[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
            elif kind != 0:
                return [f"row {y} has filter type {kind}"], b""
        if len(colors) < 2:
            colors.update(bytes(row[i : i + channels]) for i in range(0, stride, channels))
        previous = row
        pixels += row
    if len(colors) < 2:
        return ["the image is blank (one color)"], bytes(pixels)
    return [], bytes(pixels)
