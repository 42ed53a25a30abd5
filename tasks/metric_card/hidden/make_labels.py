"""Write ``labels.jsonl``: hand-picked raw outputs (the traps of extraction and scoring) and
simulated outputs of every quality, each labelled with the trusted scorer's scores.

Run from the repository's root: ``python tasks/metric_card/hidden/make_labels.py``. The project's
test suite checks that the file and the scorer still agree.
"""

from __future__ import annotations

import copy
import importlib
import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _load() -> tuple[Any, Any, Any]:
    from pytest_rlgrade import load_trusted

    load_trusted(HERE.parent / "tools", "metric_card_tools")
    hidden = load_trusted(HERE, "metric_card_hidden")
    simulator = importlib.import_module("metric_card_tools.openai_client")
    contexts = importlib.import_module("metric_card_tools.contexts")
    return hidden.scoring, simulator, contexts


def traps(simulator: Any, contexts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    """``(id, context, output)`` of the hand-picked cases."""
    by_id = {c["id"]: c for c in contexts}
    mmlu, humaneval, gsm8k = by_id["mmlu-acc-llama"], by_id["humaneval-pass-qwen"], by_id["gsm8k-em-mistral"]
    latency = by_id["serving-p95-phi"]
    card = simulator.good_card(mmlu, 7)
    text = json.dumps(card)
    cases: list[tuple[str, dict[str, Any], str]] = []

    def add(name: str, context: dict[str, Any], output: str) -> None:
        cases.append((name, context, output))

    def edited(base: dict[str, Any], change: Any) -> str:
        value = copy.deepcopy(base)
        change(value)
        return json.dumps(value)

    add("bom-prefix", mmlu, "\ufeff" + text)
    add("python-literals", mmlu, text.replace("false", "False").replace('"component"', '"ok": True, "component"'))
    add("two-objects", mmlu, f"First {text} and also {text}")
    add("fence-no-language", mmlu, f"```\n{json.dumps(card, indent=2)}\n```")
    add("broken-fence-then-json", mmlu, f"```json\n{text[:-20]}\n```\n{text}")
    add("unclosed-fence", mmlu, f"```json\n{json.dumps(card, indent=2)}")
    add("brace-in-prose", mmlu, f"Use {{braces}} like this: {text}")
    add("brace-after-json", mmlu, f"{text} and then }} ends it")
    add("json-string-holding-json", mmlu, json.dumps(text))
    add("empty", mmlu, "")
    add("whitespace", mmlu, " \n\t ")
    add("nan-value", mmlu, text.replace(json.dumps(card["metric"]["value"]), "NaN", 1))
    add("array-of-card", mmlu, json.dumps([card]))
    add("wrapped-card", mmlu, json.dumps({"card": card}))
    add("quotes-and-commas", mmlu, simulator._with_trailing_commas(card).replace('"', "'"))
    add("apostrophe-in-single-quotes", mmlu, text.replace('"', "'").replace("Accuracy on", "Model's accuracy on"))
    add("comma-brace-inside-string", mmlu, edited(card, lambda c: c.update(title="a,} b,]")))
    add("bool-value", mmlu, edited(card, lambda c: c["metric"].update(value=True)))
    add("bool-decimals", mmlu, edited(card, lambda c: c["metric"]["format"].update(decimals=True)))
    add("decimals-out-of-range", mmlu, edited(card, lambda c: c["metric"]["format"].update(decimals=6)))
    add("direction-capitalised", mmlu, edited(card, lambda c: c["trend"].update(direction="Up")))
    add("unit-percent-sign", mmlu, edited(card, lambda c: c["metric"].update(unit="%")))
    add("hyphen-key", mmlu, edited(card, lambda c: c.update({"last-updated": "2025-01-01"})))
    add("string-sparkline-end", mmlu, edited(card, lambda c: c.update(sparkline={"points": [0.8, "0.836"]})))
    add(
        "duplicate-threshold-labels",
        mmlu,
        edited(
            card,
            lambda c: c.update(
                thresholds=[
                    {"label": "good", "min": 0, "color": "#16a34a"},
                    {"label": "good", "min": 0.5, "color": "#16a34a"},
                ]
            ),
        ),
    )
    add("empty-thresholds", mmlu, edited(card, lambda c: c.update(thresholds=[])))

    pct = simulator.good_card(humaneval, 3)
    pct["metric"].update(unit="ratio", value=0.927, format={"decimals": 3})
    pct["trend"].update(change=0.043)
    pct.pop("sparkline", None)
    add("converted-unit", humaneval, json.dumps(pct))
    add("label-as-name", humaneval, edited(pct, lambda c: c["metric"].update(name="PASS@1")))
    add("model-separators", humaneval, edited(pct, lambda c: c.update(model=" qwen2.5 coder_32b ")))
    add("value-on-tolerance-edge", humaneval, edited(pct, lambda c: c["metric"].update(value=0.9275)))
    add("value-past-tolerance", humaneval, edited(pct, lambda c: c["metric"].update(value=0.9276)))
    add("too-many-decimals", humaneval, edited(pct, lambda c: c["metric"].update(value=0.92701)))

    flat = simulator.good_card(gsm8k, 1)
    add("flat-negative-zero", gsm8k, edited(flat, lambda c: c["trend"].update(change=-0.0)))
    add("flat-called-up", gsm8k, edited(flat, lambda c: c["trend"].update(direction="up")))

    slow = simulator.good_card(latency, 2)
    add("seconds-for-ms", latency, edited(slow, lambda c: c["metric"].update(unit="s", value=0.412)))
    add("lower-is-better-up", latency, edited(slow, lambda c: c["trend"].update(direction="up", change=43)))
    add("flattened-fields", latency, simulator.sample_output(latency, "flattened", 5))
    return cases


def simulated(simulator: Any, contexts: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], str]]:
    rng = random.Random(20250601)
    cases = []
    for context in contexts:
        for quality in rng.sample(simulator.QUALITIES, 2):
            cases.append(
                (
                    f"sim-{context['id']}-{quality}",
                    context,
                    simulator.sample_output(context, quality, rng.randrange(10**6)),
                )
            )
    return cases


def build() -> list[dict[str, Any]]:
    scoring, simulator, contexts_tool = _load()
    contexts = contexts_tool.load_contexts()
    rows = []
    for name, context, output in traps(simulator, contexts) + simulated(simulator, contexts):
        rows.append(
            {
                "id": name,
                "context": context,
                "output": output,
                "expected": scoring.flat_scores(scoring.score_output(output, context)),
            }
        )
    return rows


def main() -> int:
    rows = build()
    (HERE / "labels.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    print(f"wrote {len(rows)} labelled outputs to {HERE / 'labels.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
