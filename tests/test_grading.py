"""End to end: grading small tasks made with pytester, in both isolation modes."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.report import validate_report_data

MANIFEST = """\
name: calc
package: calc
reward:
  starter_cap: 0.2
  weights:
    "marker:heavy": 3
    "test_calc.py::test_sub": 2
  metrics:
    accuracy: {target: 1.0, baseline: 0.5, weight: 2}
limits: {call_timeout: 5, test_timeout: 20, task_timeout: 60}
"""

TESTS = """\
import pytest

def test_add(submission, rlgrade_rng):
    calc = submission.module("calc")
    a, b = rlgrade_rng.randint(-50, 50), rlgrade_rng.randint(-50, 50)
    assert calc.add(a, b) == a + b

def test_sub(submission):
    assert submission.module("calc").sub(5, 3) == 2

@pytest.mark.heavy
def test_mul(submission):
    assert submission.module("calc").mul(4, 3) == 12

@pytest.mark.hidden
def test_div_by_zero(submission):
    with submission.raises("ZeroDivisionError"):
        submission.module("calc").div(1, 0)

def test_accuracy(submission, metric):
    calc = submission.module("calc")
    cases = [(1, 2), (3, 4), (10, -2), (0, 0)]
    metric("accuracy", sum(calc.add(a, b) == a + b for a, b in cases) / len(cases))
"""

FULL = """\
def add(a, b):
    return a + b

def sub(a, b):
    return a - b

def mul(a, b):
    return a * b

def div(a, b):
    return a / b
"""

PARTIAL = """\
def add(a, b):
    return a + b

def sub(a, b):
    raise NotImplementedError("TODO")

def mul(a, b):
    return 0

def div(a, b):
    return None
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The runs below are the user's own pytest, even when this suite runs under pytest-xdist
    # (whose worker variable would tell the plugin it is an xdist worker).
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeini("[pytest]\n")
    for rel, text in {
        "tasks/calc/task.yaml": MANIFEST,
        "tasks/calc/prompt.md": "Write calc.\n",
        "tasks/calc/tests/test_calc.py": TESTS,
        "reference/calc/calc/__init__.py": FULL,
        "starter/calc/calc/__init__.py": PARTIAL,
    }.items():
        path = pytester.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pytester


def grade(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any] | None]:
    report = pytester.path / "out" / "report.json"
    if report.exists():
        report.unlink()
    result = pytester.runpytest_subprocess(f"--rlgrade-report={report}", "-p", "no:cacheprovider", *args)
    data = None
    if report.exists():
        data = json.loads(report.read_text())
        validate_report_data(data)
    return result, data


def grade_plain_calc(
    project: pytest.Pytester, isolation: str, tests: str, modules: dict[str, str], *extra: str
) -> tuple[pytest.RunResult, dict[str, Any] | None]:
    """Grade the reference of a calc task with only ``tests`` (no weights, metrics or gates) and
    these modules of its package."""
    (project.path / "tasks/calc/tests/test_calc.py").write_text(tests)
    (project.path / "tasks/calc/task.yaml").write_text(
        "name: calc\npackage: calc\nlimits: {call_timeout: 5, test_timeout: 20, task_timeout: 60}\n"
    )
    for name, text in modules.items():
        (project.path / "reference/calc/calc" / name).write_text(text)
    return grade(project, "--submission=reference", f"--isolation={isolation}", *extra)


def outcomes(task: dict[str, Any]) -> dict[str, str]:
    return {t["node_id"].rsplit("::", 1)[1]: t["outcome"] for t in task["tests"]}


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_reference_earns_full_reward(project: pytest.Pytester, isolation: str) -> None:
    result, report = grade(project, "--submission=reference", f"--isolation={isolation}", "--min-reward=1.0")
    assert result.ret == 0, result.stdout.str()
    assert report is not None
    assert report["reward"] == 1.0
    (task,) = report["tasks"]
    assert task["counts"] == {"total": 5, "passed": 5, "failed": 0, "missing": 0}
    assert task["metrics"][0]["credit"] == 1.0
    assert report["sandbox"]["isolation"] == isolation
    result.stdout.fnmatch_lines(["*rlgrade*", "calc*1.0000*5/5*accuracy=1 (1.00)*", "*reward 1.0000 for reference*"])


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_partial_submission_is_weighted(project: pytest.Pytester, isolation: str) -> None:
    result, report = grade(project, "--submission=starter", f"--isolation={isolation}", "--rlgrade-seed=3")
    assert report is not None
    (task,) = report["tasks"]
    assert outcomes(task) == {
        "test_add": "passed",
        "test_sub": "failed",
        "test_mul": "failed",
        "test_div_by_zero": "failed",
        "test_accuracy": "passed",
    }
    weights = {t["node_id"].rsplit("::", 1)[1]: t["weight"] for t in task["tests"]}
    assert weights == {"test_add": 1, "test_sub": 2, "test_mul": 3, "test_div_by_zero": 1, "test_accuracy": 1}
    # add and accuracy pass (weight 2) and the metric is at its target (credit 1, weight 2): 4 / 10.
    assert task["reward"] == pytest.approx(0.4)
    messages = {t["node_id"].rsplit("::", 1)[1]: t["message"] for t in task["tests"]}
    assert "NotImplementedError" in messages["test_sub"]
    assert messages["test_div_by_zero"] is None  # hidden
    assert messages["test_add"] is None
    # The starter earns more than its cap of 0.2: the task is unsound, and grading says so.
    assert "starter_over_cap" in task["flags"]
    assert result.ret == 1


