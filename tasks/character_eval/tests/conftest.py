"""Fixtures of the character_eval graders.

Loads ``oracle.py`` (trusted helpers: generated inputs, the simulators' logs, expected answers) as
the module ``character_eval_oracle`` before pytest imports the test modules, which import it.
"""

from __future__ import annotations

from pathlib import Path

from pytest_rlgrade import load_trusted

oracle = load_trusted(Path(__file__).with_name("oracle.py"), "character_eval_oracle")
