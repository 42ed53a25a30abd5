"""Tier 1: the report models, the shipped JSON Schema, and atomic writing."""

from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_rlgrade import report as report_module
from pytest_rlgrade.report import (
    SCHEMA_PATH,
    SCHEMA_VERSION,
    Counts,
    Flag,
    MetricResult,
    Outcome,
    Report,
    SandboxInfo,
    TaskReport,
    report_schema,
    validate_report_data,
    write_report,
    write_report_data,
)

# Not imported under its own name, which pytest would try to collect as a test class.
ResultOfOneTest = report_module.TestResult


def test_shipped_schema_matches_the_models() -> None:
    shipped = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert shipped == report_schema(), (
        "pytest_rlgrade/report.schema.json is out of step with the report models: "
        "run `python -m pytest_rlgrade.report --write-schema` and commit the result"
    )


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(report_schema())


def test_main_prints_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert report_module.main([]) == 0
    assert json.loads(capsys.readouterr().out) == report_schema()


# -- generated reports -------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0, max_value=1)
counts = st.integers(min_value=0, max_value=10**6)
texts = st.text(max_size=20)

test_results = st.builds(
    ResultOfOneTest,
    node_id=texts,
    outcome=st.sampled_from(get_args(Outcome)),
    weight=non_negative,
    gate=st.booleans(),
    duration=non_negative,
    message=st.none() | texts,
)
metric_results = st.builds(
    MetricResult,
    name=texts,
    value=st.none() | finite,
    target=finite,
    baseline=finite,
    direction=st.sampled_from(["higher", "lower"]),
    weight=non_negative,
    credit=unit,
)
task_reports = st.builds(
    TaskReport,
    name=texts,
    reward=st.none() | unit,
    flags=st.lists(st.sampled_from(get_args(Flag)), max_size=3),
    error=st.none() | texts,
    counts=st.builds(Counts, total=counts, passed=counts, failed=counts, missing=counts),
    duration=non_negative,
    tests=st.lists(test_results, max_size=3),
    metrics=st.lists(metric_results, max_size=2),
)
reports = st.builds(
    Report,
    submission=texts,
    submission_path=texts,
    seed=st.integers(min_value=-(2**70), max_value=2**70),
    reward=st.none() | unit,
    exit_status=st.integers(min_value=-255, max_value=255),
    duration=non_negative,
    sandbox=st.builds(
        SandboxInfo, isolation=st.sampled_from(["sandbox", "none"]), confinement=st.lists(texts, max_size=3)
    ),
    tasks=st.lists(task_reports, max_size=3),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(report=reports)
def test_any_report_validates_and_round_trips(report: Report) -> None:
    data = report.model_dump(mode="json")
    assert data["schema_version"] == SCHEMA_VERSION
    text = json.dumps(data, allow_nan=False)
    validate_report_data(json.loads(text))
    assert Report.model_validate(json.loads(text)) == report


def a_report(**changes: Any) -> dict[str, Any]:
    test = ResultOfOneTest(
        node_id="tasks/toy/tests/test_a.py::test_x", outcome="failed", weight=1.0, duration=0.5, message="assert 1 == 2"
    )
    metric = MetricResult(
        name="speed", value=3.0, target=10.0, baseline=0.0, direction="higher", weight=1.0, credit=0.3
    )
    task = TaskReport(
        name="toy",
        reward=0.15,
        flags=["timeout"],
        counts=Counts(total=1, passed=0, failed=1, missing=0),
        duration=1.0,
        tests=[test],
        metrics=[metric],
    )
    report = Report(
        submission="starter",
        submission_path="/x/starter",
        seed=7,
        reward=0.15,
        exit_status=0,
        duration=1.5,
        sandbox=SandboxInfo(isolation="sandbox", confinement=["rlimits"]),
        tasks=[task],
    )
    data = report.model_dump(mode="json")
    data.update(changes)
    return data


def test_a_report_is_valid() -> None:
    validate_report_data(a_report())


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("reward",), 1.5),
        (("reward",), -0.1),
        (("reward",), "1"),
        (("schema_version",), 2),
        (("seed",), 1.5),
        (("sandbox", "isolation"), "docker"),
        (("tasks", 0, "reward"), 1.5),
        (("tasks", 0, "flags", 0), "bogus"),
        (("tasks", 0, "counts", "passed"), -1),
        (("tasks", 0, "tests", 0, "outcome"), "exploded"),
        (("tasks", 0, "tests", 0, "outcome"), "PASSED"),
        (("tasks", 0, "tests", 0, "weight"), -1.0),
        (("tasks", 0, "metrics", 0, "credit"), 1.01),
        (("tasks", 0, "metrics", 0, "direction"), "sideways"),
    ],
)
def test_invalid_data_fails_validation(where: tuple[Any, ...], value: Any) -> None:
    data = a_report()
    node = data
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validate_report_data(data)


