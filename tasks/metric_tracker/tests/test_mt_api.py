"""The package's surface: it imports, builds an Investigator and reports a list."""

from metric_tracker_support import build_dataset


def test_imports(submission):
    tracker = submission.module("metric_tracker")
    daily, hourly = build_dataset(0, 3)
    inv = tracker.Investigator(daily, hourly)
    assert inv is not None
    rows = tracker.detect_anomalies(daily, hourly)
    assert isinstance(rows, list), f"detect_anomalies returned {type(rows).__name__}, not a list"
