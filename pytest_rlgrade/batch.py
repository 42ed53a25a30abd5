"""Batch grading on the command line (issue #9): ``--submission`` repeated or ``--submissions FILE``.

The pytest process collects and runs nothing itself: it hands the batch to a
:class:`~pytest_rlgrade.engine.Grader` (the engine the Python API uses, so a rollout gets the same
report either way), writes one report per submission and ``batch.jsonl`` into
``--rlgrade-report-dir``, shows progress, and ends with one summary row per submission.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .outcomes import BELOW_MIN, INTERNAL, INTERRUPTED, OK, USAGE
from .settings import SettingsError

DEFAULT_REPORT_DIR = "rlgrade-reports"
# Which exit status speaks for the batch when its submissions' differ: the worst.
SEVERITY = {OK: 0, BELOW_MIN: 1, INTERRUPTED: 2, INTERNAL: 3, USAGE: 4}


def read_submissions_file(path: Path) -> list[str]:
    """One submission path per line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"--submissions {path}: cannot be read ({exc})") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def batch_status(statuses: list[int]) -> int:
    return max(statuses, key=lambda s: SEVERITY.get(s, 3), default=OK)


def report_name(index: int, submission: str) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(submission).name)[:40] or "submission"
    return f"{index + 1:04d}-{stem}.json"


