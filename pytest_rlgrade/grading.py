"""The grading session: the stateful plugin registered when ``--submission`` is given.

It decides which collected tests belong to which task, gives each test its ``submission``, turns
the reports pytest makes into outcomes, asks for each task's reward, and writes the report. All of
it runs in the supervisor; nothing here imports submission code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .client import Budget, Submission, TaskBudget
from .errors import (
    ManifestError,
    SandboxUnavailable,
    SubmissionFault,
    SubmissionPathError,
    TaskError,
    printable,
)
from .manifest import Task, discover_tasks, is_gate, load_task, markers_named, weight_of
from .report import (
    Counts,
    MetricResult,
    Report,
    SandboxInfo,
    TaskReport,
    TestResult,
    validate_report_data,
    write_report_data,
)
from .reward import GradedTest, MeasuredMetric, metric_credit, overall_reward
from .settings import Settings, submission_folders

if TYPE_CHECKING:
    from .sandbox import Sandbox

MESSAGE_LIMIT = 2000
# The exit statuses grading uses are pytest's own: graded (0), below --min-reward or a starter over
# its cap (1, as failed tests), interrupted (2), harness or task failure (3), usage error (4).
OK = pytest.ExitCode.OK
BELOW_MIN = pytest.ExitCode.TESTS_FAILED
INTERRUPTED = pytest.ExitCode.INTERRUPTED
INTERNAL = pytest.ExitCode.INTERNAL_ERROR
USAGE = pytest.ExitCode.USAGE_ERROR


@dataclass
class ExpectedTest:
    nodeid: str
    test_id: str
    weight: float
    gate: bool
    hidden: bool
    outcome: str = "missing"
    message: str | None = None
    duration: float = 0.0
    fault: str | None = None
    messages: dict[str, str] = field(default_factory=dict)  # by phase, made in makereport


@dataclass
class TaskState:
    task: Task
    submission_root: Path
    tests: dict[str, ExpectedTest] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    error: str | None = None
    sandbox: Sandbox | None = None
    started: float | None = None
    finished: float | None = None
    budget: TaskBudget | None = None
    scratch: Path | None = None  # in-process mode only
    workdirs: int = 0

    def in_process_dir(self) -> Path:
        """In-process mode's scratch: the public files copied once, as the sandbox has them."""
        if self.scratch is None:
            import tempfile

            from .sandbox import copy_public

            self.scratch = Path(tempfile.mkdtemp(prefix=f"rlgrade-{self.task.name}-"))
            copy_public(self.task, self.scratch / "public")
        return self.scratch

    def fault(self, kind: str) -> None:
        self.flags.add(kind)
        if self.budget is not None:
            self.budget.record(kind)


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 15] + " ... (cut)"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _message_of(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return _short(str(crash.message))
    return _short(str(report.longrepr))


class GradingSession:
    """Registered as a plugin for the whole run when grading."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.root = config.rootpath
        self.started = time.monotonic()
        found = discover_tasks(self.root / "tasks")
        wanted = list(settings.tasks) or list(found)
        unknown = [name for name in wanted if name not in found]
        if unknown:
            known = ", ".join(found) or "none"
            raise pytest.UsageError(
                f"--task: no task named {', '.join(unknown)} in {self.root / 'tasks'} (tasks: {known})"
            )
        if not wanted:
            raise pytest.UsageError(f"no tasks to grade: no tasks/*/task.yaml under {self.root}")
        try:
            tasks = {name: load_task(found[name]) for name in wanted}
            self.submission_path, roots = submission_folders(
                settings.submission, self.root, config.invocation_params.dir, {n: t.package for n, t in tasks.items()}
            )
        except (ManifestError, SubmissionPathError) as exc:
            raise pytest.UsageError(str(exc)) from None
        self.states = {name: TaskState(task, roots[name]) for name, task in tasks.items()}
        self.confinement: set[str] = set()
        self.written: dict[str, Any] | None = None
        for state in self.states.values():
            for marker in markers_named(state.task.manifest.reward):
                config.addinivalue_line("markers", f"{marker}: weighted by a task's reward spec")

    # -- collection --------------------------------------------------------------------------------

    def task_of(self, path: Path) -> TaskState | None:
        for state in self.states.values():
            if path.is_relative_to(state.task.tests_dir):
                return state
        return None

    def uses_hypothesis(self) -> bool:
        """Whether any graded task's test code mentions Hypothesis."""
        return any(
            "hypothesis" in path.read_text(encoding="utf-8", errors="replace")
            for state in self.states.values()
            for path in state.task.tests_dir.rglob("*.py")
        )

    def test_paths(self) -> list[str]:
        return [str(state.task.tests_dir) for state in self.states.values()]

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            state = self.task_of(self.root / report.nodeid.split("::")[0])
            if state is not None:
                state.flags.add("task_error")
                last = (report.longreprtext.strip().splitlines() or ["?"])[-1].strip()
                state.error = _short(f"collecting {report.nodeid} failed: {last}")

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        kept, dropped = [], []
        for item in items:
            state = self.task_of(Path(item.path))
            if state is None:
                dropped.append(item)
                continue
            kept.append(item)
            spec = state.task.manifest.reward
            relative = Path(item.path).relative_to(state.task.tests_dir).as_posix()
            test_id = relative + item.nodeid[item.nodeid.index("::") :] if "::" in item.nodeid else relative
            markers = {m.name for m in item.iter_markers()}
            state.tests[item.nodeid] = ExpectedTest(
                item.nodeid,
                test_id,
                weight_of(spec, test_id, markers),
                is_gate(spec, test_id, markers),
                "hidden" in markers,
            )
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for state in self.states.values():
            if not state.tests and state.error is None:
                state.flags.add("task_error")
                state.error = f"no tests were collected from {state.task.tests_dir}"
        if self.settings.isolation == "sandbox":
            from .sandbox import Sandbox

            for state in self.states.values():
                if state.tests:
                    state.sandbox = Sandbox(state.task, state.submission_root, on_flag=state.flags.add)
                    try:
                        state.sandbox.start()  # warms up while the first tests run
                    except SandboxUnavailable as exc:
                        state.flags.add("infra_error")
                        state.error = str(exc)

    # -- the fixtures' backends ----------------------------------------------------------------------

    def state_of(self, item: pytest.Item) -> TaskState:
        state = self.task_of(Path(item.path))
        if state is None:
            raise TaskError(f"{item.nodeid} is not a test of a graded task")
        return state

    def open_submission(self, item: pytest.Item) -> Submission:
        state = self.state_of(item)
        now = time.monotonic()
        limits = state.task.manifest.limits
        if state.budget is None:
            state.budget = TaskBudget(now + limits.task_timeout, limits.fault_budget)
        budget = Budget(limits.call_timeout, now + limits.test_timeout, state.budget)
        if state.sandbox is not None:
            state.sandbox.ensure_ready()
            self.confinement.update(state.sandbox.confinement)
            workdir = state.sandbox.new_workdir()
            connection: Any = state.sandbox.connect(workdir)
            public = state.sandbox.public_dir
        else:
            from .inprocess import InProcessConnection

            state.workdirs += 1
            workdir = state.in_process_dir() / f"test-{state.workdirs}"
            workdir.mkdir()
            public = state.in_process_dir() / "public"
            connection = InProcessConnection(
                [state.submission_root, public], state.task.package, workdir, limits.message_mb * 1024 * 1024
            )
        return Submission(
            state.task.name,
            state.task.package,
            workdir,
            public,
            connection,
            budget,
            limits.message_mb * 1024 * 1024,
            state.fault,
        )

    def record_metric(self, item: pytest.Item, name: str, value: Any) -> None:
        state = self.state_of(item)
        declared = state.task.manifest.reward.metrics
        if name not in declared:
            raise TaskError(
                f"metric {name!r} is not declared in {state.task.manifest_path} "
                f"(declared: {', '.join(declared) or 'none'})"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TaskError(f"metric {name!r} needs a number, got {type(value).__name__}")
        state.metrics[name] = float(value)

    # -- outcomes -------------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        state = self.task_of(Path(item.path))
        expected = state.tests.get(item.nodeid) if state is not None else None
        if expected is not None and report.longrepr is not None:
            expected.messages[report.when] = printable(_message_of(report))
            if not isinstance(report.longrepr, tuple):
                # What the submission printed or raised can reach the terminal through a test's
                # failure (an assertion message quoting its stderr, say): no escape sequences.
                report.longrepr = printable(str(report.longrepr))
        if state is not None and call.excinfo is not None:
            exc = call.excinfo.value
            if isinstance(exc, SubmissionFault) and expected is not None:
                expected.fault = exc.kind
            elif isinstance(exc, SandboxUnavailable):
                state.flags.add("infra_error")
                state.error = _short(str(exc))
            elif isinstance(exc, TaskError):
                state.flags.add("task_error")
                state.error = _short(str(exc))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self.task_of(self.root / report.nodeid.split("::")[0])
        expected = state.tests.get(report.nodeid) if state else None
        if expected is None:
            return
        expected.duration += report.duration
        wasxfail = hasattr(report, "wasxfail")
        if report.when == "setup":
            if report.failed:
                expected.outcome, expected.message = "error", expected.messages.get(report.when)
            elif report.skipped:
                expected.outcome, expected.message = "skipped", expected.messages.get(report.when)
        elif report.when == "call":
            if report.passed:
                expected.outcome = "xpassed" if wasxfail else "passed"
            elif report.skipped:
                expected.outcome = "xfailed" if wasxfail else "skipped"
                expected.message = expected.messages.get(report.when)
            else:
                expected.outcome, expected.message = "failed", expected.messages.get(report.when)
        elif report.failed and expected.outcome == "passed":
            expected.outcome, expected.message = "error", expected.messages.get(report.when)
        if expected.fault and expected.outcome != "passed":
            expected.outcome = (
                expected.fault if expected.fault in ("timeout", "crash", "memory", "protocol") else "failed"
            )

    # -- the end --------------------------------------------------------------------------------------

    def close_sandboxes(self) -> None:
        import shutil

        for state in self.states.values():
            if state.sandbox is not None:
                state.sandbox.close()
            if state.scratch is not None:
                shutil.rmtree(state.scratch, ignore_errors=True)
                state.scratch = None

    def task_report(self, state: TaskState) -> TaskReport:
        spec = state.task.manifest.reward
        tests = list(state.tests.values())
        if any(t.outcome == "missing" for t in tests):
            state.flags.add("missing_tests")
        graded = [GradedTest(t.test_id, t.outcome, t.weight, t.gate) for t in tests]
        measured = [MeasuredMetric(name, m, state.metrics.get(name)) for name, m in spec.metrics.items()]
        reward: float | None = None
        if state.error is None:
            reward = self.config.hook.pytest_rlgrade_task_reward(task=state.task, tests=graded, metrics=measured)
            if isinstance(reward, bool) or not isinstance(reward, (int, float)) or not 0 <= reward <= 1:
                state.flags.add("infra_error")
                state.error = f"a pytest_rlgrade_task_reward hook computed {reward!r}, not a number in [0, 1]"
                reward = None
        if reward is not None and self.settings.submission == "starter" and reward > spec.starter_cap + 1e-12:
            state.flags.add("starter_over_cap")
        passed = sum(t.outcome == "passed" for t in tests)
        missing = sum(t.outcome == "missing" for t in tests)
        return TaskReport(
            name=state.task.name,
            reward=reward,
            flags=sorted(state.flags),  # type: ignore[arg-type]
            error=state.error,
            counts=Counts(total=len(tests), passed=passed, failed=len(tests) - passed, missing=missing),
            duration=max(0.0, (state.finished or time.monotonic()) - (state.started or time.monotonic())),
            tests=[
                TestResult(
                    node_id=t.nodeid,
                    outcome=t.outcome,  # type: ignore[arg-type]
                    weight=t.weight,
                    gate=t.gate,
                    duration=t.duration,
                    message=None if t.hidden or t.outcome == "passed" else t.message,
                )
                for t in tests
            ],
            metrics=[
                MetricResult(
                    name=m.name,
                    value=_finite(m.value),
                    target=m.spec.target,
                    baseline=m.spec.baseline or 0.0,
                    direction=m.spec.direction,
                    weight=m.spec.weight,
                    credit=metric_credit(m.spec, m.value),
                )
                for m in measured
            ],
        )

    @pytest.hookimpl(trylast=True)
    def pytest_rlgrade_task_reward(self, task: Task, tests: list[GradedTest], metrics: list[MeasuredMetric]) -> float:
        from .reward import task_reward

        return task_reward(tests, metrics)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.close_sandboxes()
        if exitstatus == USAGE:
            return
        interrupted = exitstatus in (INTERRUPTED, INTERNAL)
        for state in self.states.values():
            if interrupted and state.error is None and any(t.outcome == "missing" for t in state.tests.values()):
                state.flags.add("infra_error")
                state.error = "grading was interrupted before it finished"
        tasks = [self.task_report(state) for state in self.states.values()]
        overall = overall_reward(t.reward for t in tasks)
        if any(t.flags and {"task_error", "infra_error"} & set(t.flags) for t in tasks):
            status = INTERNAL
        elif overall is None:
            status = INTERRUPTED
        elif (
            self.settings.min_reward is not None
            and overall < self.settings.min_reward
            or any("starter_over_cap" in t.flags for t in tasks)
        ):
            status = BELOW_MIN
        else:
            status = OK
        report = Report(
            submission=self.settings.submission,
            submission_path=str(self.submission_path),
            seed=self.settings.seed,
            reward=overall,
            exit_status=int(status),
            duration=time.monotonic() - self.started,
            sandbox=SandboxInfo(
                isolation=self.settings.isolation,  # type: ignore[arg-type]
                confinement=sorted(self.confinement),
            ),
            tasks=tasks,
        )
        data = report.model_dump(mode="json")
        status = self.publish(data, status)
        session.exitstatus = status

    def publish(self, data: dict[str, Any], status: pytest.ExitCode) -> pytest.ExitCode:
        """Let hooks modify the report, write it, let hooks forward it; the exit status to use.

        Nothing graded is lost: a hook that breaks the report gets the unmodified one written,
        and a report that cannot be written goes to stderr, each with exit status 3."""
        import copy
        import json
        import sys

        import jsonschema

        original = copy.deepcopy(data)
        writer = self.config.get_terminal_writer()
        self.config.hook.pytest_rlgrade_modify_report(config=self.config, report=data)
        try:
            validate_report_data(data)
        except jsonschema.ValidationError as exc:
            writer.line(
                f"rlgrade: a pytest_rlgrade_modify_report hook made the report invalid "
                f"({exc.message} at {'/'.join(map(str, exc.absolute_path)) or 'the top'}); "
                "writing it unmodified",
                red=True,
            )
            data, status = original, INTERNAL
            data["exit_status"] = int(status)
        try:
            write_report_data(data, self.settings.report)
        except OSError as exc:
            writer.line(
                f"rlgrade: cannot write the report to {self.settings.report}: {exc.strerror or exc}; here it is:",
                red=True,
            )
            print(json.dumps(data, indent=2), file=sys.stderr)
            self.written = data
            return INTERNAL
        self.written = data
        self.config.hook.pytest_rlgrade_report_written(config=self.config, path=self.settings.report, report=data)
        return status

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        state = self.task_of(self.root / nodeid.split("::")[0])
        if state is not None and state.started is None:
            state.started = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        state = self.task_of(self.root / nodeid.split("::")[0])
        if state is not None:
            state.finished = time.monotonic()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is None:
            return
        from .summary import summary_lines

        terminalreporter.section("rlgrade")
        for line in summary_lines(self.written, self.settings.report):
            terminalreporter.write_line(line)
