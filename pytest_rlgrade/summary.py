"""The terminal summary: one table row per task, from the written report data."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _reward(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def summary_lines(report: dict[str, Any], path: Path, min_reward: float | None = None) -> list[str]:
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
                task["name"] + (f":{task['instance']}" if task.get("instance") else ""),
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
        elif task.get("reason"):
            lines.append(f"{task['name']}: {task['reason']}")
    sandbox = report["sandbox"]
    if sandbox["isolation"] == "none":
        lines.append("isolation: none (the submission ran in this process)")
    elif sandbox["confinement"]:  # no line when no sandbox ran (issue #8 saw "sandbox (none)")
        lines.append(f"isolation: sandbox ({', '.join(sandbox['confinement'])})")
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
    verdict = verdict_words(report, min_reward)
    if verdict:
        lines.append(verdict)
    return lines


def verdict_words(report: dict[str, Any], min_reward: float | None) -> str | None:
    """The --min-reward and starter-cap verdicts in words."""
    words = []
    reward = report["reward"]
    if min_reward is not None:
        if reward is None:
            words.append(f"no reward to hold against --min-reward {min_reward:g}: the run could not be graded")
        elif reward < min_reward:
            words.append(f"reward {reward:.4f} is below --min-reward {min_reward:g}")
        else:
            words.append(f"reward {reward:.4f} meets --min-reward {min_reward:g}")
    over = [t["name"] for t in report["tasks"] if "starter_over_cap" in t["flags"]]
    if over:
        words.append(f"the starter earns more than its cap in {', '.join(over)}")
    return "; ".join(words) or None
