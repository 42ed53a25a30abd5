"""The metric_tracker task: its hidden generator and grader, and its reference, starter and scripted
baseline graded end to end."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_rlgrade import load_trusted

ROOT = Path(__file__).resolve().parent.parent
TASK = ROOT / "tasks" / "metric_tracker"
SCENARIOS = ("easy_single_spike", "medium_mixed_pair", "hard_mixed_multi")


# The task's trusted package, loaded by path under the name its own tests use.
hidden = load_trusted(TASK / "hidden", "metric_tracker_hidden")
analysis = sys.modules["metric_tracker_hidden.analysis"]
generator = sys.modules["metric_tracker_hidden.generator"]


def _labels(name: str = "hard_mixed_multi", seed: int = 7) -> list[dict]:
    return hidden.generate_scenario(name, seed)["labels"]


# ---- the generator ---------------------------------------------------------------------------


def test_generator_is_deterministic_for_a_config():
    config = {"seed": 42, "scenario_family": "mixed_multi", "difficulty": "hard", "anomaly_density": "high"}
    first, second = hidden.generate_dataset(config), hidden.generate_dataset(dict(config))
    assert first == second
    other = hidden.generate_dataset({**config, "seed": 43})
    assert other["daily"] != first["daily"]
    assert hidden.generate_dataset({**config, "difficulty": "easy"})["daily"] != first["daily"]


@pytest.mark.parametrize("seed", range(8))
def test_named_scenarios_plant_what_they_promise(seed):
    for name in SCENARIOS:
        ds = hidden.generate_scenario(name, seed)
        assert len(ds["daily"]) == 28
        assert len(ds["hourly"]) == 28 * 24
        families = [label["anomaly_type"] for label in ds["labels"]]
        assert len({label["date"] for label in ds["labels"]}) == len(families), "one anomaly per date"
        if name == "easy_single_spike":
            assert families == ["absolute_spike_in_event_count"] * 2
            assert all(label["entity_name"] != "app_open" for label in ds["labels"])
        elif name == "medium_mixed_pair":
            counts = [f for f in families if f in generator.COUNT_FAMILIES]
            rates = [f for f in families if f in generator.RATE_FAMILIES]
            assert len(families) == 3
            assert len(counts) == 1
            assert len(rates) == 2
            assert len(set(rates)) == 1
        else:
            assert len(families) == 4
            assert set(families) & set(generator.STRUCTURAL_FAMILIES)
            assert set(families) & set(generator.COUNT_FAMILIES)
            assert set(families) & set(generator.RATE_FAMILIES)


@pytest.mark.parametrize("family", generator.ALL_FAMILIES + ("single_spike", "mixed_pair", "mixed_multi"))
@pytest.mark.parametrize("difficulty", ["easy", "medium", "hard"])
def test_planted_anomalies_are_cleanly_separable(family, difficulty):
    """The careful detector of the spec finds exactly the labels, and no label sits near a
    severity boundary (what lets the reference earn 1.0 on every seed)."""
    for seed in range(4):
        ds = hidden.generate_dataset(
            {"seed": seed, "scenario_family": family, "difficulty": difficulty, "anomaly_density": "high"}
        )
        found = hidden.Analysis(ds["daily"], ds["hourly"]).detect_anomalies()
        assert found == ds["labels"]
        assert hidden.grade_rows(found, ds["labels"])["score"] == 1.0


def test_generator_rejects_unknown_configs():
    with pytest.raises(ValueError, match="scenario_family"):
        hidden.generate_dataset({"seed": 1, "scenario_family": "everything"})
    with pytest.raises(ValueError, match="difficulty"):
        hidden.generate_dataset({"seed": 1, "difficulty": "brutal"})


# ---- the grader ------------------------------------------------------------------------------


def test_perfect_rows_score_one_in_any_order():
    labels = _labels()
    assert hidden.grade_rows(copy.deepcopy(labels), labels)["score"] == 1.0
    assert hidden.grade_rows(list(reversed(labels)), labels)["score"] == 1.0


def test_empty_and_malformed_reports_score_zero():
    labels = _labels()
    assert hidden.grade_rows([], labels)["score"] == 0.0
    for report in (None, 0.0, "rows", {"rows": labels}, [None], [[1, 2]]):
        assert hidden.grade_rows(report, labels)["score"] == 0.0


def _extra_row(labels: list[dict], day: int) -> dict:
    row = copy.deepcopy(labels[0])
    row.update(date=f"2030-01-{day:02d}")
    return row


def test_extra_rows_are_penalised_more_the_more_there_are():
    labels = _labels()
    scores = [
        hidden.grade_rows(labels + [_extra_row(labels, d + 1) for d in range(n)], labels)["score"] for n in range(5)
    ]
    assert scores[0] == 1.0
    assert all(a > b for a, b in zip(scores, scores[1:], strict=False)), scores


def test_duplicate_rows_are_penalised_and_only_the_first_counts():
    labels = _labels()
    assert hidden.grade_rows(labels + [copy.deepcopy(labels[0])], labels)["score"] < 1.0
    hedge = copy.deepcopy(labels[0])
    hedge["anomaly_type"] = (
        "rate_drop_from_median" if hedge["anomaly_type"] != "rate_drop_from_median" else "funnel_break"
    )
    hedged = hidden.grade_rows([hedge] + labels, labels)  # the wrong guess first: it is the one graded
    single = hidden.grade_rows([hedge] + labels[1:], labels)
    assert hedged["duplicates"] == 1
    assert single["duplicates"] == 0
    assert hedged["score"] < single["score"] < 1.0


def test_invalid_rows_are_penalised():
    labels = _labels()
    broken = copy.deepcopy(labels[0])
    del broken["severity"]
    for bad in (
        broken,
        {**labels[0], "observed_value": float("nan")},
        {**labels[0], "baseline_value": True},
        {**labels[0], "severity": "apocalyptic"},
        {**labels[0], "date": "21/11/2026"},
        "row",
    ):
        result = hidden.grade_rows(labels + [bad], labels)
        assert result["invalid"] == 1
        assert result["score"] < 1.0


def test_mass_submission_scores_zero():
    labels = _labels()
    flood = labels + [_extra_row(labels, d % 28 + 1) | {"entity_name": f"e{d}"} for d in range(60)]
    result = hidden.grade_rows(flood, labels)
    assert result["mass_submission"]
    assert result["score"] == 0.0


@pytest.mark.parametrize(
    "field",
    ["entity_type", "anomaly_type", "detection_method", "baseline_value", "observed_value", "delta_value", "severity"],
)
def test_each_wrong_field_costs(field):
    labels = _labels()
    rows = copy.deepcopy(labels)
    value = rows[0][field]
    rows[0][field] = (
        value * 1.5 + 1.0
        if isinstance(value, float)
        else {
            "entity_type": "data_quality" if value != "data_quality" else "hourly_mix",
            "anomaly_type": "funnel_break" if value != "funnel_break" else "rate_drop_from_median",
            "detection_method": "check_impossible_counts"
            if value != "check_impossible_counts"
            else "detect_funnel_break",
            "severity": "low" if value != "low" else "critical",
        }[field]
    )
    score = hidden.grade_rows(rows, labels)["score"]
    assert 0.5 < score < 1.0


def test_values_within_tolerance_are_accepted():
    labels = _labels()
    rows = copy.deepcopy(labels)
    for row in rows:
        row["baseline_value"] = (
            round(row["baseline_value"], 4) if abs(row["baseline_value"]) > 1 else row["baseline_value"]
        )
        row["observed_value"] *= 1 + 1e-4
    assert hidden.grade_rows(rows, labels)["score"] == 1.0


_keys = st.sampled_from(analysis.ROW_KEYS)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(analysis.SEVERITIES + tuple(analysis.FAMILIES)),
)


@settings(max_examples=150, deadline=None)
@given(
    keep=st.lists(st.booleans(), min_size=4, max_size=4),
    extra=st.lists(st.dictionaries(_keys, _values, max_size=9), max_size=20),
    edits=st.lists(st.tuples(st.integers(0, 3), _keys, _values), max_size=6),
    duplicates=st.integers(0, 3),
)
def test_score_is_always_in_the_unit_interval(keep, extra, edits, duplicates):
    labels = _labels()
    rows = [copy.deepcopy(label) for label, k in zip(labels, keep, strict=True) if k]
    for index, key, value in edits:
        if rows:
            rows[index % len(rows)][key] = value
    rows += extra + [copy.deepcopy(r) for r in rows[:duplicates]]
    result = hidden.grade_rows(rows, labels)
    assert 0.0 <= result["score"] <= 1.0
    if result["score"] == 1.0:
        assert len(rows) == len(labels)
        assert all(keep)


# ---- the shipped submissions -----------------------------------------------------------------


def test_baseline_analysis_surface_is_the_references():
    """The scripted baseline uses the environment's analysis methods: a copy kept in step."""
    ours = TASK / "baseline" / "metric_tracker" / "metric_tracker" / "investigator.py"
    reference = ROOT / "reference" / "metric_tracker" / "metric_tracker" / "investigator.py"
    assert ours.read_text() == reference.read_text()


