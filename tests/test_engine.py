"""The grading engine (issue #9): in-memory submissions, reading reports back, the Grader's API,
batch grading on the command line, and what one rollout can do to the next."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.engine import (
    Grader,
    GraderError,
    InvalidSubmission,
    Job,
    load_report,
    run_concurrently,
    write_files,
)
from pytest_rlgrade.report import validate_report_data

ROOT = Path(__file__).resolve().parent.parent
TOP3 = "def top_3_distinct(xs):\n    return tuple(sorted(set(xs), reverse=True)[:3])\n"
TOP3_LIST = "def top_3_distinct(xs):\n    return sorted(set(xs), reverse=True)[:3]\n"
INSTANCE = "top_distinct-3"

# -- in-memory submissions (tier 1) ------------------------------------------------------------------


def test_files_are_laid_out(tmp_path: Path) -> None:
    write_files({"pkg/__init__.py": "x = 1\n", "pkg/sub/mod.py": "y = 2\n", "README": "hi"}, tmp_path)
    assert (tmp_path / "pkg" / "__init__.py").read_text() == "x = 1\n"
    assert (tmp_path / "pkg" / "sub" / "mod.py").read_text() == "y = 2\n"


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"/etc/passwd": "x"}, "is absolute"),
        ({"../outside.py": "x"}, "climbs out of its folder"),
        ({"pkg/../../outside.py": "x"}, "climbs out of its folder"),
        ({"pkg": "x", "pkg/__init__.py": "y"}, "passes through the file 'pkg'"),
        ({"pkg/__init__.py": b"bytes"}, "holds bytes, not text"),
        ({"": "x"}, "is not a relative path"),
        ({"a\x00b": "x"}, "is not a relative path"),
        ({"pkg/__init__.py": "\ud800"}, "is not valid text"),
        ({"pkg/x.py": "1", "pkg\\x.py": "2"}, "names 'pkg\\\\x.py' twice"),
    ],
)
def test_bad_files_are_the_rollouts_fault(tmp_path: Path, files: dict[str, Any], problem: str) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    with pytest.raises(InvalidSubmission) as info:
        write_files(files, folder)
    assert problem in str(info.value)
    assert not (tmp_path / "outside.py").exists()
    assert not Path("/etc/passwd.rlgrade").exists()


def test_load_report_tolerates_keys_added_by_hooks(tmp_path: Path) -> None:
    data = {
        "schema_version": 1,
        "submission": "s",
        "submission_path": "/s",
        "seed": 1,
        "reward": 0.5,
        "exit_status": 0,
        "duration": 1.0,
        "sandbox": {"isolation": "sandbox", "confinement": [], "extra": 1},
        "tasks": [
            {
                "name": "t",
                "reward": 0.5,
                "flags": [],
                "counts": {"total": 1, "passed": 0, "failed": 1, "missing": 0},
                "duration": 1.0,
                "tests": [{"node_id": "n", "outcome": "failed", "weight": 1, "duration": 0.1, "trainer": "x"}],
                "from_a_hook": {"anything": True},
            }
        ],
        "trainer_step": 12,
    }
    validate_report_data(data)
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    report = load_report(path)
    assert report.reward == 0.5
    assert report.tasks[0].tests[0].outcome == "failed"


def job(index: int) -> Job:
    return Job(index, f"/rollouts/{index}", "toy", None, 1, 10.0)


@pytest.mark.parametrize("count", [1, 3])
def test_run_concurrently_answers_every_job_and_a_failure_is_an_error(count: int) -> None:
    def run_one(item: Job) -> dict[str, Any]:
        if item.index == 0:
            raise RuntimeError("the backend broke")
        return {"report": {"index": item.index, "thread": threading.get_ident()}}

    answers = dict(run_concurrently([job(i) for i in range(count)], 2, run_one))
    assert sorted(answers) == list(range(count))
    assert answers[0] == {"error": "RuntimeError: the backend broke"}
    if count == 1:
        assert answers == {0: {"error": "RuntimeError: the backend broke"}}
    else:
        assert all(answers[i]["report"]["index"] == i for i in range(1, count))


def test_one_job_runs_in_the_callers_thread() -> None:
    answers = list(run_concurrently([job(7)], 2, lambda item: {"thread": threading.get_ident()}))
    assert answers == [(7, {"thread": threading.get_ident()})]


def test_a_grader_refuses_an_unknown_task() -> None:
    with pytest.raises(GraderError, match="no task named nope"):
        Grader(ROOT, tasks=["nope"])


# -- the grader, end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grader() -> Any:
    with Grader(ROOT, tasks=["funcbench"], workers=2, seed=5) as warm:
        yield warm


@pytest.mark.slow
def test_grade_many_keeps_the_order_and_tells_right_from_wrong(grader: Grader) -> None:
    rollouts = [{"funcbench/__init__.py": TOP3}, {"funcbench/__init__.py": TOP3_LIST}, "starter", "reference"]
    reports = grader.grade_many(rollouts, task="funcbench", instance=INSTANCE)
    assert [r.reward for r in reports] == [1.0, 0.0, 0.0, 1.0]
    assert [r.submission for r in reports] == ["<files #0>", "<files #1>", "starter", "reference"]
    assert all(r.seed == 5 for r in reports)
    assert {r.tasks[0].instance for r in reports} == {INSTANCE}
    assert all(r.tasks[0].counts.total == 1 for r in reports)
    failed = reports[1].tasks[0].tests
    assert any("returned a list" in (t.message or "") for t in failed)


@pytest.mark.slow
def test_grade_iter_yields_every_index_once(grader: Grader) -> None:
    rollouts = [{"funcbench/__init__.py": TOP3 if i % 2 else TOP3_LIST} for i in range(6)]
    seen = dict(grader.grade_iter(rollouts, task="funcbench", instance=INSTANCE))
    assert sorted(seen) == list(range(6))
    assert [seen[i].reward for i in range(6)] == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]


@pytest.mark.slow
def test_an_invalid_in_memory_submission_earns_zero_with_the_reason(grader: Grader) -> None:
    report = grader.grade({"../escape.py": TOP3}, task="funcbench", instance=INSTANCE)
    assert report.reward == 0.0
    task = report.tasks[0]
    assert task.flags == ["invalid_submission"]
    assert task.reason is not None
    assert "climbs out of its folder" in task.reason
    assert not (ROOT / "escape.py").exists()


@pytest.mark.slow
def test_the_api_and_the_cli_give_the_same_report(grader: Grader, tmp_path: Path) -> None:
    folder = tmp_path / "rollout"
    (folder / "funcbench").mkdir(parents=True)
    (folder / "funcbench" / "__init__.py").write_text(TOP3_LIST)
    api = grader.grade(str(folder), task="funcbench", instance=INSTANCE, seed=9)
    report = tmp_path / "cli.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--submission={folder}",
            f"--task=funcbench:{INSTANCE}",
            "--rlgrade-seed=9",
            f"--rlgrade-report={report}",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    cli = load_report(report)
    assert api.reward == cli.reward
    assert api.seed == cli.seed == 9
    a, b = api.tasks[0], cli.tasks[0]
    assert [(t.node_id, t.outcome, t.message) for t in a.tests] == [(t.node_id, t.outcome, t.message) for t in b.tests]
    assert a.flags == b.flags


@pytest.mark.slow
def test_threads_share_one_grader(grader: Grader) -> None:
    results: dict[int, float | None] = {}

    def work(i: int) -> None:
        source = TOP3 if i % 2 else TOP3_LIST
        results[i] = grader.grade({"funcbench/__init__.py": source}, task="funcbench", instance=INSTANCE).reward

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: 0.0, 1: 1.0, 2: 0.0, 3: 1.0}


# -- across rollouts: the red team's next move ---------------------------------------------------------

LEAVE_STATE = """
import os, sys, tempfile, builtins
builtins.LEFT_BY_A_ROLLOUT = True
sys.modules.setdefault("rollout_marker", sys)
for folder in (tempfile.gettempdir(), "/tmp", "/dev/shm", os.getcwd(), os.path.expanduser("~")):
    try:
        with open(os.path.join(folder, "rlgrade-left-behind.py"), "w") as f:
            f.write("def top_3_distinct(xs):\\n    return tuple(sorted(set(xs), reverse=True)[:3])\\n")
    except OSError:
        pass

