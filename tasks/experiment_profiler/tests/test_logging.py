"""Every prompt/response pair is persisted as a schema-valid record under out/<experiment_id>/."""

from __future__ import annotations

import datetime
import math

from experiment_profiler_oracle import RECORDS, is_number, read_jsonl, schema_errors, simulator, trusted_logging

minimum_ms = simulator.SIMULATED_LATENCY_S * 1000


def _records(submission, experiment):
    return read_jsonl(submission, f"out/{experiment.experiment_id}/{RECORDS}")


def _problems(record, pair, experiment_id):
    """What is wrong with the record of ``pair`` (empty when nothing is)."""
    problems = schema_errors(record, trusted_logging.RECORD_SCHEMA)
    if problems:
        return problems
    request, response, metrics = record["request"], record["response"], record["metrics"]
    if record["experiment_id"] != experiment_id:
        problems.append(f"experiment_id {record['experiment_id']!r}")
    for key, want in pair.request.items():
        if request[key] != want:
            problems.append(f"request.{key} is {request[key]!r}, expected {want!r}")
    expected_response = {
        "id": pair.response["id"],
        "model": pair.response["model"],
        "text": pair.text,
        "stop_reason": pair.response["stop_reason"],
    }
    for key, want in expected_response.items():
        if response[key] != want:
            problems.append(f"response.{key} is {response[key]!r}, expected {want!r}")
    for key in ("input_tokens", "output_tokens"):
        if response["usage"][key] != pair.response["usage"][key]:
            problems.append(
                f"response.usage.{key} is {response['usage'][key]!r}, expected {pair.response['usage'][key]!r}"
            )
    if not math.isclose(metrics["fact_coverage"], pair.score["fact_coverage"], abs_tol=1e-9):
        problems.append(f"metrics.fact_coverage is {metrics['fact_coverage']}, expected {pair.score['fact_coverage']}")
    for key in ("completed", "refused"):
        if metrics[key] is not pair.score[key]:
            problems.append(f"metrics.{key} is {metrics[key]!r}, expected {pair.score[key]!r}")
    return problems


def _by_pair(records):
    found = {}
    for record in records:
        if isinstance(record, dict):
            found.setdefault((record.get("run"), record.get("dialogue_id")), []).append(record)
    return found


def test_every_prompt_is_logged(submission, ran, metric):
    """One record per selected (run, dialogue), each matching the record schema and the answer."""
    experiment, _ = ran
    records = _records(submission, experiment)
    found = _by_pair(records)
    correct = sum(
        1
        for p in experiment.pairs
        if len(found.get((p.run, p.dialogue.id), [])) == 1
        and not _problems(found[(p.run, p.dialogue.id)][0], p, experiment.experiment_id)
    )
    expected = len(experiment.pairs)
    metric("record_accuracy", correct / expected if expected else float(len(records) == 0))
    assert len(records) == expected, f"{len(records)} records, expected {expected}"
    assert correct == expected, f"only {correct} of {expected} pairs have one correct record"


def test_records_match_the_schema(submission, ran):
    experiment, _ = ran
    records = _records(submission, experiment)
    assert records, f"{RECORDS} is empty"
    for number, record in enumerate(records, 1):
        errors = schema_errors(record, trusted_logging.RECORD_SCHEMA)
        assert not errors, f"record {number} does not match the schema: {errors[:3]}"


def test_records_hold_request_response_and_metrics(submission, ran):
    experiment, _ = ran
    found = _by_pair(_records(submission, experiment))
    for pair in experiment.pairs:
        records = found.get((pair.run, pair.dialogue.id))
        assert records, f"no record for run {pair.run!r}, dialogue {pair.dialogue.id!r}"
        problems = _problems(records[0], pair, experiment.experiment_id)
        assert not problems, f"record of run {pair.run!r}, dialogue {pair.dialogue.id!r}: {problems[:4]}"


def test_records_say_when_and_how_long(submission, ran):
    """Each record's ``timestamp`` is an ISO 8601 time within the run (a day and month swapped,
    or a local time without its offset, falls outside), and ``latency_ms`` is the call's duration
    in milliseconds: at least the simulator's latency, at most the whole run's."""
    experiment, _ = ran
    started, finished = experiment.window
    records = _records(submission, experiment)
    assert records, f"{RECORDS} is empty"
    slack = datetime.timedelta(seconds=2)
    longest = (finished - started).total_seconds() * 1000
    for number, record in enumerate(records, 1):
        stamp = record.get("timestamp")
        try:
            when = datetime.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            raise AssertionError(f"record {number}: timestamp {stamp!r} is not ISO 8601") from None
        assert when.tzinfo is not None, f"record {number}: timestamp {stamp!r} has no UTC offset"
        assert started - slack <= when <= finished + slack, (
            f"record {number}: timestamp {stamp!r} is not within the run ({started.isoformat()} to "
            f"{finished.isoformat()})"
        )
        latency = record.get("latency_ms")
        assert is_number(latency), f"record {number}: latency_ms {latency!r} is not a number"
        assert minimum_ms <= latency <= longest + 1, (
            f"record {number}: latency_ms {latency} is not the call's duration in milliseconds "
            f"(each call takes at least {minimum_ms} ms, the whole run {longest:.0f} ms)"
        )


def test_rerun_replaces_the_records(submission, ran):
    """Running the same manifest again leaves one record per pair, not two."""
    experiment, _ = ran
    runner = submission.module("experiment_profiler.runner")
    runner.run_experiment(experiment.manifest_path, "out")
    records = _records(submission, experiment)
    assert len(records) == len(experiment.pairs), (
        f"after a second run there are {len(records)} records, expected {len(experiment.pairs)}"
    )
