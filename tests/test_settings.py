"""Tier 1: settling the grading options and finding the submission's folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.errors import SubmissionPathError
from pytest_rlgrade.settings import (
    DEFAULT_REPORT,
    Settings,
    SettingsError,
    find_root,
    package_problem,
    settle,
    submission_folders,
)

INVOKED = Path("/somewhere/invoked")


def settled(**changes: Any) -> Settings:
    options: dict[str, Any] = {
        "submission": "starter",
        "tasks": [],
        "report": None,
        "report_ini": "",
        "min_reward": None,
        "seed": None,
        "isolation": None,
        "isolation_ini": "",
        "invocation_dir": INVOKED,
    }
    options.update(changes)
    return settle(**options)


def test_defaults() -> None:
    settings = settled()
    assert settings.submission == "starter"
    assert settings.tasks == ()
    assert settings.report == INVOKED / DEFAULT_REPORT
    assert settings.min_reward is None
    assert settings.isolation == "sandbox"
    assert settings.seed_given is False
    assert 0 <= settings.seed < 2**32


def test_a_fresh_seed_each_time() -> None:
    seeds = {settled().seed for _ in range(5)}
    assert len(seeds) > 1


def test_settings_are_frozen() -> None:
    settings = settled()
    with pytest.raises(AttributeError):
        settings.seed = 3  # type: ignore[misc]


def test_tasks_keep_order_without_repeats() -> None:
    assert settled(tasks=["b", "a", "b", "c", "a"]).tasks == ("b", "a", "c")


def test_no_submission() -> None:
    with pytest.raises(SettingsError, match="--submission needs a value"):
        settled(submission="")


@pytest.mark.parametrize(("value", "expected"), [("0", 0.0), ("1", 1.0), ("0.75", 0.75), (" 0.5 ", 0.5), ("1e-1", 0.1)])
def test_min_reward(value: str, expected: float) -> None:
    assert settled(min_reward=value).min_reward == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("x", "--min-reward: 'x' is not a number"),
        ("", "--min-reward: '' is not a number"),
        ("0,5", "--min-reward: '0,5' is not a number"),
        ("-0.1", "--min-reward: '-0.1' is not between 0 and 1"),
        ("1.5", "--min-reward: '1.5' is not between 0 and 1"),
        ("nan", "--min-reward: 'nan' is not between 0 and 1"),
        ("inf", "--min-reward: 'inf' is not between 0 and 1"),
        ("-inf", "--min-reward: '-inf' is not between 0 and 1"),
    ],
)
def test_bad_min_reward(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as info:
        settled(min_reward=value)
    assert str(info.value) == problem


@pytest.mark.parametrize(("value", "expected"), [("0", 0), ("12345", 12345), (str(2**63 - 1), 2**63 - 1)])
def test_seed(value: str, expected: int) -> None:
    settings = settled(seed=value)
    assert settings.seed == expected
    assert settings.seed_given is True


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "is not an integer"),
        ("1.5", "is not an integer"),
        ("", "is not an integer"),
        ("-1", "is out of range"),
        (str(2**63), "is out of range"),
    ],
)
def test_bad_seed(value: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=f"^--rlgrade-seed: {value!r} {problem}"):
        settled(seed=value)


@pytest.mark.parametrize(
    ("flag", "ini", "expected"),
    [(None, "", "sandbox"), ("none", "", "none"), (None, "none", "none"), ("sandbox", "none", "sandbox")],
)
def test_isolation_precedence(flag: str | None, ini: str, expected: str) -> None:
    assert settled(isolation=flag, isolation_ini=ini).isolation == expected


def test_flag_overrides_a_bad_ini_isolation() -> None:
    assert settled(isolation="none", isolation_ini="bogus").isolation == "none"


@pytest.mark.parametrize(
    ("flag", "ini", "message"),
    [
        ("bogus", "", "invalid isolation 'bogus' from the command line: choose from sandbox, none"),
        ("", "", "invalid isolation '' from the command line: choose from sandbox, none"),
        ("Sandbox", "none", "invalid isolation 'Sandbox' from the command line: choose from sandbox, none"),
        (None, "docker", "invalid isolation 'docker' from the ini file: choose from sandbox, none"),
    ],
)
def test_bad_isolation_names_its_source(flag: str | None, ini: str, message: str) -> None:
    with pytest.raises(SettingsError) as info:
        settled(isolation=flag, isolation_ini=ini)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("flag", "ini", "expected"),
    [
        (None, "", INVOKED / DEFAULT_REPORT),
        ("out/r.json", "", INVOKED / "out/r.json"),
        (None, "ini.json", INVOKED / "ini.json"),
        ("flag.json", "ini.json", INVOKED / "flag.json"),
        ("/abs/r.json", "", Path("/abs/r.json")),
        (None, "/abs/ini.json", Path("/abs/ini.json")),
    ],
)
def test_report_path(flag: str | None, ini: str, expected: Path) -> None:
    assert settled(report=flag, report_ini=ini).report == expected


def test_empty_report_path_is_refused() -> None:
    with pytest.raises(SettingsError, match="--rlgrade-report"):
        settled(report="")


# -- submission_folders ------------------------------------------------------------------------------


def package(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    return folder


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for shipped in ("starter", "reference"):
        package(root / shipped / "alpha" / "alpha_pkg")
        package(root / shipped / "beta" / "beta")
    (tmp_path / "elsewhere").mkdir()
    return root


TASKS = {"alpha": "alpha_pkg", "beta": "beta"}


@pytest.mark.parametrize("shipped", ["starter", "reference"])
def test_shipped_layout(repo: Path, shipped: str) -> None:
    base, folders = submission_folders(shipped, repo, repo.parent / "elsewhere", TASKS)
    assert base == repo / shipped
    assert folders == {"alpha": repo / shipped / "alpha", "beta": repo / shipped / "beta"}


@pytest.mark.parametrize("task", ["alpha", "beta"])
def test_shipped_layout_single_task(repo: Path, task: str) -> None:
    base, folders = submission_folders("starter", repo, repo, {task: TASKS[task]})
    assert base == repo / "starter"
    assert folders == {task: repo / "starter" / task}


def test_path_laid_out_like_starter(repo: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    package(mine / "alpha" / "alpha_pkg")
    package(mine / "beta" / "beta")
    base, folders = submission_folders(str(mine), repo, repo, TASKS)
    assert base == mine
    assert folders == {"alpha": mine / "alpha", "beta": mine / "beta"}


@pytest.mark.parametrize("task", ["alpha", "beta"], ids=["package-differs", "package-is-the-task-name"])
def test_path_laid_out_like_starter_single_task(repo: Path, tmp_path: Path, task: str) -> None:
    mine = tmp_path / "mine"
    package(mine / task / TASKS[task])
    assert submission_folders(str(mine), repo, repo, {task: TASKS[task]}) == (mine, {task: mine / task})


@pytest.mark.parametrize("task", ["alpha", "beta"], ids=["package-differs", "package-is-the-task-name"])
def test_path_laid_out_like_starter_name(repo: Path, tmp_path: Path, task: str) -> None:
    mine = tmp_path / "mine"
    package(mine / TASKS[task])
    assert submission_folders(str(mine), repo, repo, {task: TASKS[task]}) == (mine, {task: mine})


def test_path_with_a_single_module(repo: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "alpha_pkg.py").write_text("")
    assert submission_folders(str(mine), repo, repo, {"alpha": "alpha_pkg"}) == (mine, {"alpha": mine})


def test_relative_path_is_from_the_invocation_folder(repo: Path, tmp_path: Path) -> None:
    package(tmp_path / "work" / "sub" / "alpha_pkg")
    base, folders = submission_folders("sub", repo, tmp_path / "work", {"alpha": "alpha_pkg"})
    assert base == tmp_path / "work" / "sub"
    assert folders == {"alpha": tmp_path / "work" / "sub"}


def test_path_is_resolved(repo: Path, tmp_path: Path) -> None:
    package(tmp_path / "mine" / "alpha_pkg")
    (tmp_path / "link").symlink_to(tmp_path / "mine")
    base, folders = submission_folders("../link/.", repo, tmp_path / "elsewhere", {"alpha": "alpha_pkg"})
    assert base == tmp_path / "mine"
    assert folders == {"alpha": tmp_path / "mine"}


def test_name_layout_is_only_for_a_single_task(repo: Path, tmp_path: Path) -> None:
    """With several tasks each needs its folder: the packages at the top are not looked at, and
    the tasks are graded as missing their package (issue #8: an existing folder is graded)."""
    mine = tmp_path / "mine"
    package(mine / "alpha_pkg")
    package(mine / "beta")
    assert submission_folders(str(mine), repo, repo, TASKS) == (mine, {"alpha": mine / "alpha", "beta": mine / "beta"})


@pytest.mark.parametrize("value", ["nowhere", "/no/such/folder"])
def test_missing_folder(repo: Path, value: str) -> None:
    with pytest.raises(SubmissionPathError) as info:
        submission_folders(value, repo, repo.parent / "elsewhere", TASKS)
    expected = Path(value) if value.startswith("/") else repo.parent / "elsewhere" / value
    assert str(info.value) == f"--submission {value}: no such folder ({expected})"


def test_a_file_is_not_a_folder(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SubmissionPathError, match="no such folder"):
        submission_folders(str(tmp_path / "file"), repo, repo, TASKS)


def test_missing_shipped_folder(tmp_path: Path) -> None:
    with pytest.raises(SubmissionPathError) as info:
        submission_folders("reference", tmp_path, tmp_path, TASKS)
    assert str(info.value) == f"--submission reference: no such folder ({tmp_path / 'reference'})"


def test_missing_task_folder_is_graded(repo: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    package(mine / "alpha" / "alpha_pkg")
    assert submission_folders(str(mine), repo, repo, TASKS) == (mine, {"alpha": mine / "alpha", "beta": mine / "beta"})


def test_an_empty_folder_is_graded_for_a_single_task(repo: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    assert submission_folders(str(mine), repo, repo, {"alpha": "alpha_pkg"}) == (mine, {"alpha": mine})


def test_missing_task_in_shipped_folder(repo: Path) -> None:
    with pytest.raises(SubmissionPathError) as info:
        submission_folders("starter", repo, repo, {"gamma": "gamma"})
    assert f"no folder for task 'gamma' (expected {repo / 'starter'}/gamma/)" in str(info.value)


# -- package_problem ---------------------------------------------------------------------------------


def test_a_package_or_a_module_is_a_submission(tmp_path: Path) -> None:
    package(tmp_path / "a" / "pkg")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "pkg.py").write_text("")
    assert package_problem(tmp_path / "a", "pkg") is None
    assert package_problem(tmp_path / "b", "pkg") is None


def test_what_is_not_a_submission_says_what_was_expected_where(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "namespace" / "pkg").mkdir(parents=True)
    (tmp_path / "misnamed" / "other").mkdir(parents=True)
    (tmp_path / "misnamed" / "other" / "__init__.py").write_text("")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "pkg").symlink_to(tmp_path / "misnamed" / "other")
    expected = "expected a package pkg/ (with __init__.py) or a module pkg.py in"
    for name, detail in [
        ("empty", "which holds none"),
        ("namespace", "has no __init__.py (a namespace package is not a submission)"),
        ("misnamed", "which holds none"),
        ("linked", "is a symbolic link"),
        ("nowhere", "which does not exist"),
    ]:
        problem = package_problem(tmp_path / name, "pkg")
        assert problem is not None, name
        assert problem.startswith(f"{expected} {tmp_path / name}/"), problem
        assert detail in problem, (name, problem)


# -- find_root ---------------------------------------------------------------------------------------


def make_repo(folder: Path) -> Path:
    (folder / "tasks" / "t").mkdir(parents=True)
    (folder / "tasks" / "t" / "task.yaml").write_text("name: t\npackage: t\n")
    return folder


def test_root_is_found_above_the_invocation_folder(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "deep" / "er").mkdir(parents=True)
    assert find_root(None, "", None, repo / "deep" / "er", tmp_path / "elsewhere") == repo


def test_root_option_wins_and_is_checked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    make_repo(tmp_path / "other")
    assert find_root("../repo", "", None, tmp_path / "other", tmp_path / "other") == repo
    with pytest.raises(SettingsError, match="--rlgrade-root: .* has no tasks/ folder"):
        find_root(str(tmp_path), "", None, tmp_path, tmp_path)


def test_root_from_the_ini_file_is_relative_to_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (tmp_path / "conf").mkdir()
    ini = tmp_path / "conf" / "pytest.ini"
    assert find_root(None, "../repo", ini, tmp_path / "elsewhere", tmp_path) == repo
    with pytest.raises(SettingsError, match=f"rlgrade_root in {ini}"):
        find_root(None, "nowhere", ini, tmp_path, tmp_path)


def test_no_root_anywhere(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="--rlgrade-root DIR"):
        find_root(None, "", None, tmp_path, tmp_path)