def top_3_distinct(xs):
    return ()
"""

USE_STATE = """
import builtins, glob, os, sys

def _found():
    if getattr(builtins, "LEFT_BY_A_ROLLOUT", False) or "rollout_marker" in sys.modules:
        return True
    paths = glob.glob("/tmp/rlgrade-*/**/rlgrade-left-behind.py", recursive=True)
    paths += glob.glob("/tmp/rlgrade-left-behind.py") + glob.glob("/dev/shm/*")
    return bool(paths)

def top_3_distinct(xs):
    if _found():
        return tuple(sorted(set(xs), reverse=True)[:3])
    return ()
"""

READ_NEIGHBOUR = """
import glob

def top_3_distinct(xs):
    paths = glob.glob("/tmp/rlgrade-*/stage/*/funcbench/__init__.py")
    for path in paths + glob.glob("/tmp/**/funcbench/__init__.py", recursive=True):
        try:
            source = open(path).read()
        except OSError:
            continue
        if "sorted(set(xs), reverse=True)[:3])" in source and "glob" not in source:
            scope = {}
            exec(source, scope)
            return scope["top_3_distinct"](xs)
    return ()
"""

# A rollout that plants pickles where a warm grader keeps what its trusted code remembered
# (pytest_rlgrade.memo hands each grading's results to the next through a pickle file): loading
# one would run the rollout's code in the trusted worker, and the marker file would show it.
MEMO_MARKER = "/tmp/rlgrade-memo-poisoned"
POISON_MEMO = """
import os, pickle, tempfile

class _Payload:
    def __reduce__(self):
        return (exec, ("open('/tmp/rlgrade-memo-poisoned', 'w').write('a rollout ran here')",))

