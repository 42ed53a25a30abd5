"""The gate: the package and the modules the task statement names import and expose their API."""

from __future__ import annotations

from pytest_rlgrade import Handle

API = {
    "experiment_profiler.config": ["load_config", "select_runs"],
    "experiment_profiler.runner": ["run_experiment"],
    "experiment_profiler.metrics": ["score_response", "aggregate"],
    "experiment_profiler.cli": ["main"],
}


def test_imports(submission):
    submission.module("experiment_profiler")
    for module_name, names in API.items():
        module = submission.module(module_name)
        for name in names:
            value = submission.getattr(module, name)
            assert isinstance(value, Handle), f"{module_name}.{name} is not a function (got {value!r})"
