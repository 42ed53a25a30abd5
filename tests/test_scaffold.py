"""``rlgrade new``: what it writes, and what it refuses."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pytest_rlgrade import cli
from pytest_rlgrade.manifest import load_task
from pytest_rlgrade.scaffold import ScaffoldError, planned_files, scaffold


def test_new_task_has_every_part(tmp_path: Path) -> None:
    folders = scaffold(tmp_path, "word_game")
    assert folders == [tmp_path / "tasks/word_game", tmp_path / "starter/word_game", tmp_path / "reference/word_game"]
    task = load_task(tmp_path / "tasks" / "word_game")
    assert task.package == "word_game"
    assert task.manifest.reward.gates == ["test_api.py::test_imports"]
    assert (tmp_path / "tasks/word_game/prompt.md").is_file()
    assert (tmp_path / "tasks/word_game/data/sample.txt").is_file()
    tests = sorted(p.name for p in (tmp_path / "tasks/word_game/tests").iterdir())
    assert tests == ["conftest.py", "helpers.py", "test_api.py", "test_cli.py", "test_stats.py", "test_tally.py"]
    for side in ("starter", "reference"):
        modules = sorted(p.name for p in (tmp_path / side / "word_game" / "word_game").iterdir())
        assert modules == ["__init__.py", "cli.py", "stats.py", "tally.py"]


def test_placeholders_are_all_replaced_and_the_code_parses(tmp_path: Path) -> None:
    scaffold(tmp_path, "tally_ho", package="tallies")
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written
    for path in written:
        text = path.read_text()
        for placeholder in ("__NAME__", "__PACKAGE__"):
            assert placeholder not in text, path
            assert placeholder not in str(path)
        if path.suffix == ".py":
            ast.parse(text, str(path))
    assert (tmp_path / "reference/tally_ho/tallies/stats.py").is_file()
    conftest = (tmp_path / "tasks/tally_ho/tests/conftest.py").read_text()
    assert 'load_trusted(Path(__file__).with_name("helpers.py"), "tally_ho_helpers")' in conftest
    assert "from tally_ho_helpers import" in (tmp_path / "tasks/tally_ho/tests/test_stats.py").read_text()
    assert 'submission.module("tallies.stats")' in (tmp_path / "tasks/tally_ho/tests/test_stats.py").read_text()


def test_the_tests_show_each_fixture() -> None:
    text = "\n".join(t for p, t in planned_files("shown", "shown").items() if p.parts[-2] == "tests")
    for needle in (
        "submission.module(",
        "submission.getattr(",
        "submission.instance(",
        "submission.raises(",
        "submission.run_cli(",
        "submission.read_json(",
        "submission.public_dir",
        "submission.workdir",
        "rlgrade_rng",
        "metric(",
        "@given(",
        "@pytest.mark.hidden",
        "load_trusted(",
    ):
        assert needle in text, needle


def test_it_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "reference" / "taken").mkdir(parents=True)
    with pytest.raises(ScaffoldError, match=r"reference/taken already exists: rlgrade new never overwrites"):
        scaffold(tmp_path, "taken")
    assert not (tmp_path / "tasks").exists(), "nothing is written when one folder exists"
    assert not (tmp_path / "starter").exists()


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Words", "lower-case letters"),
        ("word-game", "lower-case letters"),
        ("2words", "starting with a letter"),
        ("", "lower-case letters"),
        ("a" * 51, "1 to 50"),
        ("class", "keyword"),
        ("../up", "lower-case letters"),
    ],
)
def test_bad_names_are_refused(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        scaffold(tmp_path, name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("package", "problem"),
    [
        ("json", "standard library"),
        ("pytest", "installed module"),
        ("my-pkg", "not a top-level import name"),
        ("def", "not a top-level import name"),
        ("Pkg", "lower-case"),
    ],
)
def test_bad_packages_are_refused(tmp_path: Path, package: str, problem: str) -> None:
    with pytest.raises(ScaffoldError, match=problem):
        scaffold(tmp_path, "fine", package=package)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["new", "cli_made", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "created tasks/cli_made/" in out
    assert "rlgrade validate cli_made" in out
    assert cli.main(["new", "cli_made", "--root", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["new", "Bad", "--root", str(tmp_path)]) == 2
    assert "rlgrade new: task name 'Bad'" in capsys.readouterr().err
    assert cli.main(["new", "fine", "--root", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
