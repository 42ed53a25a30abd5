"""The grading options, settled in one place: command-line flag, then ini key, then default."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import SubmissionPathError

ISOLATIONS = ("sandbox", "none")
SHIPPED = ("starter", "reference")
DEFAULT_REPORT = "rlgrade-report.json"


class SettingsError(ValueError):
    """An option has a bad value; the message says which option and where it came from."""


@dataclass(frozen=True)
class Settings:
    submission: str
    tasks: tuple[str, ...]
    report: Path
    min_reward: float | None
    seed: int
    seed_given: bool
    isolation: str


def _option(value: Any, ini: Any) -> tuple[Any, str]:
    if value is not None:
        return value, "the command line"
    return ini, "the ini file"


def settle(
    *,
    submission: str,
    tasks: list[str],
    report: str | None,
    report_ini: str,
    min_reward: str | None,
    seed: str | None,
    isolation: str | None,
    isolation_ini: str,
    invocation_dir: Path,
) -> Settings:
    """Check every option's value and fill in defaults; raises :class:`SettingsError`."""
    if not submission:
        raise SettingsError("--submission needs a value: starter, reference or a PATH")
    report_value, source = _option(report, report_ini or DEFAULT_REPORT)
    if not str(report_value).strip():
        raise SettingsError(f"--rlgrade-report: an empty path from {source}")
    report_path = Path(report_value)
    if not report_path.is_absolute():
        report_path = invocation_dir / report_path
    minimum = None
    if min_reward is not None:
        try:
            minimum = float(min_reward)
        except ValueError:
            raise SettingsError(f"--min-reward: {min_reward!r} is not a number") from None
        if not (math.isfinite(minimum) and 0 <= minimum <= 1):
            raise SettingsError(f"--min-reward: {min_reward!r} is not between 0 and 1")
    if seed is None:
        seed_value = secrets.randbelow(2**32)
    else:
        try:
            seed_value = int(seed)
        except ValueError:
            raise SettingsError(f"--rlgrade-seed: {seed!r} is not an integer") from None
        if not 0 <= seed_value < 2**63:
            raise SettingsError(f"--rlgrade-seed: {seed!r} is out of range (0 to 2**63-1)")
    isolation_value, source = _option(isolation, isolation_ini or "sandbox")
    if isolation_value not in ISOLATIONS:
        raise SettingsError(f"invalid isolation {isolation_value!r} from {source}: choose from {', '.join(ISOLATIONS)}")
    return Settings(
        submission, tuple(dict.fromkeys(tasks)), report_path, minimum, seed_value, seed is not None, isolation_value
    )


def submission_folders(
    value: str, root: Path, invocation_dir: Path, tasks: dict[str, str]
) -> tuple[Path, dict[str, Path]]:
    """Where each task's submission is: ``{task: folder holding PACKAGE/}``.

    ``tasks`` maps the tasks to grade to their package names. ``value`` is ``starter``,
    ``reference`` (the repository's folders) or a PATH laid out like ``starter/`` or, for a single
    task, like ``starter/NAME/``.
    """
    base = root / value if value in SHIPPED else Path(value)
    if not base.is_absolute():
        base = invocation_dir / base
    if not base.is_dir():
        raise SubmissionPathError(f"--submission {value}: no such folder ({base})")
    base = base.resolve()
    if len(tasks) == 1 and value not in SHIPPED:
        ((name, package),) = tasks.items()
        if not (base / name / package).exists() and ((base / package).exists() or (base / f"{package}.py").exists()):
            return base, {name: base}
    folders = {}
    for name in tasks:
        if not (base / name).is_dir():
            hint = "" if len(tasks) > 1 else f" or {base}/{tasks[name]}/"
            raise SubmissionPathError(
                f"--submission {value}: no folder for task {name!r} (expected {base}/{name}/{hint})"
            )
        folders[name] = base / name
    return base, folders
