"""The command line: ``run --config FILE --output-dir DIR`` and ``summarize DIR``."""

from __future__ import annotations

import json
import re

import pytest
from experiment_profiler_oracle import MODELS, SUMMARY, assert_aggregate, dump_yaml, word

pytestmark = pytest.mark.cli


def _no_traceback(result):
    assert "Traceback" not in result.stderr + result.stdout, f"the CLI crashed:\n{result.stderr[-2000:]}"


def test_cli_run_writes_the_experiment(submission, experiment):
    result = submission.run_cli(["run", "--config", experiment.manifest_path, "--output-dir", "cli-out"])
    assert result.returncode == 0, f"run exited with {result.returncode}:\n{result.stderr[-2000:]}"
    path = f"cli-out/{experiment.experiment_id}/{SUMMARY}"
    assert (submission.workdir / path).is_file(), f"run did not write {path}"
    summary = submission.read_json(path)
    assert_aggregate(summary.get("overall"), experiment.summary()["overall"], f"{path} overall")


def _fake_summary(rng):
    """A summary.json with generated runs and metric values that print unambiguously at 4 decimals."""

    def value():
        return rng.randrange(10001) / 10000 + rng.choice([-1, 1]) * 0.00002 if rng.random() < 0.9 else 0.0

    def aggregate():
        return {
            "num_records": rng.randint(0, 99),
            "fact_coverage": min(1.0, max(0.0, value())),
            "completion_rate": min(1.0, max(0.0, value())),
            "refusal_rate": min(1.0, max(0.0, value())),
            "geometric_mean": min(1.0, max(0.0, value())),
        }

    names: list[str] = []
    count = rng.randint(1, 4)
    while len(names) < count:
        name = f"run_{rng.randrange(16**4):04x}"
        if name not in names:
            names.append(name)
    return {
        "experiment_id": f"exp_{word(rng)}",
        "runs": {n: {"model": rng.choice(MODELS), **aggregate()} for n in names},
        "overall": aggregate(),
    }


def _rows(lines, label):
    rows = [line for line in lines if re.search(rf"(^|[\s|]){re.escape(label)}($|[\s|])", line)]
    assert rows, f"no table row for {label!r}"
    return rows


def test_cli_summarize_prints_a_table(submission, rlgrade_rng):
    summary = _fake_summary(rlgrade_rng)
    folder = submission.workdir / "done" / summary["experiment_id"]
    folder.mkdir(parents=True)
    (folder / SUMMARY).write_text(json.dumps(summary, indent=2))
    result = submission.run_cli(["summarize", f"done/{summary['experiment_id']}"])
    assert result.returncode == 0, f"summarize exited with {result.returncode}:\n{result.stderr[-2000:]}"
    lines = result.stdout.splitlines()
    for label, data in [*summary["runs"].items(), ("overall", summary["overall"])]:
        shown = [f"{data[k]:.4f}" for k in ("fact_coverage", "completion_rate", "refusal_rate", "geometric_mean")]
        candidates = _rows(lines, label)
        matching = [row for row in candidates if all(value in row for value in shown)]
        assert matching, f"row {label!r} should show the metrics as {shown}: {candidates}"
        row = matching[0]
        assert re.search(rf"(^|[\s|]){data['num_records']}($|[\s|])", row), (
            f"row {label!r} should show {data['num_records']} records: {row!r}"
        )
        if label != "overall":
            assert data["model"] in row, f"row {label!r} should show the model {data['model']}: {row!r}"


def _summarize_works(submission, rlgrade_rng):
    """A good ``summarize`` first: a command line that fails on everything earns nothing below."""
    summary = _fake_summary(rlgrade_rng)
    folder = submission.workdir / "good" / summary["experiment_id"]
    folder.mkdir(parents=True)
    (folder / SUMMARY).write_text(json.dumps(summary))
    result = submission.run_cli(["summarize", f"good/{summary['experiment_id']}"])
    assert result.returncode == 0, f"summarize of a good summary exited with {result.returncode}"
    assert all(name in result.stdout for name in summary["runs"]), "summarize printed no table"


