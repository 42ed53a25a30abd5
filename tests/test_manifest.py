"""Tier 1: task manifests, their errors, and the reward spec's selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.errors import ManifestError
from pytest_rlgrade.manifest import (
    MetricSpec,
    RewardSpec,
    discover_tasks,
    is_gate,
    load_task,
    markers_named,
    parse_manifest,
    selector_matches,
    weight_of,
)

MANIFEST = Path("tasks/toy/task.yaml")


def make_task(root: Path, text: str, name: str = "toy", folders: tuple[str, ...] = ("tests",)) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "task.yaml").write_text(text, encoding="utf-8")
    for sub in folders:
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return folder


def manifest_error(data: Any) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        parse_manifest(data, MANIFEST)
    assert str(info.value).startswith(f"{MANIFEST}: ")
    return info.value


# -- valid manifests -------------------------------------------------------------------------------


def test_minimal_manifest_gets_defaults() -> None:
    manifest = parse_manifest({"name": "toy", "package": "toy"}, MANIFEST)
    assert manifest.prompt == "prompt.md"
    assert manifest.public == []
    assert manifest.preload == []
    assert manifest.reward.starter_cap == 0.1
    assert manifest.reward.default_weight == 1.0
    assert manifest.reward.weights == {}
    assert manifest.reward.gates == []
    assert manifest.limits.call_timeout == 10.0
    assert manifest.limits.memory_mb == 2048


def test_full_manifest_from_the_docs(tmp_path: Path) -> None:
    folder = make_task(
        tmp_path,
        """\
name: toy
package: toy_pkg
prompt: prompt.md
public: [tools, data]
preload: [yaml, pydantic]
reward:
  starter_cap: 0.2
  weights:
    "marker:cli": 2.0
    "test_metrics.py::*": 1.5
  gates: ["test_package.py::test_imports"]
  metrics:
    fact_coverage: {target: 0.8333, baseline: 0.0, weight: 2.0}
    latency_ms: {target: 50, baseline: 500, direction: lower}
    speed: {target: 3}
limits:
  call_timeout: 5
  memory_mb: 1024
