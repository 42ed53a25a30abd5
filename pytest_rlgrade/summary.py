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
        rows.append(
            [
                task["name"],
                _reward(task["reward"]),
                f"{counts['passed']}/{counts['total']}",
                metrics or "-",
                ", ".join(task["flags"]) or "-",
            ]
        )
    lines = tabulate(
        rows, headers=["task", "reward", "passed", "metrics", "flags"], tablefmt="simple", disable_numparse=True
    ).splitlines()
    for task in report["tasks"]:
        if task.get("error"):
            lines.append(f"{task['name']}: not graded: {task['error']}")
    sandbox = report["sandbox"]
    confinement = ", ".join(sandbox["confinement"]) or "none"
    lines.append(f"isolation: {sandbox['isolation']} ({confinement})")
    if sandbox["isolation"] == "sandbox":
        missing = [name for name in ("landlock", "pidns") if name not in sandbox["confinement"]]
        if missing and sandbox["confinement"]:
            lines.append(
                f"WARNING: the sandbox ran without {' and '.join(missing)} on this machine: submission code "
                "could read files outside its copy or leave processes behind"
            )
    lines.append(
        f"reward {_reward(report['reward'])} for {report['submission']} (seed {report['seed']}); report: {path}"
    )
    return lines