def test_same_seed_same_report(project: pytest.Pytester) -> None:
    _, first = grade(project, "--submission=reference", "--rlgrade-seed=11")
    _, second = grade(project, "--submission=reference", "--rlgrade-seed=11")
    assert first
    assert second
    assert first["seed"] == second["seed"] == 11
    assert first["reward"] == second["reward"]
    assert outcomes(first["tasks"][0]) == outcomes(second["tasks"][0])


def test_seed_is_drawn_and_reported(project: pytest.Pytester) -> None:
    _, first = grade(project, "--submission=reference")
    _, second = grade(project, "--submission=reference")
    assert first
    assert second
    assert isinstance(first["seed"], int)
    assert first["seed"] != second["seed"]


def test_min_reward_fails_the_run(project: pytest.Pytester) -> None:
    path = project.path / "mine" / "calc" / "__init__.py"
    path.parent.mkdir(parents=True)
    path.write_text(PARTIAL)
    result, report = grade(project, "--submission=mine", "--min-reward=0.9")
    assert report is not None
    assert report["reward"] < 0.9
    assert result.ret == 1
    assert report["exit_status"] == 1


def test_single_task_path_layout(project: pytest.Pytester) -> None:
    result, report = grade(project, f"--submission={project.path / 'reference' / 'calc'}", "--task=calc")
    assert result.ret == 0
    assert report is not None
    assert report["reward"] == 1.0


def test_broken_submission_is_graded_zero(project: pytest.Pytester) -> None:
    path = project.path / "broken" / "calc" / "__init__.py"
    path.parent.mkdir(parents=True)
    path.write_text("def add(a, b)\n    return a + b\n")
    result, report = grade(project, "--submission=broken")
    assert result.ret == 0
    assert report is not None
    (task,) = report["tasks"]
    assert task["reward"] == 0.0
    assert task["error"] is None
    assert "SyntaxError" in task["tests"][0]["message"]


def test_skips_and_xfails_count_as_failed(project: pytest.Pytester) -> None:
    tests = project.path / "tasks" / "calc" / "tests" / "test_more.py"
    tests.write_text(
        textwrap.dedent("""\
        import pytest

        def test_skipped(submission):
            pytest.skip("not today")

        @pytest.mark.xfail(reason="known")
        def test_xfailed(submission):
            assert False

        @pytest.mark.xfail(reason="known", strict=False)
        def test_xpassed(submission):
            pass
    """)
    )
    _, report = grade(project, "--submission=reference")
    assert report is not None
    task = report["tasks"][0]
    got = outcomes(task)
    assert (got["test_skipped"], got["test_xfailed"], got["test_xpassed"]) == ("skipped", "xfailed", "xpassed")
    assert task["counts"]["passed"] == 5
    assert task["reward"] < 1.0


def test_gate_zeroes_the_task(project: pytest.Pytester) -> None:
    manifest = project.path / "tasks" / "calc" / "task.yaml"
    manifest.write_text(MANIFEST.replace("  metrics:", '  gates: ["test_calc.py::test_sub"]\n  metrics:'))
    _, report = grade(project, "--submission=starter")
    assert report is not None
    task = report["tasks"][0]
    assert [t["gate"] for t in task["tests"]].count(True) == 1
    assert task["reward"] == 0.0


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_after_a_failed_gate_the_rest_are_not_run(project: pytest.Pytester, isolation: str) -> None:
    """The reward is settled once a gate fails: the gate runs first and the other tests are
    reported not_run, naming it; --rlgrade-run-all runs them all, for the same reward. The report
    keeps the collection's order either way."""
    manifest = project.path / "tasks" / "calc" / "task.yaml"
    manifest.write_text(MANIFEST.replace("  metrics:", '  gates: ["test_calc.py::test_sub"]\n  metrics:'))
    result, report = grade(project, "--submission=starter", f"--isolation={isolation}", "-v")
    assert report is not None
    (task,) = report["tasks"]
    ran = [line.split("::")[1].split()[0] for line in result.outlines if "test_calc.py::" in line and "%]" in line]
    assert ran[0] == "test_sub", result.stdout.str()
    assert outcomes(task) == {
        "test_add": "not_run",
        "test_sub": "failed",
        "test_mul": "not_run",
        "test_div_by_zero": "not_run",
        "test_accuracy": "not_run",
    }
    skipped = {t["message"] for t in task["tests"] if t["outcome"] == "not_run" and "div" not in t["node_id"]}
    assert skipped == {"not run: the gate test_calc.py::test_sub did not pass"}  # (a hidden test's is withheld)
    assert task["reward"] == 0.0
    assert task["reason"] is None

    _, everything = grade(project, "--submission=starter", f"--isolation={isolation}", "--rlgrade-run-all")
    assert everything is not None
    (task,) = everything["tasks"]
    assert list(outcomes(task)) == ["test_add", "test_sub", "test_mul", "test_div_by_zero", "test_accuracy"]
    assert outcomes(task)["test_add"] == "passed"
    assert outcomes(task)["test_sub"] == "failed"
    assert task["reward"] == 0.0

    # A gate that passes holds nothing back.
    _, passing = grade(project, "--submission=reference", f"--isolation={isolation}")
    assert passing is not None
    assert passing["reward"] == 1.0