""",
        folders=("tests", "tools", "data"),
    )
    task = load_task(folder)
    assert task.name == "toy"
    assert task.package == "toy_pkg"
    assert task.folder == folder
    assert task.tests_dir == folder / "tests"
    assert task.manifest_path == folder / "task.yaml"
    assert task.public_paths() == [folder / "tools", folder / "data"]
    reward = task.manifest.reward
    assert reward.starter_cap == 0.2
    assert list(reward.weights) == ["marker:cli", "test_metrics.py::*"]
    assert reward.gates == ["test_package.py::test_imports"]
    assert reward.metrics["fact_coverage"] == MetricSpec(target=0.8333, baseline=0.0, weight=2.0)
    assert reward.metrics["latency_ms"].direction == "lower"
    assert reward.metrics["latency_ms"].baseline == 500
    assert reward.metrics["speed"].baseline == 0.0, "a 'higher' metric without baseline starts from 0"
    assert task.manifest.limits.call_timeout == 5
    assert task.manifest.limits.memory_mb == 1024
    assert task.manifest.limits.test_timeout == 60.0


def test_manifest_is_frozen() -> None:
    manifest = parse_manifest({"name": "toy", "package": "toy"}, MANIFEST)
    with pytest.raises(ValueError, match="frozen"):
        manifest.name = "other"  # type: ignore[misc]


# -- bad manifests: parse_manifest -------------------------------------------------------------------


@pytest.mark.parametrize("data", [None, [], "name: toy", 3])
def test_not_a_mapping(data: Any) -> None:
    error = manifest_error(data)
    assert error.key is None
    assert "must be a mapping" in error.problem


@pytest.mark.parametrize(
    ("data", "key", "problem"),
    [
        ({"name": "toy"}, "package", "Field required"),
        ({"package": "toy"}, "name", "Field required"),
        ({"name": "toy", "package": "toy", "bogus": 1}, "bogus", "unknown key"),
        ({"name": "toy", "package": "toy", "reward": {"wieghts": {}}}, "reward.wieghts", "unknown key"),
        ({"name": "toy", "package": "toy", "limits": {"memory": 1}}, "limits.memory", "unknown key"),
        (
            {"name": "toy", "package": "toy", "reward": {"metrics": {"x": {"target": 1, "goal": 2}}}},
            "reward.metrics.x.goal",
            "unknown key",
        ),
        ({"name": 3, "package": "toy"}, "name", "valid string"),
        ({"name": "toy", "package": "toy", "public": "tools"}, "public", "valid list"),
        ({"name": "toy", "package": "toy", "reward": []}, "reward", "valid dictionary"),
        (
            {"name": "toy", "package": "toy", "reward": {"metrics": {"x": {"target": "fast"}}}},
            "reward.metrics.x.target",
            "valid number",
        ),
        (
            {"name": "toy", "package": "toy", "reward": {"weights": {"test_a.py::*": "heavy"}}},
            "reward.weights.test_a.py::*",
            "valid number",
        ),
        ({"name": "toy", "package": "toy", "limits": {"call_timeout": 0}}, "limits.call_timeout", "greater than 0"),
        ({"name": "toy", "package": "toy", "reward": {"starter_cap": 1.5}}, "reward.starter_cap", "less than or"),
        ({"name": "toy", "package": "toy", "reward": {"gates": "test_a.py"}}, "reward.gates", "valid list"),
        ({"name": "toy", "package": "my-pkg"}, "package", "not a top-level import name"),
        ({"name": "toy", "package": "toy.sub"}, "package", "not a top-level import name"),
        ({"name": "toy", "package": "class"}, "package", "not a top-level import name"),
        ({"name": "a/b", "package": "toy"}, "name", "not a folder name"),
        ({"name": ".hidden", "package": "toy"}, "name", "not a folder name"),
        ({"name": "", "package": "toy"}, "name", "not a folder name"),
    ],
)
def test_bad_value_names_the_key(data: dict[str, Any], key: str, problem: str) -> None:
    error = manifest_error(data)
    assert error.key == key
    assert problem in error.problem
    assert str(error) == f"{MANIFEST}: {key}: {error.problem}"


def metric(**spec: Any) -> dict[str, Any]:
    return {"name": "toy", "package": "toy", "reward": {"metrics": {"speed": spec}}}


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"target": 50, "direction": "lower"}, "direction 'lower' needs a baseline"),
        ({"target": 0.0, "baseline": 1.0}, "direction 'higher' needs target > baseline"),
        ({"target": 1.0, "baseline": 1.0}, "direction 'higher' needs target > baseline"),
        ({"target": -1.0}, "direction 'higher' needs target > baseline"),
        ({"target": 500, "baseline": 50, "direction": "lower"}, "direction 'lower' needs target < baseline"),
    ],
)
def test_inconsistent_metric(spec: dict[str, Any], problem: str) -> None:
    error = manifest_error(metric(**spec))
    assert error.key == "reward.metrics.speed"
    assert problem in error.problem
    assert not error.problem.startswith("Value error"), "pydantic's prefix is dropped"


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"target": float("nan")}, "reward.metrics.speed.target"),
        ({"target": float("inf")}, "reward.metrics.speed.target"),
        ({"target": 1, "baseline": float("nan")}, "reward.metrics.speed.baseline"),
        ({"target": 1, "baseline": float("-inf")}, "reward.metrics.speed.baseline"),
        ({"target": 1, "weight": float("inf")}, "reward.metrics.speed.weight"),
    ],
)
def test_non_finite_metric_numbers(spec: dict[str, Any], key: str) -> None:
    error = manifest_error(metric(**spec))
    assert error.key == key
    assert "finite number" in error.problem


@pytest.mark.parametrize("direction", ["up", "Higher", None])
def test_unknown_direction(direction: Any) -> None:
    error = manifest_error(metric(target=1, direction=direction))
    assert error.key == "reward.metrics.speed.direction"


@pytest.mark.parametrize(
    ("reward", "key"),
    [
        ({"weights": {"marker:cli": -1.0}}, "reward.weights"),
        ({"weights": {"marker:cli": float("nan")}}, "reward.weights.marker:cli"),
        ({"default_weight": -0.5}, "reward.default_weight"),
        ({"metrics": {"speed": {"target": 1, "weight": -2}}}, "reward.metrics.speed.weight"),
    ],
)
def test_negative_weight(reward: dict[str, Any], key: str) -> None:
    error = manifest_error({"name": "toy", "package": "toy", "reward": reward})
    assert error.key == key


def test_negative_weight_names_the_selector() -> None:
    error = manifest_error({"name": "toy", "package": "toy", "reward": {"weights": {"marker:cli": -1}}})
    assert "'marker:cli'" in error.problem
    assert ">= 0" in error.problem


@pytest.mark.parametrize(
    "reward",
    [{"weights": {"test_a.py::*": float("inf")}}, {"metrics": {"speed": {"target": 1, "weight": float("inf")}}}],
)
def test_infinite_weight_is_refused(reward: dict[str, Any]) -> None:
    manifest_error({"name": "toy", "package": "toy", "reward": reward})


@pytest.mark.parametrize(("baseline", "direction"), [(float("inf"), "lower"), (float("-inf"), "higher")])
def test_infinite_baseline_is_refused(baseline: float, direction: str) -> None:
    manifest_error(metric(target=1, baseline=baseline, direction=direction))


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("../other", "must be a path inside the task folder"),
        ("tools/../../x", "must be a path inside the task folder"),
        ("tools/../tests", "must be a path inside the task folder"),
        ("/etc", "must be a path inside the task folder"),
        ("", "must be a path inside the task folder"),
        (".", "must be a path inside the task folder"),
        ("tests", "trusted material"),
        ("tests/helpers", "trusted material"),
        ("./tests", "trusted material"),
        ("hidden", "trusted material"),
        ("hidden/answers.json", "trusted material"),
    ],
)
def test_unsafe_public_path(entry: str, problem: str) -> None:
    error = manifest_error({"name": "toy", "package": "toy", "public": ["tools", entry]})
    assert error.key == "public"
    assert problem in error.problem
    assert repr(entry) in error.problem


@pytest.mark.parametrize("entry", ["tools", "data/inputs", "tests_data", "hidden_gems.txt"])
def test_safe_public_path(entry: str) -> None:
    assert parse_manifest({"name": "toy", "package": "toy", "public": [entry]}, MANIFEST).public == [entry]


# -- bad manifests: load_task ------------------------------------------------------------------------


def test_no_task_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "toy"
    (folder / "tests").mkdir(parents=True)
    with pytest.raises(ManifestError) as info:
        load_task(folder)
    assert info.value.path == str(folder / "task.yaml")
    assert "no such file" in str(info.value)


def test_bad_yaml_gives_the_line(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\nreward: weights: 1\n")
    with pytest.raises(ManifestError) as info:
        load_task(folder)
    message = str(info.value)
    assert message.startswith(f"{folder / 'task.yaml'}: not valid YAML at line 3, column ")
    assert "mapping values are not allowed here" in message
    assert "Traceback" not in message


def test_duplicate_key(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\nreward:\n  gates: [a]\nreward:\n  starter_cap: 0.2\n")
    with pytest.raises(ManifestError, match="reward"):
        load_task(folder)


def test_yaml_that_is_not_utf8(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "")
    (folder / "task.yaml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ManifestError, match="cannot be read"):
        load_task(folder)


@pytest.mark.parametrize("text", ["", "- name: toy\n", "just a string\n"])
def test_yaml_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    folder = make_task(tmp_path, text)
    with pytest.raises(ManifestError, match="must be a mapping of keys") as info:
        load_task(folder)
    assert info.value.path == str(folder / "task.yaml")


def test_deep_wrong_type_from_yaml(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\nreward:\n  metrics:\n    x: {target: [1]}\n")
    with pytest.raises(ManifestError) as info:
        load_task(folder)
    assert info.value.key == "reward.metrics.x.target"
    assert str(info.value).startswith(f"{folder / 'task.yaml'}: reward.metrics.x.target: ")


def test_name_must_equal_the_folder(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: other\npackage: toy\n")
    with pytest.raises(ManifestError) as info:
        load_task(folder)
    assert info.value.key == "name"
    assert "'other' differs from the folder's name 'toy'" in info.value.problem


def test_missing_public_path(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\npublic: [tools, data]\n", folders=("tests", "tools"))
    with pytest.raises(ManifestError) as info:
        load_task(folder)
    assert info.value.key == "public"
    assert "'data' does not exist" in info.value.problem


def test_missing_tests_folder(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\n", folders=())
    with pytest.raises(ManifestError, match="no tests folder") as info:
        load_task(folder)
    assert info.value.path == str(folder / "task.yaml")


def test_tests_must_be_a_folder(tmp_path: Path) -> None:
    folder = make_task(tmp_path, "name: toy\npackage: toy\n", folders=())
    (folder / "tests").write_text("not a folder")
    with pytest.raises(ManifestError, match="no tests folder"):
        load_task(folder)


# -- selectors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "test_id", "markers", "expected"),
    [
        ("marker:cli", "test_a.py::test_x", {"cli"}, True),
        ("marker:cli", "test_a.py::test_x", {"slow"}, False),
        ("marker:cli", "test_a.py::test_x", set(), False),
        ("marker:cli", "marker:cli", set(), False),
        ("test_cli.py::test_run", "test_cli.py::test_run", set(), True),
        ("test_cli.py::test_run", "test_cli.py::test_run_all", set(), False),
        ("test_cli.py::*", "test_cli.py::test_run", set(), True),
        ("test_cli.py::*", "test_cli.py::TestGroup::test_run", set(), True),
        ("test_cli.py::*", "test_other.py::test_run", set(), False),
        ("test_cli.py::*", "sub/test_cli.py::test_run", set(), False),
        ("*::test_run", "test_cli.py::test_run", set(), True),
        ("TEST_CLI.py::*", "test_cli.py::test_run", set(), False),
    ],
)
def test_selector_matches(selector: str, test_id: str, markers: set[str], expected: bool) -> None:
    assert selector_matches(selector, test_id, markers) is expected


@pytest.mark.parametrize(
    ("selector", "test_id", "expected"),
    [
        ("test_x.py::test_y[*]", "test_x.py::test_y[1]", True),
        ("test_x.py::test_y[*]", "test_x.py::test_y[a-b-c]", True),
        ("test_x.py::test_y[*]", "test_x.py::test_y", False),
        ("test_x.py::test_y[*]", "test_x.py::test_y*", False),
        ("test_x.py::test_y[a-b]", "test_x.py::test_y[a-b]", True),
        ("test_x.py::test_y[a-b]", "test_x.py::test_ya", False),
        ("test_x.py::test_y[?]", "test_x.py::test_y[7]", True),
        ("test_x.py::test_y[?]", "test_x.py::test_y[77]", False),
        ("test_x.py::test_y[!a]", "test_x.py::test_y[!a]", True),
        ("test_x.py::test_y[!a]", "test_x.py::test_yb", False),
        ("test_x.py::test_y[*]", "test_x.py::test_y[a\nb]", True),
        ("test_(x).py::+", "test_(x).py::+", True),
    ],
)
def test_selector_brackets_are_literal(selector: str, test_id: str, expected: bool) -> None:
    assert selector_matches(selector, test_id, set()) is expected


def test_weight_first_match_wins() -> None:
    spec = RewardSpec(weights={"marker:cli": 2.0, "test_cli.py::*": 3.0, "*": 0.5})
    assert weight_of(spec, "test_cli.py::test_run", {"cli"}) == 2.0
    assert weight_of(spec, "test_cli.py::test_run", set()) == 3.0
    assert weight_of(spec, "test_other.py::test_run", set()) == 0.5


def test_weight_order_is_the_manifest_order(tmp_path: Path) -> None:
    folder = make_task(tmp_path, 'name: toy\npackage: toy\nreward:\n  weights:\n    "*": 0.5\n    "marker:cli": 2.0\n')
    spec = load_task(folder).manifest.reward
    assert weight_of(spec, "test_cli.py::test_run", {"cli"}) == 0.5


def test_weight_default() -> None:
    assert weight_of(RewardSpec(), "test_a.py::test_x", {"cli"}) == 1.0
    spec = RewardSpec(default_weight=0.25, weights={"marker:cli": 2.0})
    assert weight_of(spec, "test_a.py::test_x", {"slow"}) == 0.25
    assert weight_of(spec, "test_a.py::test_x", {"cli"}) == 2.0


def test_weight_zero_is_kept() -> None:
    spec = RewardSpec(weights={"marker:optional": 0.0})
    assert weight_of(spec, "test_a.py::test_x", {"optional"}) == 0.0


def test_is_gate() -> None:
    spec = RewardSpec(gates=["test_package.py::test_imports", "marker:gate"])
    assert is_gate(spec, "test_package.py::test_imports", set())
    assert is_gate(spec, "test_other.py::test_x", {"gate"})
    assert not is_gate(spec, "test_package.py::test_imports_more", set())
    assert not is_gate(RewardSpec(), "test_package.py::test_imports", {"gate"})


def test_markers_named() -> None:
    spec = RewardSpec(weights={"marker:cli": 2.0, "test_a.py::*": 1.0}, gates=["marker:gate", "marker:cli", "x"])
    assert markers_named(spec) == {"cli", "gate"}
    assert markers_named(RewardSpec()) == set()


# -- discovery ---------------------------------------------------------------------------------------


def test_discover_tasks(tmp_path: Path) -> None:
    for name in ("beta", "alpha"):
        make_task(tmp_path, f"name: {name}\npackage: {name}\n", name=name)
    (tmp_path / "notes").mkdir()
    (tmp_path / "README.md").write_text("not a task")
    (tmp_path / "gamma" / "deeper").mkdir(parents=True)
    (tmp_path / "gamma" / "deeper" / "task.yaml").write_text("name: deeper\n")
    found = discover_tasks(tmp_path)
    assert found == {"alpha": tmp_path / "alpha", "beta": tmp_path / "beta"}
    assert list(found) == ["alpha", "beta"]


def test_discover_does_not_validate(tmp_path: Path) -> None:
    make_task(tmp_path, ": not yaml [", name="broken")
    assert discover_tasks(tmp_path) == {"broken": tmp_path / "broken"}


def test_discover_without_a_tasks_folder(tmp_path: Path) -> None:
    assert discover_tasks(tmp_path / "missing") == {}
    (tmp_path / "file").write_text("")
    assert discover_tasks(tmp_path / "file") == {}
