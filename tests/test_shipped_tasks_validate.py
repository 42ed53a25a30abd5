"""Every shipped task passes ``rlgrade validate`` (issue #11): the slowest tier, run last.

The seed is fixed and so is the sample of mutants (the first ``MUTANTS`` of the validator's order,
which covers that many distinct lines of the reference before any line twice), so the figure is
the same on every machine: a survivor here is a behaviour no test pins, and its diff is in the
failure message. ``rlgrade validate NAME`` with the defaults (five seeds, a time budget of
mutants) is what an author runs by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pytest_rlgrade.manifest import discover_tasks

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(discover_tasks(ROOT / "tasks"))
MUTANTS = 20


@pytest.mark.slow
@pytest.mark.validate
@pytest.mark.parametrize("task", SHIPPED)
def test_the_shipped_task_passes_rlgrade_validate(task: str, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "pytest_rlgrade",
        "validate",
        task,
        "--root",
        str(ROOT),
        "--seed",
        "1",
        "--seeds",
        "2",
        "--mutants",
        str(MUTANTS),
        "--budget",
        "3000",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=ROOT, stdin=subprocess.DEVNULL)
    survivors = sorted((tmp_path / task / "survivors").glob("*"))
    shown = "\n".join(p.read_text(errors="replace")[:1500] for p in survivors[:5])
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}\nsurvivors:\n{shown}"
    assert f"{task}: all checks pass" in done.stdout, done.stdout
