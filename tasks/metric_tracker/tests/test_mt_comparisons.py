"""Comparisons against the median of the other dates, on generated data with known answers."""

import statistics

from hypothesis import given, settings
from hypothesis import strategies as st
from metric_tracker_hidden import Analysis
from metric_tracker_hidden.analysis import CONVERSION_METRICS, EVENTS, FUNNEL_STEPS
from metric_tracker_support import EPS, assert_comparison, build_dataset, close, dataset_specs

# The phases are the grading profile's (no explain phase, and shrinking only under -v: each run is
# a round trip to the sandbox, and neither changes an outcome).
EXAMPLES = settings(max_examples=15)


def _expected(date, entity, baseline, observed):
    return {
        "date": date,
        "entity_name": entity,
        "baseline_value": baseline,
        "observed_value": observed,
        "delta_value": observed - baseline,
        "relative_change": None if baseline == 0 else (observed - baseline) / baseline,
    }


@EXAMPLES
@given(
    spec=dataset_specs, picks=st.lists(st.tuples(st.integers(0, 99), st.sampled_from(EVENTS)), min_size=1, max_size=4)
)
def test_compare_count_to_median(submission, spec, picks):
    daily, hourly = build_dataset(**spec)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    for index, event in picks:
        row = daily[index % len(daily)]
        others = [r[event] for r in daily if r is not row]
        want = _expected(row["date"], event, statistics.median(others), row[event])
        assert_comparison(inv.compare_count_to_median(date=row["date"], entity_name=event), want)


def _rate(row, metric):
    numerator, denominator = CONVERSION_METRICS[metric]
    return 0.0 if row[denominator] == 0 else row[numerator] / row[denominator]


@EXAMPLES
@given(
    spec=dataset_specs,
    picks=st.lists(st.tuples(st.integers(0, 99), st.sampled_from(list(CONVERSION_METRICS))), min_size=1, max_size=4),
)
def test_compare_rate_to_median(submission, spec, picks):
    daily, hourly = build_dataset(**spec)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    for index, metric in picks:
        row = daily[index % len(daily)]
        others = [_rate(r, metric) for r in daily if r is not row]
        want = _expected(row["date"], metric, statistics.median(others), _rate(row, metric))
        assert_comparison(inv.compare_rate_to_median(date=row["date"], entity_name=metric), want)


@EXAMPLES
@given(spec=dataset_specs, picks=st.lists(st.integers(0, 99), min_size=1, max_size=3))
def test_compare_hourly_mix_to_median(submission, spec, picks):
    daily, hourly = build_dataset(**spec)
    oracle = Analysis(daily, hourly)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    for index in picks:
        date = daily[index % len(daily)]["date"]
        assert_comparison(inv.compare_hourly_mix_to_median(date=date), oracle.compare_hourly_mix_to_median(date))


@EXAMPLES
@given(spec=dataset_specs, index=st.integers(0, 99), multiplier=st.floats(0.5, 2.4))
def test_detect_funnel_break(submission, spec, index, multiplier):
    daily, hourly = build_dataset(**spec)
    oracle = Analysis(daily, hourly)
    date = daily[index % len(daily)]["date"]
    got = (
        submission.module("metric_tracker")
        .Investigator(daily, hourly)
        .detect_funnel_break(date=date, threshold_multiplier=multiplier)
    )
    want = oracle.detect_funnel_break(date, multiplier)
    assert isinstance(got, list), "a list of funnel steps"
    assert len(got) == len(FUNNEL_STEPS), "one entry per funnel step"
    limit = -0.4 * multiplier
    for g, w in zip(got, want, strict=True):
        assert_comparison(g, w)
        assert isinstance(g.get("broken"), bool), "`broken` must be a bool"
        rc = w["relative_change"]
        if rc is None or abs(rc - limit) > EPS:
            assert g["broken"] == w["broken"], f"broken of {w['entity_name']}: {g['broken']} (relative_change {rc})"


@EXAMPLES
@given(spec=dataset_specs, index=st.integers(0, 99))
def test_check_impossible_counts(submission, spec, index):
    daily, hourly = build_dataset(**spec)
    oracle = Analysis(daily, hourly)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    assert inv.check_impossible_counts() == oracle.check_impossible_counts()
    date = daily[index % len(daily)]["date"]
    assert inv.check_impossible_counts(date=date) == oracle.check_impossible_counts(date)


def test_comparisons_on_a_clean_dataset(submission, rlgrade_rng):
    """Spot checks on a full generated dataset, where every quantity is finite."""
    from metric_tracker_hidden import generate_dataset

    ds = generate_dataset(
        {
            "seed": rlgrade_rng.randrange(2**32),
            "scenario_family": "mixed_multi",
            "difficulty": "medium",
            "anomaly_density": "high",
        }
    )
    oracle = Analysis(ds["daily"], ds["hourly"])
    inv = submission.module("metric_tracker").Investigator(ds["daily"], ds["hourly"])
    for label in ds["labels"]:
        date = label["date"]
        assert_comparison(
            inv.compare_count_to_median(date, "order_placed"), oracle.compare_count_to_median(date, "order_placed")
        )
        step = rlgrade_rng.choice(FUNNEL_STEPS)
        assert_comparison(inv.compare_rate_to_median(date, step), oracle.compare_rate_to_median(date, step))
        assert_comparison(inv.compare_hourly_mix_to_median(date), oracle.compare_hourly_mix_to_median(date))
        got = inv.compare_rate_to_median(date, FUNNEL_STEPS[0])
        assert close(got["delta_value"], got["observed_value"] - got["baseline_value"])
