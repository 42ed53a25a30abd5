"""The rollouts as one self-contained HTML page: every output with its scores and reasons."""

from __future__ import annotations

from html import escape
from typing import Any

from metric_card.scoring import DIMENSIONS

LABELS = {
    "json_validity": "JSON validity",
    "schema_compliance": "Schema compliance",
    "semantic_quality": "Semantic quality",
    "formatting": "Formatting",
    "overall": "Overall",
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #111827; background: #f9fafb; }
section.group { margin-bottom: 2.5rem; }
article.rollout { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 1rem; margin: 1rem 0; }
pre.completion { white-space: pre-wrap; background: #f3f4f6; padding: .75rem; border-radius: 6px; }
table.scores td, table.scores th { padding: .2rem .8rem; text-align: left; }
.good { color: #15803d; } .fair { color: #b45309; } .poor { color: #b91c1c; }
"""


def _grade(score: float) -> str:
    return "good" if score >= 0.9 else "fair" if score >= 0.5 else "poor"  # pragma: no mutate


def _rollout(group_number: int, index: int, group: dict[str, Any]) -> str:
    breakdown = group["breakdown"][index]
    completion = group["messages"][index][-1]["content"]
    rows = []
    for dimension in (*DIMENSIONS, "overall"):
        score = breakdown[dimension]
        cell = f'<td class="{_grade(score)}" data-score="{dimension}">{score:.2f}</td>'
        rows.append(f"<tr><th>{LABELS[dimension]}</th>{cell}</tr>")
    reasons = [
        f"<li>{escape(LABELS[d])}: {escape(reason)}</li>" for d in DIMENSIONS for reason in breakdown["reasons"][d]
    ]
    return (
        f'<article class="rollout" data-group="{group_number}" data-index="{index}" '
        f'data-context-id="{escape(group["context_id"])}">\n'
        f"<h3>Completion {index + 1} (finish: {escape(str(group['finish_reasons'][index]))})</h3>\n"  # noqa: E501  # pragma: no mutate
        f'<table class="scores">{"".join(rows)}</table>\n'
        f'<pre class="completion">{escape(completion)}</pre>\n'
        + (f'<ul class="reasons">{"".join(reasons)}</ul>\n' if reasons else "")  # noqa: E501  # pragma: no mutate (the task does not ask for the reasons)
        + "</article>"
    )


def render(groups: list[dict[str, Any]], title: str = "metric_rollouts") -> str:
    """The page of ``groups`` (scored groups as written to the rollouts file)."""
    sections = []
    for number, group in enumerate(groups):
        context = group["context"]
        header = (
            f"<h2>{escape(context['model'])} · {escape(context['benchmark'])} · {escape(context['metric'])}</h2>\n"
            f"<p>Context <code>{escape(group['context_id'])}</code>: value {escape(str(context['value']))} "
            f"{escape(context['unit'])}, previous {escape(str(context['previous']))}, period "
            f"{escape(context['period'])}</p>"
        )
        rollouts = "\n".join(_rollout(number, i, group) for i in range(len(group["messages"])))
        sections.append(f'<section class="group" data-group="{number}">\n{header}\n{rollouts}\n</section>')
    total = sum(len(g["messages"]) for g in groups)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>Metric card rollouts</h1>\n<p>{len(groups)} groups, {total} rollouts.</p>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )
