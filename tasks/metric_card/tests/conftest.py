"""Fixtures of the metric_card graders.

Loads the task's trusted code by path under names no other task uses, before pytest imports the
test modules (which import them by these names): ``metric_card_tools`` (the public tools, as a
package), ``metric_card_hidden`` (the trusted scorer and the labelled outputs) and
``metric_card_support`` (generated contexts, cards and their faults; readers of what the
submission wrote).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade import load_trusted

HERE = Path(__file__).resolve().parent

load_trusted(HERE.parent / "tools", "metric_card_tools")
load_trusted(HERE.parent / "hidden", "metric_card_hidden")
support = load_trusted(HERE / "mc_support.py", "metric_card_support")


@pytest.fixture
def contexts(rlgrade_rng: random.Random) -> list[dict[str, Any]]:
    """Generated contexts: every direction of trend, escaped characters, several metrics."""
    return support.generate_contexts(rlgrade_rng)


@pytest.fixture
def processed(submission: Any, rlgrade_rng: random.Random) -> Any:
    """``run_process`` on generated contexts, and what the trusted oracle expects of it."""
    return support.run_generated_process(submission, rlgrade_rng)
