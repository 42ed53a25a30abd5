"""The terminal summary: one table row per task, from the written report data."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _reward(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def summary_lines(report: dict[str, Any], path: Path) -> list[str]:
    from tabulate import tabulate

    rows = []
    for task in report["tasks"]:
        counts = task["counts"]
        metrics = ", ".join(
            f"{m['name']}={'-' if m['value'] is None else format(m['value'], '.4g')} ({m['credit']:.2f})"
            for m in task["metrics"]
        )
        rows.append([task["name"], _reward(task["reward"]), f"{counts['passed']}/{counts['total']}",
                     metrics or "-", ", ".join(task["flags"]) or "-"])
    lines = tabulate(rows, headers=["task", "reward", "passed", "metrics", "flags"], tablefmt="simple",
                     disable_numparse=True).splitlines()
    for task in report["tasks"]:
        if task.get("error"):
            lines.append(f"{task['name']}: not graded: {task['error']}")
    sandbox = report["sandbox"]
    confinement = ", ".join(sandbox["confinement"]) or "none"
    lines.append(f"isolation: {sandbox['isolation']} ({confinement})")
    lines.append(f"reward {_reward(report['reward'])} for {report['submission']} (seed {report['seed']}); "
                 f"report: {path}")
    return lines
