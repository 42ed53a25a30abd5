"""The grading options, settled in one place: command-line flag, then ini key, then default."""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
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
    root: Path = Path(".")
    instances: dict[str, str] = field(default_factory=dict)  # task -> the one dataset instance to grade


def report_path(report: str | None, report_ini: str, invocation_dir: Path) -> Path:
    """Where the report goes: ``--rlgrade-report``, the ini key, or the default."""
    value, source = _option(report, report_ini or DEFAULT_REPORT)
    if not str(value).strip():
        raise SettingsError(f"--rlgrade-report: an empty path from {source}")
    path = Path(value)
    return path if path.is_absolute() else invocation_dir / path


def find_root(option: str | None, ini: str, inipath: Path | None, invocation_dir: Path, rootpath: Path) -> Path:
    """The repository holding ``tasks/``: ``--rlgrade-root``, the ini key ``rlgrade_root``
    (relative to the ini file), else the nearest of the invocation folder and its parents that has
    a ``tasks/`` folder, else pytest's rootdir (issue #8: grading works from any folder)."""
    if option or ini:
        where = "--rlgrade-root" if option else f"rlgrade_root in {inipath}"
        base = invocation_dir if option else (inipath.parent if inipath else invocation_dir)
        root = (base / (option or ini)).resolve()
        if not (root / "tasks").is_dir():
            raise SettingsError(f"{where}: {root} has no tasks/ folder")
        return root
    for candidate in (invocation_dir, *invocation_dir.parents, rootpath):
        if (candidate / "tasks").is_dir() and any((candidate / "tasks").glob("*/task.yaml")):
            return candidate.resolve()
    raise SettingsError(
        f"no tasks/*/task.yaml in {invocation_dir} or its parents: run pytest from the repository that holds "
        "tasks/, or name it with --rlgrade-root DIR (ini: rlgrade_root)"
    )


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
    root: Path = Path("."),
) -> Settings:
    """Check every option's value and fill in defaults; raises :class:`SettingsError`."""
    if not submission:
        raise SettingsError("--submission needs a value: starter, reference or a PATH")
    report_file = report_path(report, report_ini, invocation_dir)
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
    names: list[str] = []
    instances: dict[str, str] = {}
    for entry in tasks:
        name, colon, instance = entry.partition(":")
        if not name or (colon and not instance):
            raise SettingsError(f"--task {entry!r}: give NAME or NAME:ID")
        if name in instances and instances[name] != instance or (name in names and colon and name not in instances):
            raise SettingsError(f"--task {name}: one instance at a time (got {entry!r} and another)")
        if instance:
            instances[name] = instance
        names.append(name)
    return Settings(
        submission,
        tuple(dict.fromkeys(names)),
        report_file,
        minimum,
        seed_value,
        seed is not None,
        isolation_value,
        root,
        instances,
    )


def submission_folders(
    value: str, root: Path, invocation_dir: Path, tasks: dict[str, str]
) -> tuple[Path, dict[str, Path]]:
    """Where each task's submission is: ``{task: folder that should hold PACKAGE/}``.

    ``tasks`` maps the tasks to grade to their package names. ``value`` is ``starter``,
    ``reference`` (the repository's folders) or a PATH laid out like ``starter/`` or, for a single
    task, like ``starter/NAME/``. A folder that does not exist is a usage error; an existing one is
    always graded, whatever it holds (see :func:`package_problem`).
    """
    base = root / value if value in SHIPPED else Path(value)
    if not base.is_absolute():
        base = invocation_dir / base
    if not base.is_dir():
        raise SubmissionPathError(f"--submission {value}: no such folder ({base})")
    base = base.resolve()
    if value in SHIPPED:
        missing = [name for name in tasks if not (base / name).is_dir()]
        if missing:
            raise SubmissionPathError(
                f"--submission {value}: no folder for task {missing[0]!r} (expected {base / missing[0]}/)"
            )
        return base, {name: base / name for name in tasks}
    if len(tasks) == 1:
        ((name, package),) = tasks.items()

        def holds(folder: Path) -> bool:
            return os.path.lexists(folder / package) or os.path.lexists(folder / f"{package}.py")

        if holds(base / name):
            return base, {name: base / name}
        if holds(base) or not (base / name).is_dir():
            return base, {name: base}
        return base, {name: base / name}
    return base, {name: base / name for name in tasks}


def package_problem(folder: Path, package: str) -> str | None:
    """Why ``folder`` holds no gradable ``package`` (None when it does): the submission then earns
    nothing, flagged ``missing_package`` (issue #8: an empty or misnamed folder imported as a
    namespace package, and the policy was told ``has no attribute ...``)."""
    expected = f"expected a package {package}/ (with __init__.py) or a module {package}.py"
    if not folder.is_dir():
        return f"{expected} in {folder}/, which does not exist"
    directory, module = folder / package, folder / f"{package}.py"
    if directory.is_symlink() or module.is_symlink():
        return f"{expected} in {folder}/: {package} there is a symbolic link, and submissions are plain files"
    if directory.is_dir():
        if (directory / "__init__.py").is_file():
            return None
        return f"{expected} in {folder}/: {directory}/ has no __init__.py (a namespace package is not a submission)"
    if module.is_file():
        return None
    return f"{expected} in {folder}/, which holds none"
