"""funcbench's trusted helpers: the oracle, loaded by path (never visible to the submission)."""

from __future__ import annotations

from pathlib import Path

from pytest_rlgrade import load_trusted

oracle = load_trusted(Path(__file__).parent.parent / "hidden" / "oracle.py", "funcbench_oracle")
