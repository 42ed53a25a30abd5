"""Loads the task's trusted modules by path under names no other task uses:
``metric_tracker_hidden`` (generator, analysis, grader) and ``metric_tracker_support`` (test
helpers), so the test modules can import them in any import mode and beside any other task."""

from __future__ import annotations

from pathlib import Path

from pytest_rlgrade import load_trusted

HERE = Path(__file__).resolve().parent


load_trusted(HERE.parent / "hidden", "metric_tracker_hidden")
load_trusted(HERE / "mt_support.py", "metric_tracker_support")
