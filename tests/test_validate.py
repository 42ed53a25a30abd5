"""``rlgrade validate``: each check's verdict on synthetic gradings, the exploit corpus, and (slow)
the whole command on a task scaffolded in a fresh folder."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rlgrade import cli, validate
from pytest_rlgrade.errors import ManifestError
from pytest_rlgrade.manifest import load_task
from pytest_rlgrade.scaffold import scaffold
from pytest_rlgrade.validate import Check, Exploit, Graded

ROOT = Path(__file__).resolve().parent.parent


def graded(reward: float | None, passed: int = 0, failed: int = 0, **metrics: float) -> Graded:
    outcomes = {f"test_a.py::test_{i}": "passed" for i in range(passed)}
    outcomes |= {f"test_b.py::test_{i}": "failed" for i in range(failed)}
    return Graded(reward, outcomes, {k: (v, v) for k, v in metrics.items()}, ())


@pytest.fixture
def task(tmp_path: Path):
    scaffold(tmp_path, "demo")
    return load_task(tmp_path / "tasks" / "demo")


# -- reading reports ------------------------------------------------------------------------------


def test_a_report_becomes_what_the_checks_compare() -> None:
    data = {
        "reward": 0.5,
        "tasks": [
            {
                "name": "demo",
                "reward": 0.5,
                "flags": ["timeout"],
                "tests": [
                    {"node_id": "tasks/demo/tests/test_a.py::test_x[1]", "outcome": "passed", "duration": 0.1},
                    {"node_id": "tasks/demo/tests/test_a.py::test_y", "outcome": "timeout", "duration": 9.0},
                ],
                "metrics": [{"name": "m", "value": 0.25, "credit": 0.5}],
            }
        ],
    }
    result = validate.graded_from_report(data, "demo")
    assert result.reward == 0.5
    assert result.outcomes == {"test_a.py::test_x[1]": "passed", "test_a.py::test_y": "timeout"}
    assert result.metrics == {"m": (0.25, 0.5)}
    assert result.flags == ("timeout",)
    assert result.passed == ["test_a.py::test_x[1]"]
    slower = json.loads(json.dumps(data))
    slower["tasks"][0]["tests"][0]["duration"] = 5.0
    slower["tasks"][0]["tests"][1]["message"] = "a different message"
    assert validate.graded_from_report(slower, "demo").fingerprint() == result.fingerprint()
    assert validate.graded_from_report(None, "demo", "exit status 4").reward is None
    assert validate.graded_from_report(data, "other").error == "the report has no task 'other'"


# -- the checks -----------------------------------------------------------------------------------


def test_selectors_must_each_pick_a_test(task) -> None:
    collected = {"test_api.py::test_imports": set(), "test_cli.py::test_x": {"cli"}, "test_stats.py::test_y": set()}
    assert validate.check_selectors(task, collected).passed
    del collected["test_cli.py::test_x"]
    check = validate.check_selectors(task, collected)
    assert not check.passed
    assert check.details == ["weight selector 'marker:cli' picks no test"]
    only_gate = {"test_api.py::test_imports": set()}
    check = validate.check_selectors(task, only_gate)
    assert "weight selector 'test_stats.py::*' picks no test" in check.details


def test_a_shadowed_weight_never_applies(tmp_path: Path) -> None:
    scaffold(tmp_path, "shadow")
    manifest = tmp_path / "tasks" / "shadow" / "task.yaml"
    text = manifest.read_text().replace('"test_api.py::*": 0.5', '"test_*.py::*": 0.5')
    manifest.write_text(text)
    task = load_task(manifest.parent)
    check = validate.check_selectors(task, {"test_api.py::test_imports": set(), "test_cli.py::t": {"cli"}})
    assert not check.passed
    assert "weight selector 'marker:cli' never applies: earlier selectors pick all its tests" in check.details


def test_reference_check() -> None:
    assert validate.check_reference([1, 2], [graded(1.0, 3), graded(1.0, 3)]).passed
    check = validate.check_reference([1, 2], [graded(1.0, 3), graded(0.75, 2, 1)])
    assert not check.passed
    assert check.figure == "below 1.0 on 1 of 2 seeds (lowest 0.7500)"
    assert check.details == ["seed 2: reward 0.7500: test_b.py::test_0: failed"]
    assert not validate.check_reference([1], [Graded(None, {}, {}, (), "boom")]).passed


def test_starter_check(task) -> None:
    assert validate.check_starter(task, graded(0.1, 1, 9)).passed
    check = validate.check_starter(task, graded(0.2, 2, 8))
    assert not check.passed
    assert check.figure == "0.2000 > cap 0.1000"


def test_determinism_compares_outcomes_reward_metrics_and_flags() -> None:
    a = graded(0.5, 2, 2, m=0.5)
    assert validate.check_determinism([("starter", 7, a, graded(0.5, 2, 2, m=0.5))]).passed
    flipped = Graded(0.5, {**a.outcomes, "test_a.py::test_0": "failed"}, a.metrics, ())
    check = validate.check_determinism([("starter", 7, a, flipped)])
    assert not check.passed
    assert check.details == ["starter, seed 7: test_a.py::test_0 passed then failed"]
    check = validate.check_determinism([("reference", 3, a, graded(0.5, 2, 2, m=0.75))])
    assert "reference, seed 3: metric m (0.5, 0.5) then (0.75, 0.75)" in check.details


def test_free_credit_check() -> None:
    assert validate.check_free_credit(graded(0.0, 0, 5), graded(0.0, 0, 5)).passed
    check = validate.check_free_credit(graded(0.2, 1, 4), graded(0.0, 0, 5))
    assert not check.passed
    assert check.details == ["test_a.py::test_0 passes with no package"]


def test_exploits_must_not_beat_the_starter() -> None:
    starter = graded(0.05, 1, 9)
    assert validate.check_exploits(starter, [("a", graded(0.05, 1, 9)), ("b", graded(0.0, 0, 10))]).passed
    check = validate.check_exploits(starter, [("a", graded(0.3, 3, 7))])
    assert not check.passed
    assert check.details[0].startswith("a: 0.3000, passes test_a.py::test_1")
    assert not validate.check_exploits(starter, [("c", Graded(None, {}, {}, (), "crashed"))]).passed


def test_check_lines() -> None:
    assert Check("reference", True, "1.0 on 5 of 5 seeds").lines() == ["  ok    reference     1.0 on 5 of 5 seeds"]
    assert Check("kill rate", False, "0.5", ["survivor x"]).lines() == [
        "  FAIL  kill rate     0.5",
        "          survivor x",
    ]


# -- the exploit corpus -----------------------------------------------------------------------------


STARTER_MODULE = (
    '"""A starter module."""\n\nfrom __future__ import annotations\n\n\ndef f(x):\n    raise NotImplementedError\n'
)


def test_the_shipped_corpus_loads_and_applies_cleanly(tmp_path: Path) -> None:
    exploits = validate.load_exploits()
    names = {e.name for e in exploits}
    assert {"always_equal", "forged_report", "exit_at_import", "conftest_drop", "sitecustomize_drop"} <= names
    assert len(exploits) >= 15
    for exploit in exploits:
        folder = tmp_path / exploit.name
        (folder / "pkg").mkdir(parents=True)
        (folder / "pkg" / "__init__.py").write_text(STARTER_MODULE)
        exploit.apply(folder, "pkg")
        for module in folder.rglob("*.py"):
            if not module.is_symlink():
                ast.parse(module.read_text(), str(module))  # every changed module still compiles
        text = "".join(p.read_text() for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        assert "__PACKAGE__" not in text
        assert exploit.description


def test_prepended_code_comes_after_the_docstring_and_future_imports(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text(STARTER_MODULE)
    Exploit("x", "d", prepend="FIRST = __PACKAGE__\n", append="LAST = 1\n").apply(tmp_path, "pkg")
    body = ast.parse((tmp_path / "pkg" / "m.py").read_text()).body
    assert isinstance(body[0], ast.Expr)
    assert isinstance(body[1], ast.ImportFrom)
    assert ast.unparse(body[2]) == "FIRST = pkg"
    assert ast.unparse(body[-1]) == "LAST = 1"


def test_exploit_files_are_checked(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("description: x\nfiels: {}\n")
    with pytest.raises(ManifestError, match=r"bad.yaml: fiels: unknown key"):
        validate.load_exploits(tmp_path)
    (tmp_path / "bad.yaml").write_text("files: {a.py: 1}\ndescription: x\n")
    with pytest.raises(ManifestError, match="files: must map paths to text"):
        validate.load_exploits(tmp_path)
    (tmp_path / "bad.yaml").write_text("files: {}\n")
    with pytest.raises(ManifestError, match="description"):
        validate.load_exploits(tmp_path)


def test_distributions_map_to_their_modules() -> None:
    assert validate.importable_names("pyyaml") == ["yaml"]
    assert "pydantic" in validate.importable_names("pydantic")
    with pytest.raises(LookupError, match="not-a-real-distribution is not installed"):
        validate.importable_names("not-a-real-distribution")


# -- the command ----------------------------------------------------------------------------------


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "--root", str(tmp_path)]) == 2
    assert "no tasks under" in capsys.readouterr().err
    scaffold(tmp_path, "known")
    assert cli.main(["validate", "unknown", "--root", str(tmp_path)]) == 2
    assert "no task named unknown" in capsys.readouterr().err
    assert cli.main(["validate", "--seeds", "0", "--root", str(tmp_path)]) == 2
    assert "--seeds must be at least 1" in capsys.readouterr().err


def _layout(tmp_path: Path) -> Path:
    """A repository layout of its own: tasks/, starter/, reference/ and the project's pyproject."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _validate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_rlgrade", "validate", *args, "--root", str(root), "--out", str(root / "out")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.slow
