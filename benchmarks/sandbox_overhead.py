#!/usr/bin/env python3
"""What the sandbox costs: grade each shipped task's reference in the sandbox and in-process,
interleaved, in one run, and print the ratios of the medians.

    python benchmarks/sandbox_overhead.py [--rounds 5] [--task NAME ...] [--submission reference]

Two figures per task: the whole command (``python -m pytest ...``, interpreter start and pytest's
import included) and the task's own grading time as the report gives it (first test to last). The
machines are noisy: compare the ratios of one run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("none", "sandbox")


def grade(task: str, submission: str, isolation: str, seed: int, report: Path) -> tuple[float, float, float]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--submission={submission}",
        f"--task={task}",
        f"--isolation={isolation}",
        f"--rlgrade-seed={seed}",
        f"--rlgrade-report={report}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    data = json.loads(report.read_text())
    if data["reward"] is None:
        raise SystemExit(f"{task} ({isolation}) was not graded:\n{done.stdout[-2000:]}")
    (entry,) = data["tasks"]
    return wall, entry["duration"], entry["reward"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--task", action="append", default=[])
    parser.add_argument("--submission", default="reference")
    args = parser.parse_args()
    tasks = args.task or sorted(p.parent.name for p in ROOT.glob("tasks/*/task.yaml"))
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for task in tasks:
            times: dict[str, list[tuple[float, float]]] = {m: [] for m in MODES}
            rewards = set()
            grade(task, args.submission, "sandbox", 0, Path(scratch) / "warm.json")  # warm the disk cache
            for round_ in range(args.rounds):
                order = MODES if round_ % 2 == 0 else MODES[::-1]
                for mode in order:
                    wall, duration, reward = grade(task, args.submission, mode, round_, Path(scratch) / "r.json")
                    times[mode].append((wall, duration))
                    rewards.add((mode, round(reward, 9)))
            med = {
                m: (statistics.median(w for w, _ in times[m]), statistics.median(d for _, d in times[m])) for m in MODES
            }
            rows.append((task, med, sorted(rewards)))
    print(
        f"{'task':<22} {'in-process':>12} {'sandbox':>10} {'ratio':>6}   {'grading in-proc':>16} "
        f"{'sandbox':>8} {'ratio':>6}"
    )
    for task, med, rewards in rows:
        (w0, d0), (w1, d1) = med["none"], med["sandbox"]
        print(f"{task:<22} {w0:>11.2f}s {w1:>9.2f}s {w1 / w0:>6.2f}   {d0:>15.2f}s {d1:>7.2f}s {d1 / d0:>6.2f}")
        print(f"{'':<22} rewards seen: {rewards}")
    print(f"medians of {args.rounds} interleaved rounds; ratio = sandbox / in-process (target: at most 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
