"""Fixtures of the experiment_profiler graders.

Loads ``oracle.py`` (trusted helpers: generated experiments, the expected answers and metrics) as
the module ``experiment_profiler_oracle`` before pytest imports the test modules, which import it.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest


def _load_oracle() -> Any:
    name = "experiment_profiler_oracle"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("oracle.py"))
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


oracle = _load_oracle()

@pytest.fixture
def experiment(submission: Any, rlgrade_rng: random.Random) -> Any:
    """A generated experiment written into the submission's working folder."""
    return oracle.generate_experiment(rlgrade_rng, submission.workdir, submission.public_dir)


@pytest.fixture
def ran(submission: Any, experiment: Any) -> tuple[Any, Any]:
    """The generated experiment, run through ``run_experiment(manifest, "out")``; its return value."""
    runner = submission.module("experiment_profiler.runner")
    returned = runner.run_experiment(experiment.manifest_path, "out")
    return experiment, returned