def test_a_scaffolded_task_validates_at_once(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    scaffold(root, "fresh")
    done = _validate(root, "fresh", "--seeds", "2", "--seed", "11", "--mutants", "12")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("fresh: seed 11 (replay with --seed 11)")
    for check in ("selectors", "reference", "starter", "determinism", "dependencies", "free credit", "exploits"):
        assert any(line.startswith(f"  ok    {check}") for line in lines), (check, done.stdout)
    assert any(line.startswith("  ok    kill rate     1.0000 (12 of 12 killed)") for line in lines), done.stdout
    assert lines[-1].startswith("  fresh: all checks pass in")


@pytest.mark.slow
def test_a_test_that_never_uses_the_submission_fails_the_task(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    scaffold(root, "leaky")
    tests = root / "tasks" / "leaky" / "tests"
    (tests / "test_free.py").write_text("def test_nothing(submission):\n    assert True\n")
    done = _validate(root, "leaky", "--skip", "reference", "--skip", "determinism", "--skip", "dependencies",
                     "--skip", "exploits", "--skip", "kill-rate", "--seed", "1")  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "  ok    selectors" in out
    assert "  FAIL  free credit" in out
    # (the harness may refuse to run anything for a submission without its package at all)
    assert "test_free.py::test_nothing passes with an empty package" in out
    assert "  ok    starter" in out
    assert "leaky: FAILED" in out