def _metrics(graded) -> dict[str, float]:
    return {m["name"]: m["value"] for m in graded.task("metric_tracker")["metrics"]}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reference_earns_full_reward(grade, seed):
    graded = grade("reference", "metric_tracker", f"--rlgrade-seed={seed}", "--min-reward=1.0")
    assert graded.exit_code == 0, graded.output
    assert graded.task("metric_tracker")["reward"] == 1.0
    assert _metrics(graded) == dict.fromkeys(SCENARIOS, 1.0)


@pytest.mark.slow
def test_starter_earns_at_most_its_cap(grade):
    graded = grade("starter", "metric_tracker", "--rlgrade-seed=4")
    task = graded.task("metric_tracker")
    assert task["reward"] is not None, graded.output
    assert task["reward"] <= 0.1, graded.output
    assert all((value or 0.0) == 0.0 for value in _metrics(graded).values())


def _partial(tmp_path: Path, edits: list[tuple[str, str, str]]) -> Path:
    """A copy of the reference with each (module, old, new) replacement made once."""
    import shutil

    folder = tmp_path / "partial"
    shutil.copytree(ROOT / "reference" / "metric_tracker", folder, ignore=shutil.ignore_patterns("__pycache__"))
    for module, old, new in edits:
        path = folder / "metric_tracker" / module
        source = path.read_text()
        assert source.count(old) == 1, f"{old!r} not found once in the reference's {module}"
        path.write_text(source.replace(old, new))
    return folder