def test_cli_run_rejects_a_bad_manifest(submission, experiment, rlgrade_rng):
    _summarize_works(submission, rlgrade_rng)
    for incomplete in ([], ["run"]):
        result = submission.run_cli(incomplete)
        assert result.returncode == 2, f"exit status {result.returncode} for {incomplete or 'no command'}"
        _no_traceback(result)
    victim = rlgrade_rng.choice(experiment.manifest["runs"])
    victim["max_tokens"] = -rlgrade_rng.randint(1, 50)
    (submission.workdir / experiment.manifest_path).write_text(dump_yaml(experiment.manifest))
    result = submission.run_cli(["run", "--config", experiment.manifest_path, "--output-dir", "cli-out"])
    assert result.returncode == 1, f"run exited with {result.returncode} for a manifest with a negative max_tokens"
    _no_traceback(result)
    assert "max_tokens" in result.stderr, f"the error should name the bad field:\n{result.stderr[-2000:]}"
    assert not (submission.workdir / "cli-out" / experiment.experiment_id / SUMMARY).exists()

    missing = f"{word(rlgrade_rng)}.yaml"
    result = submission.run_cli(["run", "--config", missing, "--output-dir", "cli-out"])
    assert result.returncode == 1, f"run exited with {result.returncode} for a config file that does not exist"
    _no_traceback(result)
    assert missing in result.stderr, f"the error should name the missing file:\n{result.stderr[-2000:]}"


def test_cli_run_reports_an_api_error(submission, experiment, rlgrade_rng):
    """A request the API rejects (an empty stop sequence) is reported like bad input."""
    _summarize_works(submission, rlgrade_rng)
    # A run that sends at least one request (a run may select no dialogue on some seeds).
    sends = {plan.name for plan in experiment.plans if plan.dialogue_ids}
    victim = next(r for r in experiment.manifest["runs"] if r["name"] in sends)
    victim["stop_sequences"] = [""]
    (submission.workdir / experiment.manifest_path).write_text(dump_yaml(experiment.manifest))
    result = submission.run_cli(["run", "--config", experiment.manifest_path, "--output-dir", "cli-out"])
    assert result.returncode == 1, f"run exited with {result.returncode} although the API rejected a request"
    _no_traceback(result)
    assert "stop_sequences" in result.stderr, f"the error should say what the API rejected:\n{result.stderr[-2000:]}"


def test_cli_summarize_rejects_a_folder_without_results(submission, rlgrade_rng):
    _summarize_works(submission, rlgrade_rng)
    missing = f"nothing_{word(rlgrade_rng)}"
    result = submission.run_cli(["summarize", missing])
    assert result.returncode == 1, f"summarize exited with {result.returncode} for a folder that does not exist"
    _no_traceback(result)
    assert missing in result.stderr, f"the error should name the folder:\n{result.stderr[-2000:]}"

    empty = f"empty_{word(rlgrade_rng)}"
    (submission.workdir / empty).mkdir()
    result = submission.run_cli(["summarize", empty])
    assert result.returncode == 1, f"summarize exited with {result.returncode} for a folder without summary.json"
    _no_traceback(result)
    assert "summary.json" in result.stderr, f"the error should say summary.json is missing:\n{result.stderr[-2000:]}"

    # not JSON, not UTF-8, JSON but not a summary: each must be named, none may crash
    for number, content in enumerate([b"{not json", b"\xff\xfe{}", json.dumps({"runs": 3}).encode()]):
        broken = f"broken{number}_{word(rlgrade_rng)}"
        (submission.workdir / broken).mkdir()
        (submission.workdir / broken / SUMMARY).write_bytes(content)
        result = submission.run_cli(["summarize", broken])
        assert result.returncode == 1, (
            f"summarize exited with {result.returncode} for a summary.json holding {content!r}"
        )
        _no_traceback(result)
        assert broken in result.stderr, f"the error should name the broken summary:\n{result.stderr[-2000:]}"
