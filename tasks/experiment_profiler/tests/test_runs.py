"""Running an experiment: exactly the selected (run, dialogue) pairs reach the client, with the
run's parameters, and the summary aggregates what came back."""

from __future__ import annotations

import math
from collections import Counter

from experiment_profiler_oracle import REQUEST_LOG, SUMMARY, canonical, read_jsonl, schema_errors, trusted_logging
from experiment_profiler_oracle import assert_aggregate as check


def _served(submission):
    """The requests the simulated API served, as the simulator logged them."""
    entries = read_jsonl(submission, REQUEST_LOG) if (submission.workdir / REQUEST_LOG).exists() else []
    return [e["request"] for e in entries]


def test_requests_match_selected_runs_and_dialogues(submission, ran):
    """One request per selected (run, dialogue): no run or dialogue missing, none extra."""
    experiment, _ = ran
    served = Counter((r["model"], r["messages"][-1]["content"]) for r in _served(submission))
    expected = Counter((p.request["model"], p.dialogue.prompt) for p in experiment.pairs)
    missing, extra = expected - served, served - expected
    assert not missing, f"{sum(missing.values())} expected requests not sent, e.g. (model, prompt) {list(missing)[:3]}"
    assert not extra, f"{sum(extra.values())} unexpected requests were sent, e.g. (model, prompt) {list(extra)[:3]}"


def test_parameters_reach_the_client(submission, ran):
    """Each request carries its run's model, max_tokens, effort, stop sequences and system prompt."""
    experiment, _ = ran
    served = Counter(canonical(r) for r in _served(submission))
    expected = Counter(canonical(p.request) for p in experiment.pairs)
    assert sum(served.values()) == sum(expected.values()), (
        f"{sum(served.values())} requests sent, {sum(expected.values())} expected"
    )
    wrong = expected - served
    assert not wrong, f"requests without the run's parameters, e.g. expected {next(iter(wrong))}"


def test_summary_is_persisted_and_returned(submission, ran):
    experiment, returned = ran
    path = f"out/{experiment.experiment_id}/{SUMMARY}"
    assert (submission.workdir / path).is_file(), f"{path} was not written"
    summary = submission.read_json(path)
    errors = schema_errors(summary, trusted_logging.SUMMARY_SCHEMA)
    assert not errors, f"{path} does not match the summary schema: {errors[:3]}"
    assert returned == summary, "run_experiment should return the summary it wrote to summary.json"


def test_summary_metrics_per_run_and_overall(submission, ran):
    experiment, _ = ran
    summary = submission.read_json(f"out/{experiment.experiment_id}/{SUMMARY}")
    expected = experiment.summary()
    assert summary.get("experiment_id") == experiment.experiment_id
    runs = summary.get("runs")
    assert isinstance(runs, dict), f"summary runs should be an object keyed by run name, got {runs!r}"
    assert list(runs) == list(expected["runs"]), f"summary runs {list(runs)}, expected {list(expected['runs'])}"
    for name, want in expected["runs"].items():
        assert runs[name].get("model") == want["model"], f"run {name}: model {runs[name].get('model')!r}"
        check(runs[name], want, f"summary run {name}")
    check(summary.get("overall"), expected["overall"], "summary overall")


def test_sample_experiment_reproduces_published_numbers(submission):
    runner = submission.module("experiment_profiler.runner")
    summary = runner.run_experiment(submission.public_dir / "configs" / "sample_experiment.yaml", "results")
    assert isinstance(summary, dict), summary
    overall = summary.get("overall")
    assert isinstance(overall, dict), summary
    assert overall.get("num_records") == 6
    assert math.isclose(overall.get("fact_coverage", -1), 5 / 6, abs_tol=1e-9), overall
    assert overall.get("completion_rate") == 1
    assert overall.get("refusal_rate") == 0
    assert math.isclose(overall.get("geometric_mean", -1), math.sqrt(5 / 6), abs_tol=1e-9), overall
    assert (
        f"{overall['fact_coverage']:.4f}",
        f"{overall['refusal_rate']:.4f}",
        f"{overall['geometric_mean']:.4f}",
    ) == ("0.8333", "0.0000", "0.9129")
    assert list(summary.get("runs", {})) == ["haiku_baseline", "sonnet_history"]
    assert (submission.workdir / "results" / "sample" / SUMMARY).is_file()
