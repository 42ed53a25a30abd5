"""Tier 2: the plugin's options and their errors, through pytester in this process."""

from __future__ import annotations

import pytest

from pytest_rlgrade.plugin import grading_key

TOY_YAML = "name: toy\npackage: toy\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A tiny graded project: ``tasks/toy`` and a submission in ``sub/``, with its rootdir pinned."""
    pytester.makeini("[pytest]")
    pytester.mkdir("tasks")
    pytester.mkdir("tasks/toy")
    pytester.mkdir("tasks/toy/tests")
    (pytester.path / "tasks/toy/task.yaml").write_text(TOY_YAML)
    (pytester.path / "tasks/toy/prompt.md").write_text("Write toy.\n")
    (pytester.path / "tasks/toy/tests/test_toy.py").write_text("def test_toy(submission):\n    pass\n")
    pytester.mkdir("sub")
    pytester.mkdir("sub/toy")
    (pytester.path / "sub/toy/__init__.py").write_text("")
    return pytester


def usage_error(project: pytest.Pytester, *args: str) -> str:
    """Run pytest; expect a usage error and return its one-line reason."""
    result = project.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.outlines + result.errlines
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output
    errors = [line for line in result.errlines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.errlines
    return errors[0].removeprefix("ERROR: ")


def test_project_is_valid(project: pytest.Pytester) -> None:
    """The control for the error tests below: the same project with good options configures."""
    config = project.parseconfigure("--submission=sub", "--isolation=none")
    grading = config.stash[grading_key]
    assert list(grading.states) == ["toy"]
    assert grading.states["toy"].submission_root == project.path / "sub"
    assert grading.settings.report == project.path / "rlgrade-report.json"


def test_without_submission_the_plugin_stays_out_of_the_way(project: pytest.Pytester) -> None:
    config = project.parseconfigure()
    assert grading_key not in config.stash


@pytest.mark.parametrize(
    ("args", "flags"),
    [
        (["--task", "x"], "--task"),
        (["--min-reward=0.5"], "--min-reward"),
        (["--rlgrade-seed=3"], "--rlgrade-seed"),
        (["--rlgrade-report=r.json"], "--rlgrade-report"),
        (["--isolation=none"], "--isolation"),
        (["--task=x", "--rlgrade-seed=1"], "--task, --rlgrade-seed"),
    ],
)
def test_grading_options_need_a_submission(project: pytest.Pytester, args: list[str], flags: str) -> None:
    assert usage_error(project, *args) == f"{flags} only make sense with --submission"


def test_parseconfigure_raises_the_usage_error(project: pytest.Pytester) -> None:
    with pytest.raises(pytest.UsageError, match="--task only make sense with --submission"):
        project.parseconfigure("--task", "toy")


@pytest.mark.parametrize(
    ("option", "reason"),
    [
        ("--min-reward=abc", "--min-reward: 'abc' is not a number"),
        ("--min-reward=1.5", "--min-reward: '1.5' is not between 0 and 1"),
        ("--min-reward=nan", "--min-reward: 'nan' is not between 0 and 1"),
        ("--rlgrade-seed=x", "--rlgrade-seed: 'x' is not an integer"),
        ("--isolation=bogus", "invalid isolation 'bogus' from the command line: choose from sandbox, none"),
    ],
)
def test_bad_option_values(project: pytest.Pytester, option: str, reason: str) -> None:
    assert usage_error(project, "--submission=sub", option) == reason


def test_bad_isolation_in_the_ini_file(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nrlgrade_isolation = docker\n")
    assert usage_error(project, "--submission=sub") == (
        "invalid isolation 'docker' from the ini file: choose from sandbox, none"
    )


def test_empty_submission(project: pytest.Pytester) -> None:
    assert "--submission needs a value" in usage_error(project, "--submission=")


def test_unknown_task_lists_the_known_ones(project: pytest.Pytester) -> None:
    project.mkdir("tasks/other")
    (project.path / "tasks/other/task.yaml").write_text("name: other\npackage: other\n")
    reason = usage_error(project, "--submission=sub", "--task=nope")
    assert reason.startswith("--task: no task named nope in ")
    assert reason.endswith("(tasks: other, toy)")


def test_no_tasks_at_all(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]")
    pytester.mkdir("sub")
    assert usage_error(pytester, "--submission=sub").startswith(f"no tasks/*/task.yaml in {pytester.path}")


def test_a_missing_prompt_is_a_manifest_error(project: pytest.Pytester) -> None:
    (project.path / "tasks/toy/prompt.md").unlink()
    manifest = project.path / "tasks/toy/task.yaml"
    assert usage_error(project, "--submission=sub") == (
        f"{manifest}: prompt: 'prompt.md' does not exist in {project.path / 'tasks/toy'}"
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-k", "toy"], "-k"),
        (["-m", "slow"], "-m"),
        (["--deselect=tasks/toy/tests/test_toy.py::test_toy"], "--deselect"),
        (["-x"], "-x/--maxfail"),
        (["--maxfail=2"], "-x/--maxfail"),
    ],
)
def test_selections_that_leave_tests_unrun_are_refused(project: pytest.Pytester, args: list[str], named: str) -> None:
    reason = usage_error(project, "--submission=sub", *args)
    assert reason.startswith(f"{named} would leave tests unrun, and a reward needs every test")


def test_naming_a_test_file_still_grades_a_subset(project: pytest.Pytester) -> None:
    config = project.parseconfigure("--submission=sub", "tasks/toy/tests/test_toy.py")
    assert config.stash[grading_key].full_collection is False


@pytest.mark.parametrize(
    ("yaml_text", "where"),
    [
        ("name: toy\npackage: toy\nreward:\n  weights: {a: -1}\n", "reward.weights: weight of 'a' must be >= 0"),
        ("name: toy\npackage: toy\nreward:\n  metrics:\n    x: {target: fast}\n", "reward.metrics.x.target: "),
        ("name: toy\npackage: toy\nextra: 1\n", "extra: unknown key"),
        ("name: other\npackage: toy\n", "name: 'other' differs from the folder's name 'toy'"),
        ("name: toy\npackage: toy\npublic: [tests]\n", "public: 'tests' is trusted material"),
        ("name: toy\npackage: toy\nreward: a: b\n", "not valid YAML at line 3"),
    ],
)
def test_bad_task_yaml(project: pytest.Pytester, yaml_text: str, where: str) -> None:
    manifest = project.path / "tasks/toy/task.yaml"
    manifest.write_text(yaml_text)
    assert usage_error(project, "--submission=sub").startswith(f"{manifest}: {where}")


def test_a_bad_task_yaml_of_an_unselected_task_does_not_matter(project: pytest.Pytester) -> None:
    project.mkdir("tasks/broken")
    (project.path / "tasks/broken/task.yaml").write_text("name: [broken\n")
    config = project.parseconfigure("--submission=sub", "--task=toy", "--isolation=none")
    assert list(config.stash[grading_key].states) == ["toy"]


def test_missing_tests_folder(project: pytest.Pytester) -> None:
    (project.path / "tasks/toy/tests/test_toy.py").unlink()
    (project.path / "tasks/toy/tests").rmdir()
    assert "has no tests folder" in usage_error(project, "--submission=sub")


def test_missing_submission_folder(project: pytest.Pytester) -> None:
    assert usage_error(project, "--submission=nowhere") == (
        f"--submission nowhere: no such folder ({project.path / 'nowhere'})"
    )


def test_an_empty_submission_folder_is_graded_not_refused(project: pytest.Pytester) -> None:
    project.mkdir("empty")
    config = project.parseconfigure("--submission=empty")
    state = config.stash[grading_key].states["toy"]
    assert "missing_package" in state.flags
    expected = "expected a package toy/ (with __init__.py) or a module toy.py in"
    assert state.reason == f"{expected} {project.path / 'empty'}/, which holds none"


def test_a_scratch_folder_that_cannot_be_used_is_a_usage_error(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLGRADE_TMPDIR", str(project.path / "nowhere"))
    error = usage_error(project, "--submission=sub")
    assert error == f"RLGRADE_TMPDIR={project.path / 'nowhere'}: not a folder this process can write to"
