"""The dataset task funcbench: its files match its oracle, and its reference and starter earn
what they should on every instance."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_rlgrade.manifest import load_instances, load_task

ROOT = Path(__file__).resolve().parent.parent
TASK = ROOT / "tasks" / "funcbench"


def test_the_shipped_instances_and_reference_match_the_oracle() -> None:
    done = subprocess.run(
        [sys.executable, str(TASK / "generate.py"), "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_every_instance_has_a_prompt_and_an_entry_point() -> None:
    rows = load_instances(load_task(TASK))
    assert len(rows) == 36
    for row in rows:
        assert row["prompt"].startswith(f"def {row['entry_point']}(")
        assert row["examples"]


@pytest.mark.slow
def test_reference_earns_full_reward_on_every_instance(grade: Any) -> None:
    graded = grade("reference", "funcbench", "--min-reward=1.0")
    assert graded.exit_code == 0, graded.output
    task = graded.task("funcbench")
    assert task["reward"] == 1.0
    assert task["counts"]["total"] == 36  # one test per instance, as HumanEval checks a problem


@pytest.mark.slow
def test_one_instance_is_graded_alone(grade: Any) -> None:
    graded = grade("reference", "funcbench:caesar-5")
    task = graded.task("funcbench")
    assert task["instance"] == "caesar-5"
    assert task["counts"]["total"] == 1
    assert task["reward"] == 1.0
    assert "missing_tests" not in task["flags"]


@pytest.mark.slow
def test_starter_earns_nothing(grade: Any) -> None:
    assert grade("starter", "funcbench").task("funcbench")["reward"] == 0.0