def _plant():
    blob = pickle.dumps(_Payload())
    for base in {"/dev/shm", "/tmp", tempfile.gettempdir()}:
        for folder, dirs, files in os.walk(base):
            if folder.count(os.sep) - base.count(os.sep) > 4:
                dirs[:] = []
            names = [f for f in files if f.endswith(".pickle")] + ["memo.pickle", "memo.pickle.part"]
            for name in names:
                try:
                    with open(os.path.join(folder, name), "wb") as f:
                        f.write(blob)
                except OSError:
                    pass

_plant()

def top_3_distinct(xs):
    return ()
"""

HANG = """
def top_3_distinct(xs):
    while True:
        pass
"""


@pytest.mark.slow
def test_a_rollout_leaves_nothing_for_the_next(grader: Grader) -> None:
    first = grader.grade({"funcbench/__init__.py": LEAVE_STATE}, task="funcbench", instance=INSTANCE)
    second = grader.grade({"funcbench/__init__.py": USE_STATE}, task="funcbench", instance=INSTANCE)
    assert first.reward == 0.0
    assert second.reward == 0.0, second.tasks[0].tests


@pytest.mark.slow
def test_a_rollout_cannot_poison_what_the_grader_remembers(grader: Grader) -> None:
    marker = Path(MEMO_MARKER)
    assert MEMO_MARKER in POISON_MEMO
    marker.unlink(missing_ok=True)
    rollouts = [{"funcbench/__init__.py": POISON_MEMO}, {"funcbench/__init__.py": TOP3}] * 2
    rewards = [r.reward for r in grader.grade_many(rollouts, task="funcbench", instance=INSTANCE)]
    assert rewards == [0.0, 1.0, 0.0, 1.0]
    assert not marker.exists(), "a rollout's pickle was loaded by the grader"


@pytest.mark.slow
def test_a_rollout_cannot_read_its_neighbours_copy(grader: Grader) -> None:
    rollouts = [{"funcbench/__init__.py": READ_NEIGHBOUR if i % 2 else TOP3} for i in range(4)]
    rewards = [r.reward for r in grader.grade_many(rollouts, task="funcbench", instance=INSTANCE)]
    assert rewards == [1.0, 0.0, 1.0, 0.0]


@pytest.mark.slow
def test_a_hanging_rollout_does_not_starve_its_neighbours(grader: Grader) -> None:
    rollouts = [{"funcbench/__init__.py": HANG}] + [{"funcbench/__init__.py": TOP3}] * 4
    reports = grader.grade_many(rollouts, task="funcbench", instance=INSTANCE)
    assert reports[0].reward == 0.0
    assert "timeout" in reports[0].tasks[0].flags
    assert [r.reward for r in reports[1:]] == [1.0] * 4


# -- batch on the command line -----------------------------------------------------------------------


@pytest.mark.slow
def test_batch_cli_writes_a_report_per_submission_and_batch_jsonl(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder, source in ((good, TOP3), (bad, TOP3_LIST)):
        (folder / "funcbench").mkdir(parents=True)
        (folder / "funcbench" / "__init__.py").write_text(source)
    listing = tmp_path / "rollouts.txt"
    listing.write_text(f"# a comment\n{bad}\n\n")
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            f"--submission={good}",
            f"--submissions={listing}",
            f"--task=funcbench:{INSTANCE}",
            f"--rlgrade-report-dir={out}",
            "--rlgrade-workers=2",
            "--rlgrade-seed=4",
            "--min-reward=0.5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr  # one of the two is below --min-reward
    rows = [json.loads(line) for line in (out / "batch.jsonl").read_text().splitlines()]
    assert sorted((r["submission"], r["reward"]) for r in rows) == sorted([(str(good), 1.0), (str(bad), 0.0)])
    for row in rows:
        data = json.loads((out / row["report"]).read_text())
        validate_report_data(data)
        assert data["seed"] == 4
    assert "1 of 2 below --min-reward 0.5" in done.stdout
    assert "[2/2] reward" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("run_all", [False, True])
def test_a_failed_gate_settles_the_grading_unless_run_all(run_all: bool) -> None:
    """A rollout broken at import fails the gate that imports it: the rest are not run (the
    reward is 0 whatever they do), unless the grader is asked to run every test."""
    package = ROOT / "starter" / "metric_tracker" / "metric_tracker"
    files = {f"metric_tracker/{p.name}": p.read_text() for p in package.glob("*.py")}
    files["metric_tracker/__init__.py"] = "raise RuntimeError('broken at import')\n"
    with Grader(ROOT, tasks=["metric_tracker"], workers=1, seed=3, run_all=run_all) as grader:
        report = grader.grade(files, task="metric_tracker")
    (task,) = report.tasks
    assert report.reward == 0.0
    gates = [t for t in task.tests if t.gate]
    assert gates
    assert all(t.outcome == "failed" for t in gates)
    rest = {t.outcome for t in task.tests if not t.gate}
    assert rest == ({"failed"} if run_all else {"not_run"})
