"""Look-ups: dates, entities, a date's rows, and errors for unknown names."""

from metric_tracker_hidden.analysis import CONVERSION_METRICS, EVENTS, FUNNEL_STEPS
from metric_tracker_support import build_dataset


def _data(rng):
    return build_dataset(rng.randrange(2**32), rng.randint(4, 10))


def test_list_dates_and_entities(submission, rlgrade_rng):
    daily, hourly = _data(rlgrade_rng)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    assert inv.list_dates() == sorted(r["date"] for r in daily)
    assert inv.list_entities() == {
        "events": list(EVENTS),
        "conversion_metrics": list(CONVERSION_METRICS),
        "funnel_steps": list(FUNNEL_STEPS),
    }


def test_rows_for_date(submission, rlgrade_rng):
    daily, hourly = _data(rlgrade_rng)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    for row in rlgrade_rng.sample(daily, 3):
        assert inv.rows_for_date(row["date"]) == row
        want = sorted((r for r in hourly if r["date"] == row["date"]), key=lambda r: r["hour"])
        assert inv.hourly_rows_for_date(date=row["date"]) == want


def test_unknown_names_raise_value_error(submission, rlgrade_rng):
    daily, hourly = _data(rlgrade_rng)
    inv = submission.module("metric_tracker").Investigator(daily, hourly)
    date = rlgrade_rng.choice(daily)["date"]
    with submission.raises("ValueError"):
        inv.rows_for_date("1999-01-01")
    with submission.raises("ValueError"):
        inv.compare_count_to_median(date, "app_close")
    with submission.raises("ValueError"):
        inv.compare_rate_to_median(date, "app_open")  # an event, not a conversion metric
    with submission.raises("ValueError"):
        inv.compare_count_to_median("1999-01-01", "app_open")
    with submission.raises("ValueError"):
        inv.get_rate_spike_from_median_rows(metric_name="app_open_to_order_placed")
    with submission.raises("ValueError"):
        inv.get_absolute_drop_in_event_count_rows(event_name="checkout")