def test_deselection_is_refused_and_leaves_no_report(project: pytest.Pytester) -> None:
    """Issue #8: a deselected test left unrun still produced a number (0.51 for a correct
    solution). Now the run is refused, and the report path holds nothing."""
    (project.path / "out").mkdir(exist_ok=True)
    stale = project.path / "out" / "report.json"
    stale.write_text('{"reward": 1.0}')
    result = project.runpytest_subprocess(
        f"--rlgrade-report={stale}", "--submission=reference", "--deselect=tasks/calc/tests/test_calc.py::test_mul"
    )
    assert result.ret == 4
    assert not stale.exists()
    result.stderr.fnmatch_lines(["ERROR: --deselect would leave tests unrun*"])


def test_tests_that_did_not_run_make_no_reward(project: pytest.Pytester) -> None:
    """Whatever stops tests from running (here a conftest hook of the task's that skips running
    one: a stand-in for any plugin), the reward is null and the exit status the harness's."""
    (project.path / "tasks" / "calc" / "tests" / "conftest.py").write_text(
        "import pytest\n"
        "@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_runtest_protocol(item, nextitem):\n"
        "    return True if item.name == 'test_mul' else None\n"
    )
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    task = report["tasks"][0]
    assert outcomes(task)["test_mul"] == "missing"
    assert task["reward"] is None
    assert report["reward"] is None
    assert "missing_tests" in task["flags"]
    assert "test_calc.py::test_mul" in task["error"]


