"""The named scenarios: the detector's report graded against hidden labels on several datasets
drawn from the run's seed. The mean score is the scenario's metric; the test itself only reports
the breakdown (its weight is 0)."""

import statistics

import pytest
from metric_tracker_hidden import NAMED_SCENARIOS, generate_scenario, grade_rows

from pytest_rlgrade import SubmissionRaised

DATASETS = 5


@pytest.mark.parametrize("scenario", list(NAMED_SCENARIOS))
def test_scenario(submission, metric, rlgrade_rng, scenario):
    tracker = submission.module("metric_tracker")
    scores, notes = [], []
    for i in range(DATASETS):
        ds = generate_scenario(scenario, rlgrade_rng.randrange(2**32))
        try:
            rows = tracker.detect_anomalies(ds["daily"], ds["hourly"], task_id=scenario)
        except SubmissionRaised as exc:
            rows, error = None, f"raised {exc.type_name}"
        else:
            error = None
        result = grade_rows(rows, ds["labels"])
        scores.append(result["score"])
        notes.append(
            f"dataset {i}: score {result['score']:.3f}, "
            + (
                error
                or f"{result['valid']} valid rows of {result['submitted']}, {result['matched']} on an anomaly, "
                f"quality {result['quality']:.2f}, {result['extra']} extra, {result['duplicates']} duplicate, "
                f"{result['invalid']} invalid"
                + (", mass submission" if result["mass_submission"] else "")
            )
        )
    mean = statistics.fmean(scores)
    metric(scenario, mean)
    assert mean == 1.0, f"{scenario}: mean score {mean:.4f}\n" + "\n".join(notes)