@pytest.mark.parametrize(
    "key", ["submission", "seed", "reward", "sandbox", "tasks", "exit_status", "duration", "submission_path"]
)
def test_a_missing_required_key_fails_validation(key: str) -> None:
    data = a_report()
    del data[key]
    with pytest.raises(jsonschema.ValidationError):
        validate_report_data(data)


def test_null_reward_is_valid() -> None:
    data = a_report(reward=None)
    data["tasks"][0]["reward"] = None
    validate_report_data(data)


def test_unknown_keys_are_allowed_by_the_schema() -> None:
    data = a_report(ci_run="1234")
    data["sandbox"]["kernel"] = "6.1"
    data["tasks"][0]["owner"] = "someone"
    data["tasks"][0]["tests"][0]["stdout"] = "..."
    data["tasks"][0]["metrics"][0]["unit"] = "ms"
    data["tasks"][0]["counts"]["flaky"] = 0
    validate_report_data(data)


def test_the_models_still_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError, match="ci_run"):
        Report.model_validate(a_report(ci_run="1234"))


# -- atomic writing ----------------------------------------------------------------------------------


def test_write_report_round_trips(tmp_path: Path) -> None:
    data = a_report()
    path = tmp_path / "deeper" / "report.json"
    write_report(Report.model_validate(data), path)
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert path.read_text(encoding="utf-8").endswith("\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(path.parent) == ["report.json"]


def test_write_replaces_an_existing_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")
    write_report_data({"new": True}, path)
    assert json.loads(path.read_text()) == {"new": True}
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize("existing", [None, '{"old": true}\n'])
def test_write_goes_through_a_complete_temporary_file_in_the_same_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str | None
) -> None:
    path = tmp_path / "report.json"
    if existing is not None:
        path.write_text(existing)
    data = a_report()
    renames: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(source: str, target: str) -> None:
        # At the moment of the rename the target is still what it was, and the temporary file
        # beside it already holds the whole report.
        assert Path(source).parent == tmp_path
        assert Path(source) != path
        assert json.loads(Path(source).read_text()) == data
        if existing is None:
            assert not path.exists()
        else:
            assert path.read_text() == existing
        renames.append((str(source), str(target)))
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", spy)
    write_report_data(data, path)
    assert len(renames) == 1
    assert Path(renames[0][1]) == path
    assert json.loads(path.read_text()) == data
    assert os.listdir(tmp_path) == ["report.json"]


@pytest.mark.parametrize(
    ("bad", "error"),
    [({"reward": float("nan")}, ValueError), ({"reward": float("inf")}, ValueError), ({"x": object()}, TypeError)],
)
def test_failed_serialisation_leaves_the_old_report(tmp_path: Path, bad: dict[str, Any], error: type) -> None:
    path = tmp_path / "report.json"
    path.write_text('{"old": true}\n')
    data = a_report(tasks=[])
    data.update(bad)
    with pytest.raises(error):
        write_report_data(data, path)
    assert path.read_text() == '{"old": true}\n'
    assert os.listdir(tmp_path) == ["report.json"]


def test_failed_serialisation_creates_no_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    with pytest.raises(ValueError, match="JSON compliant"):
        write_report_data({"reward": float("nan")}, path)
    assert os.listdir(tmp_path) == []


def test_an_interrupt_while_writing_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "report.json"
    path.write_text("old")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report_data(a_report(), path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["report.json"]


def test_write_does_not_change_the_data(tmp_path: Path) -> None:
    data = a_report()
    before = copy.deepcopy(data)
    write_report_data(data, tmp_path / "r.json")
    assert data == before


def test_a_durable_write_syncs_and_a_handoff_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    write_report_data(a_report(), tmp_path / "durable.json")
    assert len(synced) == 1
    write_report_data(a_report(), tmp_path / "handoff.json", durable=False)
    assert len(synced) == 1  # a grader worker's report is read back at once: no sync
    assert json.loads((tmp_path / "handoff.json").read_text()) == a_report()
    assert sorted(os.listdir(tmp_path)) == ["durable.json", "handoff.json"]