# One small function wrong: every row's severity is "low".
NO_SEVERITY = [("investigator.py", '    if magnitude is None:\n        return "critical"', '    return "low"')]
# Two whole features missing: the hourly mix and the data-quality checks, and their rows.
NO_MIX_NO_QUALITY = [
    (
        "investigator.py",
        "    def compare_hourly_mix_to_median(self, date: str) -> dict[str, Any]:\n",
        "    def compare_hourly_mix_to_median(self, date: str) -> dict[str, Any]:\n        raise NotImplementedError\n",
    ),
    (
        "investigator.py",
        "    def check_impossible_counts(self, date: str | None = None) -> list[dict[str, Any]]:\n",
        "    def check_impossible_counts(self, date: str | None = None) -> list[dict[str, Any]]:\n"
        "        raise NotImplementedError\n",
    ),
    (
        "investigator.py",
        "    def get_hourly_traffic_mix_shift_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):\n",
        "    def get_hourly_traffic_mix_shift_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):\n"
        "        return []\n",
    ),
    (
        "investigator.py",
        "    def get_instrumentation_data_quality_issue_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):\n",
        "    def get_instrumentation_data_quality_issue_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):\n"
        "        return []\n",
    ),
    ("detector.py", "        if date not in unreliable_hours:", "        if False:"),
]
# One rule wrong: a zero baseline (a data-quality issue on a zero daily count) is not critical.
ZERO_BASELINE_LOW = [
    (
        "investigator.py",
        '    if magnitude is None:\n        return "critical"',
        '    if magnitude is None:\n        return "low"',
    )
]


@pytest.mark.slow
def test_rewards_order_solutions_by_how_much_they_do(grade, tmp_path):
    """Missing one small function (severity) costs less than missing two whole anomaly families,
    and a single wrong rule (a zero baseline's severity) is caught but costs little."""
    rewards = {}
    for name, edits in (
        ("no_severity", NO_SEVERITY),
        ("no_mix_no_quality", NO_MIX_NO_QUALITY),
        ("zero", ZERO_BASELINE_LOW),
    ):
        graded = grade(_partial(tmp_path / name, edits), "metric_tracker", "--rlgrade-seed=6")
        rewards[name] = graded.task("metric_tracker")["reward"]
    assert 0.1 < rewards["no_mix_no_quality"] < rewards["no_severity"] < rewards["zero"] < 1.0, rewards


@pytest.mark.slow
def test_baseline_lands_between(grade):
    graded = grade("tasks/metric_tracker/baseline", "metric_tracker", "--rlgrade-seed=5")
    reward = graded.task("metric_tracker")["reward"]
    assert 0.1 < reward < 1.0, graded.output
    metrics = _metrics(graded)
    assert metrics["easy_single_spike"] == 1.0  # the count-spike generator is exact on single spikes
    assert 0.2 < metrics["medium_mixed_pair"] < 1.0
    assert 0.1 < metrics["hard_mixed_multi"] < metrics["medium_mixed_pair"]


@pytest.mark.slow
def test_baseline_table_prints_ours_beside_the_seeds():
    done = subprocess.run(
        [sys.executable, str(TASK / "baseline_table.py"), "--seeds", "1", "--first-seed", "6"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("medium_mixed_pair") and "0.662500" in line for line in lines), done.stdout
    assert any(line.startswith("mean") and "0.694773" in line for line in lines), done.stdout
