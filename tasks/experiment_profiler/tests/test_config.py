"""Manifests: parsing, run selection with resolved parameters, and clear errors for bad ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from experiment_profiler_oracle import EFFORTS, MODELS, dump_yaml, plans_of, shipped_dialogues, word


def test_load_config_reads_the_manifest(submission, experiment):
    config = submission.module("experiment_profiler.config")
    loaded = config.load_config(experiment.manifest_path)
    assert isinstance(loaded, dict), f"load_config should return a pydantic model, got {loaded!r}"
    assert loaded.get("experiment_id") == experiment.experiment_id
    runs = loaded.get("runs")
    assert isinstance(runs, list), f"runs should be a list, got {runs!r}"
    assert len(runs) == len(experiment.manifest["runs"]), runs
    for got, written in zip(runs, experiment.manifest["runs"], strict=True):
        assert got.get("name") == written["name"]
        assert got.get("enabled") is written.get("enabled", True), (
            f"run {written['name']}: enabled is {got.get('enabled')!r}, the manifest says "
            f"{written.get('enabled', 'nothing (default true)')}"
        )
        for key in ("model", "max_tokens", "effort"):
            if key in written:
                assert got.get(key) == written[key], f"run {written['name']}: {key} is {got.get(key)!r}"


def _plans(submission, experiment):
    config = submission.module("experiment_profiler.config")
    plans = config.select_runs(experiment.manifest_path)
    assert isinstance(plans, list), f"select_runs should return a list, got {plans!r}"
    assert all(isinstance(p, dict) for p in plans), f"select_runs should return models, got {plans!r}"
    return plans


def test_select_runs_keeps_enabled_runs_in_order(submission, experiment):
    plans = _plans(submission, experiment)
    assert [p.get("name") for p in plans] == [p.name for p in experiment.plans]


def test_select_runs_resolves_parameters(submission, experiment):
    plans = _plans(submission, experiment)
    assert len(plans) == len(experiment.plans)
    for got, expected in zip(plans, experiment.plans, strict=True):
        for key in ("model", "max_tokens", "effort", "stop_sequences", "system"):
            want = expected.as_dict()[key]
            value = got.get(key)
            if key == "stop_sequences":
                value = list(value or [])
            if key == "system":
                value = value or None
            message = f"run {expected.name}: {key} is {got.get(key)!r}, expected {want!r}"
            assert value == want, message
            assert type(value) is type(want), message


def test_select_runs_filters_dialogues(submission, experiment):
    plans = _plans(submission, experiment)
    assert len(plans) == len(experiment.plans)
    for got, expected in zip(plans, experiment.plans, strict=True):
        assert got.get("dialogue_ids") == expected.dialogue_ids, (
            f"run {expected.name}: dialogue_ids {got.get('dialogue_ids')!r}, expected {expected.dialogue_ids!r}"
        )


def _break(kind, manifest, rng):
    """Damage a valid manifest; return (yaml text or None, regex the error must match)."""
    runs = manifest["runs"]
    victim = rng.choice(runs)
    if kind == "missing_experiment_id":
        del manifest["experiment_id"]
        return None, "experiment_id"
    if kind == "bad_experiment_id":
        manifest["experiment_id"] = rng.choice(["../" + word(rng), f"{word(rng)} {word(rng)}", f"a/{word(rng)}", ""])
        return None, "experiment_id"
    if kind == "bad_max_tokens":
        victim["max_tokens"] = rng.choice([0, -rng.randint(1, 99), "lots"])
        return None, "max_tokens"
    if kind == "bad_effort":
        victim["effort"] = rng.choice(["turbo", "extreme", "none", word(rng)])
        return None, "effort"
    if kind == "unknown_key":
        key = rng.choice(["modle", "max_token", "temprature", "enabeld", word(rng)])
        victim[key] = 1
        return None, re.escape(key)
    if kind == "bad_filter_limit":
        victim["filters"] = {"limit": rng.choice([0, -2])}
        return None, "limit"
    if kind == "duplicate_run":
        twin = dict(rng.choice(runs))
        runs.insert(rng.randrange(len(runs) + 1), twin)
        return None, re.escape(twin["name"])
    if kind == "no_model":
        manifest.get("defaults", {}).pop("model", None)
        victim.pop("model", None)
        return None, "model"
    if kind == "no_runs":
        manifest["runs"] = rng.choice([[], None])
        return None, "runs"
    if kind == "unknown_dialogue":
        missing = f"nope-{rng.randrange(16**6):06x}"
        victim["enabled"] = True
        victim["filters"] = {"ids": [missing]}
        return None, re.escape(missing)
    if kind == "missing_dataset":
        missing = f"{word(rng)}-missing.json"
        manifest["dataset"] = missing
        return None, re.escape(missing)
    if kind == "invalid_yaml":
        text = dump_yaml(manifest, sort_keys=False)
        return text + "runs: [\n  - name: {broken\n", None
    if kind == "not_a_mapping":
        return dump_yaml([manifest], sort_keys=False), None
    if kind == "bad_run_name":
        victim["name"] = rng.choice([f"{word(rng)} {word(rng)}", f"../{word(rng)}", f"-{word(rng)}"])
        return None, "name"
    if kind == "empty_model":
        victim["model"] = ""
        return None, "model"
    raise AssertionError(kind)


BAD_KINDS = [
    "missing_experiment_id",
    "bad_experiment_id",
    "bad_max_tokens",
    "bad_effort",
    "unknown_key",
    "bad_filter_limit",
    "duplicate_run",
    "no_model",
    "no_runs",
    "unknown_dialogue",
    "missing_dataset",
    "invalid_yaml",
    "missing_file",
    "not_a_mapping",
    "bad_run_name",
    "empty_model",
    "not_utf8",
    "a_folder",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_manifest_is_rejected_clearly(submission, experiment, rlgrade_rng, kind):
    """``load_config``/``select_runs`` raise a ConfigError whose message names what is wrong.

    The valid manifest loads first: a submission that raises on every input earns nothing here."""
    config = submission.module("experiment_profiler.config")
    loaded = config.load_config(experiment.manifest_path)
    assert isinstance(loaded, dict), f"load_config of a valid manifest returned {loaded!r}"
    assert loaded.get("experiment_id") == experiment.experiment_id
    path = str(Path(experiment.manifest_path).with_name(f"broken_{word(rlgrade_rng)}.yaml"))
    if kind == "missing_file":
        pattern = re.escape(Path(path).name)
    elif kind == "not_utf8":
        pattern = re.escape(Path(path).name)
        (submission.workdir / path).write_bytes(b"experiment_id: caf\xe9\nruns: [{name: a, model: m}]\n")
    elif kind == "a_folder":
        pattern = re.escape(Path(path).name)
        (submission.workdir / path).mkdir()
    else:
        text, pattern = _break(kind, experiment.manifest, rlgrade_rng)
        if text is None:
            text = dump_yaml(experiment.manifest, sort_keys=False)
        if pattern is None:
            pattern = re.escape(Path(path).name)
        (submission.workdir / path).write_text(text)
    with submission.raises("ConfigError", match=pattern) as raised:
        config.load_config(path)
        config.select_runs(path)
    assert raised.value.is_a("ValueError"), "ConfigError must be a subclass of ValueError"


def test_select_runs_resolves_every_default(submission, experiment, rlgrade_rng):
    """The parameters the generated experiment leaves to its defaults, the other way round: effort
    and stop sequences inherited, max_tokens 1024 and no system prompt when nobody sets them; a
    manifest without a dataset uses the shipped one, an absolute dataset path is used as it is;
    and ``select_runs`` takes the model ``load_config`` returns as well as a path."""
    config = submission.module("experiment_profiler.config")
    shipped = shipped_dialogues()
    effort, stops = rlgrade_rng.choice(EFFORTS), [word(rlgrade_rng)]
    manifest = {
        "experiment_id": f"defaults_{word(rlgrade_rng)}",
        "defaults": {"model": rlgrade_rng.choice(MODELS), "effort": effort, "stop_sequences": stops},
        "runs": [
            {"name": "inherits"},
            {"name": "overrides", "effort": rlgrade_rng.choice(EFFORTS), "stop_sequences": [], "system": "Be terse."},
            {"name": "limited", "filters": {"limit": rlgrade_rng.randint(1, 3)}},
        ],
    }
    absolute = str(submission.public_dir / "data" / "dialogues.json")
    # the smallest values allowed: a one-letter model, one token
    alone = {"name": "alone", "model": rlgrade_rng.choice("abcxyz"), "max_tokens": 1}
    variants = [
        manifest,  # no dataset: the shipped one
        {**manifest, "dataset": absolute},
        {"experiment_id": manifest["experiment_id"], "dataset": absolute, "runs": [alone]},  # no defaults at all
    ]
    for variant in variants:
        path = f"variant_{word(rlgrade_rng)}.yaml"
        (submission.workdir / path).write_text(dump_yaml(variant, sort_keys=False))
        want = [p.as_dict() for p in plans_of(variant, shipped)]
        for source in (path, submission.instance(config, "load_config", path)):
            got = config.select_runs(source)
            assert isinstance(got, list), f"select_runs returned {got!r}"
            assert len(got) == len(want), f"{len(got)} plans, expected {len(want)}"
            for plan, expected in zip(got, want, strict=True):
                for key, value in expected.items():
                    shown = plan.get(key) if key != "stop_sequences" else list(plan.get(key) or [])
                    assert shown == value, f"run {expected['name']}: {key} is {plan.get(key)!r}, expected {value!r}"


def test_every_effort_level_is_accepted(submission, experiment):
    config = submission.module("experiment_profiler.config")
    manifest = experiment.manifest
    manifest["runs"] = [{"name": f"effort_{e}", "model": "claude-haiku-4-5", "effort": e} for e in EFFORTS]
    path = str(Path(experiment.manifest_path).with_name("efforts.yaml"))
    (submission.workdir / path).write_text(dump_yaml(manifest))
    plans = config.select_runs(path)
    assert [p.get("effort") for p in plans] == EFFORTS
