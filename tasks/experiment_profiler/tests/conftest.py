"""Fixtures of the experiment_profiler graders.

Loads ``oracle.py`` (trusted helpers: generated experiments, the expected answers and metrics) as
the module ``experiment_profiler_oracle`` before pytest imports the test modules, which import it.
"""

from __future__ import annotations

import datetime
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import load_trusted

oracle = load_trusted(Path(__file__).with_name("oracle.py"), "experiment_profiler_oracle")


@pytest.fixture
def experiment(submission: Any, rlgrade_rng: random.Random) -> Any:
    """A generated experiment written into the submission's working folder."""
    return oracle.generate_experiment(rlgrade_rng, submission.workdir, submission.public_dir)


@pytest.fixture
def ran(submission: Any, experiment: Any) -> tuple[Any, Any]:
    """The generated experiment, run through ``run_experiment(manifest, "out")``; its return value.

    ``experiment.window`` is when the run started and ended (UTC datetimes, as the test saw them)."""
    runner = submission.module("experiment_profiler.runner")
    started = datetime.datetime.now(datetime.UTC)
    returned = runner.run_experiment(experiment.manifest_path, "out")
    experiment.window = (started, datetime.datetime.now(datetime.UTC))
    return experiment, returned
