"""The per-family row generators, the median filter, suspicious dates and the submission preview,
on generated datasets with planted anomalies (known answers) and random threshold multipliers."""

import copy

import pytest
from metric_tracker_hidden import Analysis, generate_dataset
from metric_tracker_hidden.analysis import CONVERSION_METRICS, EVENTS, ROW_KEYS
from metric_tracker_hidden.generator import ALL_FAMILIES
from metric_tracker_support import EPS, assert_rows, close, oracle_rows

GENERATOR = {family: f"get_{family}_rows" for family in ALL_FAMILIES}
FILTERED = {  # generators that take one entity to restrict to
    "rate_spike_from_median": ("metric_name", list(CONVERSION_METRICS)),
    "rate_drop_from_median": ("metric_name", list(CONVERSION_METRICS)),
    "absolute_spike_in_event_count": ("event_name", list(EVENTS)),
    "absolute_drop_in_event_count": ("event_name", list(EVENTS)),
}


def _dataset(rng, family):
    return generate_dataset(
        {
            "seed": rng.randrange(2**32),
            "scenario_family": family,
            "difficulty": rng.choice(["easy", "medium", "hard"]),
            "anomaly_density": rng.choice(["low", "medium", "high"]),
        }
    )


@pytest.mark.parametrize("family", ALL_FAMILIES)
def test_family_generator(submission, rlgrade_rng, family):
    ds = _dataset(rlgrade_rng, family)
    oracle = Analysis(ds["daily"], ds["hourly"])
    inv = submission.module("metric_tracker").Investigator(ds["daily"], ds["hourly"])
    method = GENERATOR[family]
    # the default multiplier finds every planted anomaly of the family, with its values
    got = getattr(inv, method)()
    assert_rows(got, *oracle_rows(oracle, method, 2.0))
    for label in ds["labels"]:
        match = [r for r in got if (r["date"], r["entity_name"]) == (label["date"], label["entity_name"])]
        assert match, f"the planted {family} on {label['date']} ({label['entity_name']}) is not among the rows"
    # and any other multiplier (and entity filter) gives what it should
    multiplier = round(rlgrade_rng.uniform(0.6, 3.0), 3)
    kwargs = {}
    if family in FILTERED and rlgrade_rng.random() < 0.5:
        name, choices = FILTERED[family]
        kwargs[name] = rlgrade_rng.choice(choices)
    got = getattr(inv, method)(threshold_multiplier=multiplier, **kwargs)
    assert_rows(got, *oracle_rows(oracle, method, multiplier, **kwargs))


def test_median_filter_rows(submission, rlgrade_rng):
    ds = _dataset(rlgrade_rng, "mixed_multi")
    oracle = Analysis(ds["daily"], ds["hourly"])
    inv = submission.module("metric_tracker").Investigator(ds["daily"], ds["hourly"])
    assert_rows(inv.get_median_filter_rows(), *oracle_rows(oracle, "get_median_filter_rows", 2.0))
    metrics = rlgrade_rng.sample(list(CONVERSION_METRICS), rlgrade_rng.randint(1, 3))
    multiplier = round(rlgrade_rng.uniform(0.6, 3.0), 3)
    got = inv.get_median_filter_rows(metric_names=metrics, threshold_multiplier=multiplier)
    assert_rows(got, *oracle_rows(oracle, "get_median_filter_rows", multiplier, metric_names=metrics))


def test_list_suspicious_dates(submission, rlgrade_rng):
    ds = _dataset(rlgrade_rng, "mixed_multi")
    oracle = Analysis(ds["daily"], ds["hourly"])
    inv = submission.module("metric_tracker").Investigator(ds["daily"], ds["hourly"])
    for multiplier in (2.0, round(rlgrade_rng.uniform(0.3, 1.5), 3), round(rlgrade_rng.uniform(2.0, 4.0), 3)):
        got = inv.list_suspicious_dates(threshold_multiplier=multiplier)
        sure = oracle.list_suspicious_dates(multiplier * (1 + EPS))
        possible = oracle.list_suspicious_dates(multiplier * (1 - EPS))
        assert isinstance(got, list), "a list of dates"
        assert got == sorted(set(got)), "a sorted list of distinct dates"
        assert set(sure) <= set(got) <= set(possible), f"multiplier {multiplier}: {got} vs {sure}"
        if multiplier == 2.0:
            assert {label["date"] for label in ds["labels"]} <= set(got)


def test_preview_submission(submission, rlgrade_rng):
    ds = _dataset(rlgrade_rng, "mixed_multi")
    good = [dict(label) for label in ds["labels"]]
    broken = [
        lambda r: r.pop(rlgrade_rng.choice(ROW_KEYS)),
        lambda r: r.update(baseline_value=True),
        lambda r: r.update(observed_value=False),
        lambda r: r.update(delta_value="1.0"),
        lambda r: r.update(severity="severe"),
        lambda r: r.update(anomaly_type="spike"),
        lambda r: r.update(entity_type=""),
        lambda r: r.update(entity_type="funnel"),
        lambda r: r.update(entity_name=7),
        lambda r: r.update(detection_method="eyeballing"),
        lambda r: r.update(date="1999-01-01"),
        lambda r: r.update(severity="low" if r["severity"] != "low" else "high"),  # still a repeat
    ]
    # every kind of problem on every seed, each on a twin of a random good row (after it)
    twins = []
    for kind in broken:
        twin = copy.deepcopy(rlgrade_rng.choice(good))
        kind(twin)
        twins.append(twin)
    good[0]["baseline_value"] = round(good[0]["baseline_value"])  # an int is a number too
    rows = list(good) + twins
    bad = set(range(len(good), len(rows)))
    rows.append("not a row")
    bad.add(len(rows) - 1)
    order = list(range(len(rows)))
    rlgrade_rng.shuffle(order)
    # keep each good row before its twin so that the twin is the repeat
    firsts = [i for i in order if i not in bad]
    seconds = [i for i in order if i in bad]
    order = firsts + seconds
    shuffled = [rows[i] for i in order]
    want = sorted(order.index(i) for i in bad)
    inv = submission.module("metric_tracker").Investigator(ds["daily"], ds["hourly"])
    got = inv.preview_submission(shuffled)
    assert isinstance(got, dict)
    assert got.get("row_count") == len(rows)
    assert got.get("valid_rows") == len(rows) - len(bad)
    issues = got.get("issues")
    assert isinstance(issues, list)
    assert sorted(i.get("index") for i in issues) == want, "the rows with an issue"
    assert all(isinstance(i.get("problem"), str) and i["problem"] for i in issues)
    assert close(inv.preview_submission([])["row_count"], 0)


def test_generators_on_arbitrary_data(submission, rlgrade_rng):
    """Counts that form no funnel: relative changes, and so severities, of every size."""
    from metric_tracker_support import build_dataset

    for _ in range(3):
        daily, hourly = build_dataset(
            rlgrade_rng.randrange(2**32),
            rlgrade_rng.randint(5, 12),
            zeros=rlgrade_rng.random() < 0.3,
            corrupt=rlgrade_rng.randint(0, 3),
        )
        oracle = Analysis(daily, hourly)
        inv = submission.module("metric_tracker").Investigator(daily, hourly)
        multiplier = round(rlgrade_rng.uniform(0.3, 3.0), 3)
        for method in list(GENERATOR.values()) + ["get_median_filter_rows"]:
            got = getattr(inv, method)(threshold_multiplier=multiplier)
            assert_rows(got, *oracle_rows(oracle, method, multiplier))