def test_a_task_whose_tests_do_not_collect_is_not_graded(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_bad.py").write_text("import nowhere_to_be_found\n")
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    task = report["tasks"][0]
    assert task["reward"] is None
    assert report["reward"] is None
    assert "task_error" in task["flags"]
    assert "test_bad.py" in task["error"]


def test_undeclared_metric_is_a_task_error(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_metric.py").write_text(
        "def test_m(submission, metric):\n    metric('speed', 1.0)\n"
    )
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    assert "task_error" in report["tasks"][0]["flags"]
    assert "speed" in report["tasks"][0]["error"]


def test_sandbox_that_cannot_start_is_an_infrastructure_error(project: pytest.Pytester) -> None:
    project.makeconftest("""
        import pytest_rlgrade.sandbox as sandbox
        from pytest_rlgrade.errors import SandboxUnavailable

        def start(self):
            raise SandboxUnavailable("no worker today")

        sandbox.Sandbox.start = start
    """)
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    assert report["reward"] is None
    assert report["tasks"][0]["flags"] == ["infra_error"]
    assert "no worker today" in report["tasks"][0]["error"]


def test_hooks_compute_and_modify_and_forward(project: pytest.Pytester) -> None:
    project.makeconftest("""
        import json

        def pytest_rlgrade_task_reward(task, tests, metrics):
            return 0.25

        def pytest_rlgrade_modify_report(config, report):
            report["trainer"] = {"run": "r1"}

        def pytest_rlgrade_report_written(config, path, report):
            (path.parent / "forwarded.json").write_text(json.dumps(report["reward"]))
    """)
    result, report = grade(project, "--submission=reference")
    assert result.ret == 0
    assert report is not None
    assert report["reward"] == 0.25
    assert report["trainer"] == {"run": "r1"}
    assert json.loads((project.path / "out" / "forwarded.json").read_text()) == 0.25


def test_fixtures_without_submission_fail_clearly(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("tasks/calc/tests/test_calc.py::test_sub", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*run pytest with --submission*"])
    assert result.ret == 1


def test_plain_pytest_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (Path(pytester.path) / "rlgrade-report.json").exists()


def test_a_reward_hook_out_of_range_is_a_harness_error(project: pytest.Pytester) -> None:
    project.makeconftest("""
        def pytest_rlgrade_task_reward(task, tests, metrics):
            return 1.5
    """)
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    assert report["reward"] is None
    assert report["tasks"][0]["flags"] == ["infra_error"]
    assert "1.5" in report["tasks"][0]["error"]


def test_a_hook_that_breaks_the_report_gets_the_unmodified_one_written(project: pytest.Pytester) -> None:
    project.makeconftest("""
        def pytest_rlgrade_modify_report(config, report):
            report["reward"] = "lots"
    """)
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    assert report["reward"] == 1.0
    assert report["exit_status"] == 3
    result.stdout.fnmatch_lines(["*hook made the report invalid*writing it unmodified*"])


def test_an_unwritable_report_goes_to_stderr(project: pytest.Pytester) -> None:
    (project.path / "blocked").write_text("a file where a folder should be")
    result = project.runpytest_subprocess(
        "--submission=reference", "--rlgrade-report=blocked/report.json", "-p", "no:cacheprovider"
    )
    assert result.ret == 3
    result.stdout.fnmatch_lines(["*cannot write the report to*blocked/report.json*"])
    assert json.loads(result.stderr.str()[result.stderr.str().index("{") :])["reward"] == 1.0


# -- issue #8: integrity -----------------------------------------------------------------------------


def test_xdist_gives_one_report_identical_to_a_plain_run(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _, plain = grade(project, "--submission=starter", "--rlgrade-seed=11")
    result, spread = grade(project, "--submission=starter", "--rlgrade-seed=11", "-n", "2")
    assert plain is not None
    assert spread is not None, result.outlines
    assert spread["seed"] == plain["seed"] == 11
    assert spread["reward"] == plain["reward"]
    a, b = plain["tasks"][0], spread["tasks"][0]
    assert {t["node_id"]: t["outcome"] for t in a["tests"]} == {t["node_id"]: t["outcome"] for t in b["tests"]}
    assert a["metrics"] == b["metrics"]
    assert b["counts"] == a["counts"]
    assert b["counts"]["total"] == 5
    assert {t["node_id"]: (t["weight"], t["gate"]) for t in a["tests"]} == {
        t["node_id"]: (t["weight"], t["gate"]) for t in b["tests"]
    }
    assert spread["sandbox"]["confinement"] == plain["sandbox"]["confinement"]


def test_xdist_draws_one_seed_for_all_workers(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    _, first = grade(project, "--submission=reference", "-n", "2")
    assert first is not None
    assert first["reward"] == 1.0
    assert first["tasks"][0]["counts"]["passed"] == 5


def test_collect_only_grades_nothing(project: pytest.Pytester) -> None:
    result, report = grade(project, "--submission=reference", "--collect-only", "-q")
    assert result.ret == 0
    assert report is None
    assert "grades nothing" in result.stdout.str()


def test_ctrl_c_is_interrupted_with_no_reward(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_zz_interrupt.py").write_text(
        "def test_press_ctrl_c(submission):\n    raise KeyboardInterrupt\n"
    )
    result, report = grade(project, "--submission=reference")
    assert result.ret == 2
    assert report is not None
    assert report["reward"] is None
    assert report["exit_status"] == 2
    task = report["tasks"][0]
    assert "interrupted" in task["flags"]
    assert "infra_error" not in task["flags"]
    assert task["reward"] is None


def test_a_usage_error_removes_the_previous_report(project: pytest.Pytester) -> None:
    _, report = grade(project, "--submission=reference")
    assert report is not None
    path = project.path / "out" / "report.json"
    project.runpytest_subprocess(f"--rlgrade-report={path}", "--submission=reference", "--min-reward=2")
    assert not path.exists()
    project.runpytest_subprocess(f"--rlgrade-report={path}", "--submission=reference", "--no-such-option")
    assert not path.exists()


@pytest.mark.parametrize("layout", ["empty", "namespace", "misnamed"])
def test_a_folder_without_the_package_is_graded_zero(project: pytest.Pytester, layout: str) -> None:
    rollout = project.path / "rollout"
    rollout.mkdir()
    if layout == "namespace":
        (rollout / "calc").mkdir()
        (rollout / "calc" / "core.py").write_text(FULL)
    elif layout == "misnamed":
        (rollout / "calculator").mkdir()
        (rollout / "calculator" / "__init__.py").write_text(FULL)
    result, report = grade(project, f"--submission={rollout}", "--task=calc")
    assert result.ret == 0, result.outlines
    assert report is not None
    task = report["tasks"][0]
    assert task["reward"] == 0.0
    assert task["flags"] == ["missing_package"]
    assert task["reason"].startswith(f"expected a package calc/ (with __init__.py) or a module calc.py in {rollout}/")
    assert {t["outcome"] for t in task["tests"]} == {"not_run"}
    assert "isolation: sandbox" not in result.stdout.str()  # no sandbox ran


def test_values_cross_with_their_types(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_types.py").write_text(
        "def test_pair(submission):\n"
        "    assert submission.module('calc').pair() == (0, 1)\n"
        "def test_kinds(submission):\n"
        "    assert submission.module('calc').kinds() == ({1, 2}, frozenset({3}), b'x', {(1, 2): 'p'})\n"
    )
    for folder, pair in (("reference", "(0, 1)"), ("starter", "[0, 1]")):
        source = project.path / folder / "calc" / "calc" / "__init__.py"
        source.write_text(
            source.read_text()
            + f"\ndef pair():\n    return {pair}\n"
            + "\ndef kinds():\n    return ({1, 2}, frozenset({3}), b'x', {(1, 2): 'p'})\n"
        )
    _, good = grade(project, "--submission=reference")
    _, bad = grade(project, "--submission=starter")
    assert good is not None
    assert bad is not None
    assert outcomes(good["tasks"][0])["test_pair"] == "passed"
    assert outcomes(good["tasks"][0])["test_kinds"] == "passed"
    assert outcomes(bad["tasks"][0])["test_pair"] == "failed"


def test_a_selector_that_matches_nothing_is_a_task_error(project: pytest.Pytester) -> None:
    manifest = project.path / "tasks" / "calc" / "task.yaml"
    manifest.write_text(MANIFEST.replace("  metrics:", '  gates: ["test_calc.py::test_imports"]\n  metrics:'))
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    task = report["tasks"][0]
    assert task["reward"] is None
    assert task["error"] == f"{manifest}: reward.gates: 'test_calc.py::test_imports' matches no collected test"


def test_a_preload_that_does_not_import_is_a_task_error(project: pytest.Pytester) -> None:
    manifest = project.path / "tasks" / "calc" / "task.yaml"
    manifest.write_text(MANIFEST + "preload: [no_such_module_anywhere]\n")
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    task = report["tasks"][0]
    assert "task_error" in task["flags"]
    assert "preload 'no_such_module_anywhere' does not import in the sandbox" in task["error"]


def test_a_metric_recorded_twice_is_a_task_error(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_twice.py").write_text(
        "def test_again(submission, metric):\n    metric('accuracy', 1.0)\n"
    )
    result, report = grade(project, "--submission=reference")
    assert result.ret == 3
    assert report is not None
    task = report["tasks"][0]
    assert task["reward"] is None
    assert "metric 'accuracy' was recorded by both" in task["error"]


def test_one_test_recording_a_metric_twice_fails_naming_it(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_twice.py").write_text(
        "def test_again(submission, metric):\n    metric('accuracy', 0.9)\n    metric('accuracy', float('nan'))\n"
    )
    _, report = grade(project, "--submission=reference")
    assert report is not None
    assert "metric 'accuracy' was recorded twice by" in report["tasks"][0]["error"]


def test_hide_messages_withholds_every_message_and_paths_never_show(project: pytest.Pytester) -> None:
    (project.path / "tasks" / "calc" / "tests" / "test_where.py").write_text(
        "def test_where(submission):\n    assert str(submission.workdir) == 'x'\n"
    )
    _, shown = grade(project, "--submission=starter")
    assert shown is not None
    messages = [t["message"] for t in shown["tasks"][0]["tests"] if t["message"]]
    assert messages
    assert not any("/rlgrade-calc-" in m for m in messages), messages
    assert any("<scratch>/test-" in m for m in messages), messages
    manifest = project.path / "tasks" / "calc" / "task.yaml"
    manifest.write_text(MANIFEST + "hide_messages: true\n")
    _, hidden = grade(project, "--submission=starter")
    assert hidden is not None
    assert all(t["message"] is None for t in hidden["tasks"][0]["tests"])
    assert hidden["reward"] == shown["reward"]


def test_the_terminal_is_compact_with_the_table_last(project: pytest.Pytester) -> None:
    result, _ = grade(project, "--submission=starter", "--min-reward=1.0", "-q")
    lines = result.stdout.lines
    assert result.ret == 1
    assert len(lines) < 40, "\n".join(lines)
    assert not any(line.startswith("____") for line in lines)  # no tracebacks by default
    assert sum(line.startswith("FAILED ") for line in lines) == 3
    tail = "\n".join(lines[-4:])
    assert "is below --min-reward 1" in tail
    verbose, _ = grade(project, "--submission=starter", "--tb=short")
    assert any(line.startswith("____") for line in verbose.stdout.lines)


@pytest.mark.parametrize("spelling", ["equals", "space"])
def test_both_spellings_grade_the_same_from_any_folder(project: pytest.Pytester, spelling: str) -> None:
    rollout = project.path / "elsewhere" / "rollout"
    (rollout / "calc").mkdir(parents=True)
    (rollout / "calc" / "__init__.py").write_text(FULL)
    report = project.path / "out" / f"{spelling}.json"
    if spelling == "equals":
        args = [f"--submission={rollout}", "--task=calc", f"--rlgrade-report={report}"]
    else:
        args = ["--submission", str(rollout), "--task", "calc", "--rlgrade-report", str(report)]
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "--rlgrade-seed=3", *args)
    assert result.ret == 0, result.outlines + result.errlines
    data = json.loads(report.read_text())
    assert data["reward"] == 1.0
    assert data["submission_path"] == str(rollout)


def test_grading_from_another_folder_names_the_repository(project: pytest.Pytester) -> None:
    elsewhere = project.path / "elsewhere"
    elsewhere.mkdir()
    report = project.path / "out" / "r.json"
    result = subprocess_pytest(
        elsewhere,
        f"--submission={project.path / 'reference'}",
        f"--rlgrade-root={project.path}",
        f"--rlgrade-report={report}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(report.read_text())["reward"] == 1.0


def subprocess_pytest(cwd: Path, *args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


CLI_TESTS = """\
import pytest


def test_stdin_and_environment(submission):
    result = submission.run_cli(["upper"], stdin="héllo\\nwörld\\n", env={"CALC_GREETING": "hi"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "HÉLLO\\nWÖRLD\\n|hi|" + str(submission.workdir)


def test_no_stdin_is_an_empty_one_and_the_environment_is_the_sandbox_s(submission):
    result = submission.run_cli(["upper"], stdin=b"")
    assert result.stdout.startswith("|-|"), result.stdout
    assert submission.run_cli(["upper"]).stdout.startswith("|-|")


def test_a_bad_environment_is_the_test_s_mistake(submission):
    with pytest.raises(ValueError, match="not a usable environment variable"):
        submission.run_cli(["upper"], env={"A=B": "c"})
"""

CLI_MODULE = """\
import os
import sys

text = sys.stdin.read()
sys.stdout.write(text.upper() + "|" + os.environ.get("CALC_GREETING", "-") + "|" + os.environ.get("TMPDIR", ""))
"""


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_run_cli_passes_stdin_and_environment(project: pytest.Pytester, isolation: str) -> None:
    """``run_cli(stdin=..., env=...)``: the program reads exactly that input, sees the variables
    added to its sandbox's environment, and reads an empty input when given none."""
    result, report = grade_plain_calc(project, isolation, CLI_TESTS, {"cli.py": CLI_MODULE})
    assert report is not None, result.stdout.str()
    assert outcomes(report["tasks"][0]) == dict.fromkeys(
        [
            "test_stdin_and_environment",
            "test_no_stdin_is_an_empty_one_and_the_environment_is_the_sandbox_s",
            "test_a_bad_environment_is_the_test_s_mistake",
        ],
        "passed",
    ), result.stdout.str()


EACH_TESTS = """\
def test_each_call_in_one_round_trip(submission):
    calc = submission.module("calc")
    assert calc.add.each([(1, 2), [3, 4], (-1, 1)]) == [3, 7, 0]
    assert submission.call_each(calc, "mul", [(2, 5)]) == [10]
    assert calc.add.each([]) == []


def test_the_first_exception_stops_the_rest(submission):
    calc = submission.module("calc")
    with submission.raises("ZeroDivisionError"):
        calc.div.each([(4, 2), (1, 0), (9, 3)])
    assert calc.calls.each([()]) == [["div", "div"]]  # (9, 3) was never called


def test_arguments_that_are_not_lists_are_refused(submission):
    calc = submission.module("calc")
    with pytest.raises(TypeError):
        calc.add.each([1, 2])
"""

EACH_MODULE = """\
CALLED = []

def add(a, b):
    return a + b

def mul(a, b):
    return a * b

def div(a, b):
    CALLED.append("div")
    return a / b

def calls():
    return CALLED
"""


COPY_TESTS = """
def test_the_submission_changes_only_its_copy(submission):
    calc = submission.module("calc")
    rows = [{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3]}]
    flat = [1, 2, 3]
    returned = calc.spoil(rows, flat)
    assert rows == [{"a": 1, "b": [1, 2]}, {"a": 2, "b": [3]}]
    assert flat == [1, 2, 3]
    assert returned == [[{"a": 1, "b": [1, 2], "spoiled": True}, {"a": 2, "b": [3]}], [1, 2, 3, 4]]
    returned[1].append(5)
    assert calc.kept() == [1, 2, 3, 4], "the test's answer is a copy too"
"""

COPY_MODULE = """\
KEPT = []

def spoil(rows, flat):
    rows[0]["spoiled"] = True
    flat.append(4)
    KEPT[:] = flat
    return [rows, flat]

def kept():
    return KEPT
"""


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_values_cross_as_copies(project: pytest.Pytester, isolation: str) -> None:
    """What a test passes, the submission gets a copy of (in-process too), and the reverse: a
    submission that changes its arguments, or a test that changes an answer, changes only its copy."""
    result, report = grade_plain_calc(project, isolation, COPY_TESTS, {"__init__.py": COPY_MODULE})
    assert report is not None, result.stdout.str()
    assert set(outcomes(report["tasks"][0]).values()) == {"passed"}, result.stdout.str()


@pytest.mark.parametrize("isolation", ["sandbox", "none"])
def test_call_each_runs_every_call_in_order(project: pytest.Pytester, isolation: str) -> None:
    """``submission.call_each`` / ``handle.method.each``: many calls, one round trip, the results
    in order, and the first exception raised as a single call raises it."""
    result, report = grade_plain_calc(
        project, isolation, "import pytest\n\n\n" + EACH_TESTS, {"__init__.py": EACH_MODULE}
    )
    assert report is not None, result.stdout.str()
    assert set(outcomes(report["tasks"][0]).values()) == {"passed"}, result.stdout.str()


def test_a_handoff_grading_writes_the_same_report_without_the_table(project: pytest.Pytester) -> None:
    """A grader worker's fork grades with ``handoff`` set: nobody reads its terminal."""
    result, plain = grade(project, "--submission=reference", "--isolation=none", "--rlgrade-seed=3")
    assert "rlgrade" in result.stdout.str()
    project.makeconftest("""
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_configure(config):
            from pytest_rlgrade.plugin import grading_key

            config.stash[grading_key].handoff = True
    """)
    result, handed = grade(project, "--submission=reference", "--isolation=none", "--rlgrade-seed=3")
    assert result.ret == 0
    assert "= rlgrade =" not in result.stdout.str()
    assert "reward 1.0000" not in result.stdout.str()
    assert plain is not None
    assert handed is not None
    for data in (plain, handed):
        data.pop("duration")
        for task in data["tasks"]:
            task.pop("duration")
            for test in task["tests"]:
                test.pop("duration")
    assert handed == plain


HYPOTHESIS_TESTS = """\
import sys

from hypothesis import given, strategies as st

def test_no_patch_is_written_for_a_failure():
    assert sys.modules["hypothesis.extra._patching"] is None

@given(st.integers(0, 9))
def test_sub_on_examples(submission, x):
    assert submission.module("calc").sub(x, 0) == x
"""


def test_a_failing_hypothesis_test_makes_no_patch(project: pytest.Pytester) -> None:
    """Hypothesis's plugin would import its patch writer (libcst) on every failure, and without
    libcst try again each time: grading marks it unimportable, and its failure changes nothing."""
    (project.path / "tasks/calc/tests/test_prop.py").write_text(HYPOTHESIS_TESTS)
    result, data = grade(project, "--submission=starter", "tasks/calc/tests/test_prop.py")
    assert data is not None, result.stdout.str()
    outcomes = {t["node_id"].split("::")[1]: t["outcome"] for t in data["tasks"][0]["tests"]}
    assert outcomes["test_no_patch_is_written_for_a_failure"] == "passed"
    assert outcomes["test_sub_on_examples"] == "failed"


def test_the_hypothesis_settings_are_restored_after_grading() -> None:
    from types import SimpleNamespace

    from pytest_rlgrade import plugin

    config = SimpleNamespace(stash=pytest.Stash(), option=SimpleNamespace(verbose=0), getoption=lambda *a: None)
    before = sys.modules.pop(plugin.HYPOTHESIS_PATCHING, None)
    try:
        from hypothesis import core
        from hypothesis.internal.conjecture import providers

        seed, scan = core.global_force_seed, providers._get_local_constants
        plugin._hypothesis_profile(config, 5)  # type: ignore[arg-type]
        assert sys.modules[plugin.HYPOTHESIS_PATCHING] is None
        assert providers._get_local_constants is not scan  # pinned while grading
        plugin.pytest_unconfigure(config)  # type: ignore[arg-type]
        assert plugin.HYPOTHESIS_PATCHING not in sys.modules
        assert core.global_force_seed == seed
        assert providers._get_local_constants is scan
    finally:
        if before is not None:
            sys.modules[plugin.HYPOTHESIS_PATCHING] = before


# -- Hypothesis tests over examples drawn once per seed (hypothesis_replay) -----------------------

REPLAY_TESTS = """\
from hypothesis import given, settings, strategies as st

@settings(max_examples=30)
@given(a=st.integers(-50, 50), b=st.integers(-50, 50))
def test_add_on_examples(submission, a, b):
    assert submission.module("calc").add(a, b) == a + b, f"add({a}, {b})"
"""
# Right only for an input it was asked before (one sandbox process serves all examples of a
# test): a grader that ran a failing example again and kept the second answer would pass it.
RIGHT_THE_SECOND_TIME = """\
_seen = set()

def add(a, b):
    if (a, b) in _seen:
        return a + b
    _seen.add((a, b))
    return a + b + 1
"""
WRONG_FOR_NEGATIVES = "def add(a, b):\n    return a + b if a >= 0 else a - b\n"


@pytest.mark.slow
@pytest.mark.parametrize("verbosity", [[], ["-v"]], ids=["replayed", "under-hypothesis"])
def test_an_answer_right_only_when_asked_again_fails(project: pytest.Pytester, verbosity: list[str]) -> None:
    _, report = grade_plain_calc(project, "sandbox", REPLAY_TESTS, {"__init__.py": RIGHT_THE_SECOND_TIME}, *verbosity)
    assert report is not None
    (test,) = report["tasks"][0]["tests"]
    assert test["outcome"] == "failed", test
    assert report["reward"] == 0.0


@pytest.mark.slow
def test_a_replayed_failure_is_the_same_through_the_cli_and_the_api(project: pytest.Pytester) -> None:
    """The examples are drawn from the seed alone: the command line and a warm grader (whose
    second grading finds them remembered) fail the same example with the same message."""
    from pytest_rlgrade import Grader

    _, report = grade_plain_calc(project, "sandbox", REPLAY_TESTS, {"__init__.py": WRONG_FOR_NEGATIVES})
    assert report is not None
    (cli,) = report["tasks"][0]["tests"]
    assert cli["outcome"] == "failed"
    assert "add(-" in cli["message"], cli["message"]
    with Grader(project.path, tasks=["calc"], workers=1, seed=report["seed"]) as grader:
        graded = [grader.grade("reference", task="calc") for _ in range(2)]
    for api in graded:
        (test,) = api.tasks[0].tests
        assert (test.outcome, test.message) == (cli["outcome"], cli["message"])


# Failures of every shape a test can end in: a grader worker lays out tracebacks in pytest's
# cheapest style (nobody reads its terminal), and the crash line the report keeps must not change.
FAILURE_SHAPES = """\
import pytest


def helper(value):
    __tracebackhide__ = True
    assert value == 3, f"helper saw {value}"


@pytest.fixture
def broken_fixture():
    raise RuntimeError("the fixture broke")


def test_rewritten_compare(submission):
    assert submission.module("calc").add(1, 1) == 3


def test_assert_with_message(submission):
    total = submission.module("calc").add(2, 2)
    assert total == 5, f"add(2, 2) gave {total}"


def test_raised_in_the_submission(submission):
    submission.module("calc").divide(1, 0)


def test_fail_without_traceback(submission):
    pytest.fail("told plainly", pytrace=False)


def test_fail_with_traceback(submission):
    pytest.fail("told with a traceback")


def test_chained(submission):
    try:
        {}["missing"]
    except KeyError as exc:
        raise ValueError("while looking it up") from exc


def test_group(submission):
    raise ExceptionGroup("two at once", [ValueError("one"), TypeError("two")])


def test_hidden_helper(submission):
    helper(submission.module("calc").add(1, 1))


def test_in_setup(submission, broken_fixture):
    pass
"""
FAILING_CALC = "def add(a, b):\n    return a + b\n\ndef divide(a, b):\n    return a / b\n"


@pytest.mark.slow
def test_every_failure_has_the_same_message_through_the_cli_and_a_grader(project: pytest.Pytester) -> None:
    from pytest_rlgrade import Grader

    _, report = grade_plain_calc(project, "sandbox", FAILURE_SHAPES, {"__init__.py": FAILING_CALC})
    assert report is not None
    cli = {t["node_id"]: (t["outcome"], t["message"]) for t in report["tasks"][0]["tests"]}
    assert len(cli) == 9, cli
    assert all(outcome in ("failed", "error") for outcome, _ in cli.values()), cli
    with Grader(project.path, tasks=["calc"], workers=1, seed=report["seed"]) as grader:
        api = grader.grade("reference", task="calc")
    assert {t.node_id: (t.outcome, t.message) for t in api.tasks[0].tests} == cli
    messages = " | ".join(message for _, message in cli.values())
    for expected in (
        "assert 2 == 3",
        "add(2, 2) gave 4",
        "ZeroDivisionError",
        "told plainly",
        "helper saw 2",
        "while looking it up",
        "two at once",
        "the fixture broke",
    ):
        assert expected in messages, messages


def test_the_run_seed_draws_the_examples_where_ci_is_set() -> None:
    """Hypothesis loads its "ci" profile wherever CI is set, and its derandomize seeds each test
    from the test's own source, outranking the run's seed: grading turns it off."""
    from types import SimpleNamespace

    from hypothesis import settings

    from pytest_rlgrade import plugin

    config = SimpleNamespace(stash=pytest.Stash(), option=SimpleNamespace(verbose=0), getoption=lambda *a: None)
    suite = settings.get_current_profile_name()
    settings.load_profile("ci")
    try:
        assert settings.default.derandomize
        plugin._hypothesis_profile(config, 5)  # type: ignore[arg-type]
        assert settings.default.derandomize is False
        plugin.pytest_unconfigure(config)  # type: ignore[arg-type]
        assert settings.get_current_profile_name() == "ci"
    finally:
        settings.load_profile(suite)
