#!/usr/bin/env python3
"""Print the scenario scores of the seed's scripted baseline under our generator, beside the
seed's published figures, by grading submissions through the harness's command line.

    python tasks/metric_tracker/baseline_table.py --seeds 5            # from the repository root
    python tasks/metric_tracker/baseline_table.py --seeds 3 --with-reference --with-starter

Each seed is one grading run (`--rlgrade-seed N`, five datasets per scenario); the table shows the
mean over the seeds of each scenario's metric, read from the run's JSON report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASK = "metric_tracker"
SCENARIOS = ("easy_single_spike", "medium_mixed_pair", "hard_mixed_multi")
# The seed's README: a deterministic scripted payload-generator baseline, threshold multiplier 2.0.
PUBLISHED = {"easy_single_spike": 1.000000, "medium_mixed_pair": 0.662500, "hard_mixed_multi": 0.421818}
SUBMISSIONS = {"baseline": "tasks/metric_tracker/baseline", "reference": "reference", "starter": "starter"}


def grade(submission: str, seed: int, folder: Path) -> dict:
    report = folder / f"{Path(submission).name}-{seed}.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--submission={submission}",
        f"--task={TASK}",
        f"--rlgrade-seed={seed}",
        f"--rlgrade-report={report}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if not report.exists():
        raise SystemExit(f"grading {submission} with seed {seed} wrote no report:\n{done.stdout}{done.stderr}")
    task = next(t for t in json.loads(report.read_text())["tasks"] if t["name"] == TASK)
    metrics = {m["name"]: m["value"] for m in task["metrics"]}
    return {
        "reward": task["reward"],
        "duration": task["duration"],
        **{s: (metrics.get(s) if metrics.get(s) is not None else 0.0) for s in SCENARIOS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="grading runs (seeds 1..N)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--with-reference", action="store_true")
    parser.add_argument("--with-starter", action="store_true")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    names = ["baseline"] + (["reference"] if args.with_reference else []) + (["starter"] if args.with_starter else [])
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            results[name] = [grade(SUBMISSIONS[name], seed, Path(tmp)) for seed in seeds]

    def mean(name: str, key: str) -> float:
        return statistics.fmean(r[key] for r in results[name])

    header = ["scenario", "seed's baseline"] + [f"{n} (ours)" for n in names]
    rows = [[s, f"{PUBLISHED[s]:.6f}"] + [f"{mean(n, s):.6f}" for n in names] for s in SCENARIOS]
    rows.append(
        ["mean", f"{statistics.fmean(PUBLISHED.values()):.6f}"]
        + [f"{statistics.fmean(mean(n, s) for s in SCENARIOS):.6f}" for n in names]
    )
    rows.append(["task reward", "-"] + [f"{mean(n, 'reward'):.4f}" for n in names])
    rows.append(["task duration (s)", "-"] + [f"{mean(n, 'duration'):.1f}" for n in names])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"metric_tracker scenario scores, mean over seeds {seeds[0]}..{seeds[-1]} "
        f"({len(seeds)} grading runs x 5 datasets per scenario)"
    )
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    per_seed = ", ".join(
        f"{seed}: " + "/".join(f"{r[s]:.3f}" for s in SCENARIOS)
        for seed, r in zip(seeds, results["baseline"], strict=True)
    )
    print(f"baseline per seed (easy/medium/hard): {per_seed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