@dataclass
class BatchSession:
    config: pytest.Config
    root: Path
    submissions: list[str]
    task: str
    instance: str | None
    report_dir: Path
    workers: int
    seed: int | None
    min_reward: float | None
    isolation: str
    run_all: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    status: int = OK
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_config(cls, config: pytest.Config, root: Path) -> BatchSession:
        from .manifest import discover_tasks
        from .settings import settle

        invocation = config.invocation_params.dir
        submissions = list(config.getoption("submission") or [])
        listed = config.getoption("rlgrade_submissions")
        if listed:
            submissions += read_submissions_file(invocation / listed)
        if not submissions:
            raise SettingsError(f"--submissions {listed}: lists no submission")
        if getattr(config.option, "numprocesses", None):
            raise SettingsError("a batch runs its own workers: use --rlgrade-workers N, not -n")
        tasks = list(dict.fromkeys(config.getoption("rlgrade_tasks")))
        found = discover_tasks(root / "tasks")
        if not tasks and len(found) == 1:
            tasks = list(found)
        if len(tasks) != 1:
            raise SettingsError(f"a batch grades one task: name it with --task (tasks: {', '.join(found)})")
        settings = settle(
            submission=submissions[0],
            tasks=tasks,
            report=None,
            report_ini="",
            min_reward=config.getoption("rlgrade_min_reward"),
            seed=config.getoption("rlgrade_seed"),
            isolation=config.getoption("rlgrade_isolation"),
            isolation_ini=config.getini("rlgrade_isolation"),
            invocation_dir=invocation,
            root=root,
        )
        name, _, instance = tasks[0].partition(":")
        if name not in found:
            raise SettingsError(f"--task: no task named {name} in {root / 'tasks'} (tasks: {', '.join(found)})")
        workers_text = config.getoption("rlgrade_workers")
        try:
            workers = int(workers_text) if workers_text is not None else os.cpu_count() or 1
        except ValueError:
            raise SettingsError(f"--rlgrade-workers: {workers_text!r} is not a whole number") from None
        if workers < 1:
            raise SettingsError(f"--rlgrade-workers: {workers} is not at least 1")
        report_dir = Path(config.getoption("rlgrade_report_dir") or DEFAULT_REPORT_DIR)
        paths = []
        for value in submissions:
            path = value if value in ("starter", "reference") else str((invocation / value).resolve())
            if value not in ("starter", "reference") and not Path(path).is_dir():
                raise SettingsError(f"--submission {value}: no such folder ({path})")
            paths.append(path)
        return cls(
            config=config,
            root=root,
            submissions=paths,
            task=name,
            instance=instance or None,
            report_dir=report_dir if report_dir.is_absolute() else invocation / report_dir,
            workers=workers,
            seed=settings.seed if settings.seed_given else None,
            min_reward=settings.min_reward,
            isolation=settings.isolation,
            run_all=bool(config.getoption("rlgrade_run_all")),
        )

    # -- the run ---------------------------------------------------------------------------------

    def _clear(self) -> None:
        """The folder holds this batch's reports or nothing of an earlier one."""
        self.report_dir.mkdir(parents=True, exist_ok=True)
        for old in [*self.report_dir.glob("[0-9][0-9][0-9][0-9]-*.json"), self.report_dir / "batch.jsonl"]:
            old.unlink(missing_ok=True)

    def pytest_collection(self, session: pytest.Session) -> bool:
        return True  # the batch's workers collect; this process runs no test itself

    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        from .engine import Grader
        from .report import write_report_data

        self._clear()
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        total = len(self.submissions)
        with Grader(
            self.root,
            tasks=[self.task],
            workers=self.workers,
            seed=self.seed,
            isolation=self.isolation,
            run_all=self.run_all,
        ) as grader:
            done = 0
            batch = self.report_dir / "batch.jsonl"
            with open(batch, "a", encoding="utf-8") as lines:
                for index, report in grader.grade_iter(self.submissions, task=self.task, instance=self.instance):
                    done += 1
                    data = report.model_dump(mode="json")
                    status = self._status(data)
                    data["exit_status"] = status
                    name = report_name(index, self.submissions[index])
                    write_report_data(data, self.report_dir / name)
                    flags = sorted({flag for task in data["tasks"] for flag in task["flags"]})
                    row = {
                        "index": index,
                        "submission": self.submissions[index],
                        "report": name,
                        "reward": data["reward"],
                        "flags": flags,
                        "seed": data["seed"],
                        "exit_status": status,
                    }
                    self.rows.append(row)
                    lines.write(json.dumps(row) + "\n")
                    lines.flush()
                    if terminal is not None:
                        reward = "n/a" if data["reward"] is None else f"{data['reward']:.4f}"
                        terminal.write_line(f"[{done}/{total}] reward {reward} {self.submissions[index]}")
        self.status = batch_status([row["exit_status"] for row in self.rows])
        return True

    def _status(self, data: dict[str, Any]) -> int:
        status = int(data["exit_status"])
        if (
            status == OK
            and self.min_reward is not None
            and data["reward"] is not None
            and data["reward"] < self.min_reward
        ):
            return BELOW_MIN
        return status

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if exitstatus in (OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = self.status

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        result = yield
        if self.rows:
            from tabulate import tabulate

            terminalreporter.section("rlgrade batch")
            table = [
                [
                    row["index"] + 1,
                    row["submission"],
                    "n/a" if row["reward"] is None else f"{row['reward']:.4f}",
                    ", ".join(row["flags"]) or "-",
                ]
                for row in sorted(self.rows, key=lambda r: r["index"])
            ]
            for line in tabulate(
                table, headers=["#", "submission", "reward", "flags"], disable_numparse=True
            ).splitlines():
                terminalreporter.write_line(line)
            rewards = [row["reward"] for row in self.rows if row["reward"] is not None]
            mean = f"{sum(rewards) / len(rewards):.4f}" if rewards else "n/a"
            terminalreporter.write_line(
                f"{len(self.rows)} submissions of {self.task} graded in {time.monotonic() - self.started:.1f} s, "
                f"mean reward {mean}; reports: {self.report_dir} (batch.jsonl)"
            )
            if self.min_reward is not None:
                below = sum(1 for row in self.rows if row["exit_status"] == BELOW_MIN)
                terminalreporter.write_line(f"{below} of {len(self.rows)} below --min-reward {self.min_reward:g}")
        return result
