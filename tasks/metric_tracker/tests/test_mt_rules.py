"""The prompt's edge rules, each present by construction on every seed: severities (every band,
the zero baseline, the hourly mix's absolute delta), missing hours, dates without traffic, zero
denominators, negative counts."""

from metric_tracker_hidden import Analysis, generate_dataset
from metric_tracker_hidden.analysis import CONVERSION_METRICS
from metric_tracker_hidden.generator import ALL_FAMILIES
from metric_tracker_support import assert_comparison, assert_rows, edge_dataset, oracle_rows

GENERATOR = {family: f"get_{family}_rows" for family in ALL_FAMILIES}


def test_severity_of_every_family(submission, rlgrade_rng):
    """Each family's rows carry the severity of their magnitude (relative change, or the hourly
    mix's delta), and a zero baseline is critical."""
    tracker = submission.module("metric_tracker")
    daily, hourly, _ = edge_dataset(rlgrade_rng)
    oracle = Analysis(daily, hourly)
    inv = tracker.Investigator(daily, hourly)
    method = GENERATOR["instrumentation_data_quality_issue"]
    assert_rows(getattr(inv, method)(), *oracle_rows(oracle, method, 2.0), severities=True)
    for family in ALL_FAMILIES:
        ds = generate_dataset(
            {
                "seed": rlgrade_rng.randrange(2**32),
                "scenario_family": family,
                "difficulty": rlgrade_rng.choice(["easy", "medium", "hard"]),
                "anomaly_density": "high",
            }
        )
        oracle = Analysis(ds["daily"], ds["hourly"])
        rows = getattr(tracker.Investigator(ds["daily"], ds["hourly"]), GENERATOR[family])()
        assert_rows(rows, *oracle_rows(oracle, GENERATOR[family], 2.0), severities=True)
        for label in ds["labels"]:
            match = [r for r in rows if (r["date"], r["entity_name"]) == (label["date"], label["entity_name"])]
            assert match, f"the planted {family} on {label['date']} ({label['entity_name']}) is not among the rows"
            assert match[0]["severity"] == label["severity"], f"severity of the planted {family} on {label['date']}"


def test_edge_cases_of_the_definitions(submission, rlgrade_rng):
    daily, hourly, cases = edge_dataset(rlgrade_rng)
    oracle = Analysis(daily, hourly)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    for date in (cases["gap"], cases["no_traffic"], rlgrade_rng.choice(sorted(r["date"] for r in daily))):
        assert_comparison(inv.compare_hourly_mix_to_median(date), oracle.compare_hourly_mix_to_median(date))
    want = sorted((r for r in hourly if r["date"] == cases["gap"]), key=lambda r: r["hour"])
    assert inv.hourly_rows_for_date(cases["gap"]) == want, "the hours a date has, sorted, none made up"
    for metric in CONVERSION_METRICS:
        for date in (cases["zero_denominator"], cases["no_traffic"]):
            assert_comparison(inv.compare_rate_to_median(date, metric), oracle.compare_rate_to_median(date, metric))
    assert inv.check_impossible_counts() == oracle.check_impossible_counts()
    for case in ("gap", "zero_baseline", "negative_hour", "negative_daily"):
        date = cases[case]
        assert inv.check_impossible_counts(date) == oracle.check_impossible_counts(date), f"the issues of {case}"
