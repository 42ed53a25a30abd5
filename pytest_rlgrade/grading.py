"""The grading session: the stateful plugin registered when ``--submission`` is given.

It schedules and records; ``outcomes.py`` decides. It finds which collected tests belong to which
task, gives each test its ``submission``, annotates each test report with what grading needs
(weight, gate, fault, message, metrics, the task's flags), folds annotated reports into outcomes,
and writes the report. Nothing here imports submission code.

The same session plays every part of a pytest-xdist run (issue #8): on a worker it runs tests and
annotates their reports, which xdist carries to the controller; the controller, which runs no
test, folds them into the one report. A plain run does both in one process.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hypothesis_replay, scratch
from .client import Budget, Submission, TaskBudget
from .errors import (
    ManifestError,
    SandboxUnavailable,
    SubmissionFault,
    SubmissionPathError,
    TaskError,
    printable,
)
from .manifest import (
    Task,
    discover_tasks,
    is_gate,
    load_instances,
    load_task,
    markers_named,
    selector_matches,
    weight_of,
)
from .outcomes import INTERNAL, USAGE, TestRecord, exit_status, short, task_report
from .report import Report, SandboxInfo, TaskReport, validate_report_data, write_report_data
from .reward import overall_reward
from .settings import Settings, package_problem, submission_folders

if TYPE_CHECKING:
    from .sandbox import Sandbox

ANNOTATION = "rlgrade"


class Role(Enum):
    """What this process does in the run: everything, or its half of a pytest-xdist run."""

    SINGLE = "single"
    CONTROLLER = "controller"
    WORKER = "worker"


@dataclass
class TaskState:
    task: Task
    submission_root: Path
    tests: dict[str, TestRecord] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    metric_sources: dict[str, str] = field(default_factory=dict)  # metric -> the test that recorded it
    flags: set[str] = field(default_factory=set)
    error: str | None = None
    reason: str | None = None  # the submission earns nothing without its tests running
    gate_failed: str | None = None  # the first gate that did not pass: the rest are not run
    sandbox: Sandbox | None = None
    started: float | None = None
    finished: float | None = None
    budget: TaskBudget | None = None
    scratch: Path | None = None  # in-process mode only
    workdirs: int = 0
    instance: str | None = None  # the one dataset instance graded, if one was chosen
    instances: list[dict[str, Any]] = field(default_factory=list)  # the rows its tests run on
    test_metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # nodeid -> recorded here
    faults: dict[str, str] = field(default_factory=dict)  # nodeid -> fault kind, recorded here

    def in_process_dir(self) -> Path:
        """In-process mode's scratch: the public files copied once, as the sandbox has them."""
        if self.scratch is None:
            from .sandbox import copy_public

            self.scratch = scratch.make(f"rlgrade-{self.task.name}-")
            copy_public(self.task, self.scratch / "public")
        return self.scratch

    def not_run(self, run_all: bool) -> str | None:
        """Why the next test is not run, if it is not: the submission has no package, or a gate
        already failed (the reward is 0 whatever the rest do; ``--rlgrade-run-all`` runs them)."""
        if self.reason is not None:
            return f"not run: {self.reason}"
        if self.gate_failed is not None and not run_all:
            return f"not run: the gate {self.gate_failed} did not pass"
        return None

    def fault(self, kind: str) -> None:
        self.flags.add(kind)
        if self.budget is not None:
            self.budget.record(kind)

    def fail(self, flag: str, error: str) -> None:
        """The task cannot be graded (``task_error`` or ``infra_error``): the first reason stays."""
        self.flags.add(flag)
        if self.error is None:
            self.error = short(error)

    def scrub_paths(self, text: str) -> str:
        """Messages never show where the sandbox lives on the grading machine (issue #8), nor
        which of its trees served the submission: its copy reads as ``<submission>`` and its
        scratch as ``<scratch>``, so that one answer reads the same in every grading."""
        sandbox = self.sandbox
        places: list[tuple[Path | None, str]] = [
            # Most specific first: the copy and the scratch sit inside the sandbox's root.
            (sandbox.submission_dir if sandbox else None, "<submission>"),
            (sandbox.scratch if sandbox else None, "<scratch>"),
            (sandbox.root if sandbox else None, "<sandbox>"),
            (self.scratch, "<sandbox>"),
        ]
        for root, name in places:
            if root is not None:
                text = text.replace(str(root), name)
        return text.replace(str(self.submission_root), "<submission>")


def _message_of(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return short(str(crash.message))
    return short(str(report.longrepr))


def _unknown_instance(task: str, chosen: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = ", ".join(row["id"] for row in rows[:5]) + (", ..." if len(rows) > 5 else "")
    raise pytest.UsageError(f"--task {task}:{chosen}: no instance {chosen!r} (instances: {known})")


def _escaped(longrepr: Any, scrub: Any) -> Any:
    """A failure's representation with control characters escaped and sandbox paths replaced."""
    from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTracebackNative

    text = scrub(printable(str(longrepr)))
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return text
    location = ReprFileLocation(crash.path, crash.lineno, scrub(printable(str(crash.message))))
    return ReprExceptionInfo(reprtraceback=ReprTracebackNative(text.splitlines(keepends=True)), reprcrash=location)


def crash_only_failures(items: list[pytest.Item]) -> None:
    """Where nobody reads the terminal (a grader worker's gradings): a failure is represented by
    its crash line alone, the only part the report keeps (see :func:`_message_of`).

    pytest lays out the whole traceback of every failure first, cutting and filtering it: a few
    milliseconds each, in every style, ``native`` included, paid by every failing rollout. The
    crash line is ``ExceptionInfo._getreprcrash()`` in every style (the outermost exception's
    last visible frame, and its text with notes), so the message is the same as on the command
    line. A failure pytest represents otherwise (a missing fixture, a conftest that cannot be
    imported, no visible frame) gets pytest's own representation. Private pytest API: the tests
    compare the messages of every shape of failure with the command line's."""
    from _pytest._code.code import ReprExceptionInfo, ReprTracebackNative
    from _pytest.config import ConftestImportFailure
    from _pytest.fixtures import FixtureLookupError

    for item in items:
        full = item._repr_failure_py

        def crash_only(excinfo: pytest.ExceptionInfo[BaseException], style: Any = None, full: Any = full) -> Any:
            if not isinstance(excinfo.value, (ConftestImportFailure, FixtureLookupError)):
                crash = excinfo._getreprcrash()
                if crash is not None:
                    return ReprExceptionInfo(reprtraceback=ReprTracebackNative([crash.message]), reprcrash=crash)
            return full(excinfo, style)

        item._repr_failure_py = crash_only  # type: ignore[method-assign]


def _annotation(report: pytest.TestReport) -> dict[str, Any] | None:
    for name, value in report.user_properties:
        if name == ANNOTATION and isinstance(value, dict):
            return value
    return None


class GradingSession:
    """Registered as a plugin for the whole run when grading."""

    def __init__(self, config: pytest.Config, settings: Settings, role: Role = Role.SINGLE) -> None:
        self.config = config
        self.settings = settings
        self.role = role
        self.root = settings.root
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
            for task in tasks.values():
                if not (task.folder / task.manifest.prompt).is_file():
                    # What the model is told: a task without it would be graded but never posed.
                    raise ManifestError(
                        task.manifest_path, "prompt", f"{task.manifest.prompt!r} does not exist in {task.folder}"
                    )
            self.submission_path, roots = submission_folders(
                settings.submission, self.root, config.invocation_params.dir, {n: t.package for n, t in tasks.items()}
            )
        except (ManifestError, SubmissionPathError) as exc:
            raise pytest.UsageError(str(exc)) from None
        self.states = {name: TaskState(task, roots[name]) for name, task in tasks.items()}
        # After a failed gate the other tests are skipped, unless asked; under pytest-xdist every
        # test runs (its workers cannot see each other's gates).
        self.run_all = bool(config.getoption("rlgrade_run_all", False)) or role is not Role.SINGLE
        for name, state in self.states.items():
            try:
                rows = load_instances(state.task)
            except ManifestError as exc:
                raise pytest.UsageError(str(exc)) from None
            chosen = settings.instances.get(name)
            if chosen is not None:
                if not rows:
                    raise pytest.UsageError(f"--task {name}:{chosen}: task {name} has no instances")
                rows = [row for row in rows if row["id"] == chosen] or _unknown_instance(name, chosen, rows)
                state.instance = chosen
            state.instances = rows
        for state in self.states.values():
            self._check_package(state)
        self.confinement: set[str] = set()
        self.written: dict[str, Any] | None = None
        # In a grader worker's fork: the worker reads the report back at once and nobody reads
        # the terminal, so the report is not synced to disk and the reward table is not drawn.
        self.handoff = False
        self._task_of_nodeid: dict[str, TaskState | None] = {}
        self.interrupted = False
        self.full_collection = config.args_source != pytest.Config.ArgsSource.ARGS
        for state in self.states.values():
            for marker in markers_named(state.task.manifest.reward):
                config.addinivalue_line("markers", f"{marker}: weighted by a task's reward spec")

    @staticmethod
    def _check_package(state: TaskState) -> None:
        state.reason = package_problem(state.submission_root, state.task.package)
        if state.reason is not None:
            state.flags.add("missing_package")
            package = state.submission_root / state.task.package
            if package.is_symlink() or package.with_name(f"{package.name}.py").is_symlink():
                state.flags.add("tamper")  # a link out to the reference or the tests

    # -- which task a test belongs to ------------------------------------------------------------

    def task_of(self, path: Path) -> TaskState | None:
        for state in self.states.values():
            if path.is_relative_to(state.task.tests_dir):
                return state
        return None

    def task_of_nodeid(self, nodeid: str) -> TaskState | None:
        """The task whose tests ``nodeid`` is in (asked by several hooks per test: remembered)."""
        try:
            return self._task_of_nodeid[nodeid]
        except KeyError:
            state = self._task_of_nodeid[nodeid] = self.task_of(self.config.rootpath / nodeid.split("::")[0])
            return state

    def uses_hypothesis(self) -> bool:
        """Whether any graded task's test code mentions Hypothesis."""
        return any(
            "hypothesis" in path.read_text(encoding="utf-8", errors="replace")
            for state in self.states.values()
            for path in state.task.tests_dir.rglob("*.py")
        )

    def test_paths(self) -> list[str]:
        return [str(state.task.tests_dir) for state in self.states.values()]

    def _record(self, state: TaskState, nodeid: str, path: Path, markers: set[str]) -> TestRecord:
        spec = state.task.manifest.reward
        relative = path.relative_to(state.task.tests_dir).as_posix()
        test_id = relative + nodeid[nodeid.index("::") :] if "::" in nodeid else relative
        return TestRecord(
            nodeid, test_id, weight_of(spec, test_id, markers), is_gate(spec, test_id, markers), "hidden" in markers
        )

    # -- collection ------------------------------------------------------------------------------

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            state = self.task_of_nodeid(report.nodeid)
            if state is not None:
                last = (report.longreprtext.strip().splitlines() or ["?"])[-1].strip()
                state.fail("task_error", f"collecting {report.nodeid} failed: {last}")

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        kept, dropped, gates = [], [], set()
        for item in items:
            state = self.task_of(Path(item.path))
            if state is None:
                dropped.append(item)
                continue
            kept.append(item)
            record = state.tests[item.nodeid] = self._record(
                state, item.nodeid, Path(item.path), {m.name for m in item.iter_markers()}
            )
            if record.gate:
                gates.add(item.nodeid)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        # Gates run first (the report keeps the collection's order): once one fails, the reward
        # is settled and the rest need not run.
        kept.sort(key=lambda item: item.nodeid not in gates)
        items[:] = kept

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        graded = [item.nodeid for item in items if self.task_of(Path(item.path)) is not None]
        if graded:
            # A test that did not run is never the submission's fault (issue #8): refuse the run.
            raise pytest.UsageError(
                f"{len(graded)} test(s) of the graded tasks were deselected ({graded[0]}...): a reward needs "
                "every test; to grade a subset, name test files or node ids on the command line"
            )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.role is Role.CONTROLLER:
            return
        for state in self.states.values():
            if not state.tests and state.error is None:
                state.fail("task_error", f"no tests were collected from {state.task.tests_dir}")
            if self.full_collection and state.instance is None:
                self._check_selectors(state)
        if not self.config.option.collectonly:
            self.start_sandboxes()

    def start_sandboxes(self) -> None:
        if self.settings.isolation != "sandbox":
            return
        for state in self.states.values():
            if state.tests and state.reason is None and state.error is None and state.sandbox is None:
                state.sandbox = self.config.hook.pytest_rlgrade_make_sandbox(
                    config=self.config,
                    task=state.task,
                    submission_root=state.submission_root,
                    on_flag=state.flags.add,
                )
                try:
                    state.sandbox.start()  # warms up while the first tests run
                except SandboxUnavailable as exc:
                    state.fail("infra_error", str(exc))

    def rebind(self, submission: str, seed: int, report: Path) -> None:
        """Grade another submission with what this session collected (the grading engine's
        workers collect once and fork a child per submission that calls this): everything that
        belongs to one submission starts afresh; what the collection found about the task stays."""
        import dataclasses

        self.settings = dataclasses.replace(self.settings, submission=submission, seed=seed, report=report)
        tasks = {name: state.task.package for name, state in self.states.items()}
        try:
            self.submission_path, roots = submission_folders(
                submission, self.root, self.config.invocation_params.dir, tasks
            )
        except SubmissionPathError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.started = time.monotonic()
        self.confinement = set()
        self.written = None
        self.interrupted = False
        for name, state in self.states.items():
            collected_error = state.error if "task_error" in state.flags else None
            state.flags = {"task_error"} if collected_error else set()
            state.error = collected_error
            state.submission_root = roots[name]
            self._check_package(state)
            state.metrics, state.metric_sources, state.test_metrics, state.faults = {}, {}, {}, {}
            state.sandbox = state.budget = state.scratch = state.started = state.finished = None
            state.gate_failed = None
            state.workdirs = 0
            for nodeid, record in list(state.tests.items()):
                state.tests[nodeid] = TestRecord(
                    record.nodeid, record.test_id, record.weight, record.gate, record.hidden
                )

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """A test that asks for ``rlgrade_instance`` runs once per instance graded."""
        if "rlgrade_instance" not in metafunc.fixturenames:
            return
        state = self.task_of(Path(metafunc.definition.path))
        if state is None or not state.instances:
            return
        metafunc.parametrize("rlgrade_instance", state.instances, ids=[row["id"] for row in state.instances])

    def _check_selectors(self, state: TaskState) -> None:
        """A weight or gate that picks no collected test is a manifest mistake that would pass
        silently (a gate that gates nothing): the task cannot be graded (issue #8)."""
        spec = state.task.manifest.reward
        records = list(state.tests.values())
        for key, selectors in (("reward.gates", spec.gates), ("reward.weights", list(spec.weights))):
            for selector in selectors:
                if selector.startswith("marker:"):
                    continue  # markers were checked when the records were made
                if not any(selector_matches(selector, r.test_id, ()) for r in records):
                    state.fail(
                        "task_error",
                        f"{state.task.manifest_path}: {key}: {selector!r} matches no collected test",
                    )

    @pytest.hookimpl(trylast=True)
    def pytest_rlgrade_make_sandbox(
        self, config: pytest.Config, task: Task, submission_root: Path, on_flag: Any
    ) -> Sandbox:
        from .sandbox import Sandbox

        return Sandbox(task, submission_root, on_flag=on_flag)

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
        elif self.settings.isolation == "sandbox":
            raise SandboxUnavailable(state.error or "the task's sandbox was not started")
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
        recorded = state.test_metrics.setdefault(item.nodeid, {})
        if name in recorded:
            raise TaskError(f"metric {name!r} was recorded twice by {item.nodeid}: record each metric once")
        recorded[name] = float(value)

    # -- running: a skipped start for a submission without its package -------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        state = self.task_of(Path(item.path))
        why = state.not_run(self.run_all) if state is not None else None
        if why is not None:
            pytest.skip(why)

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """A ``@given`` test runs over examples drawn once per seed (``hypothesis_replay``),
        except under ``-v``, where Hypothesis runs it and shrinks a failure for the reader."""
        if self.config.option.verbose > 0 or not hypothesis_replay.replayable(pyfuncitem.obj):
            return None
        funcargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        return hypothesis_replay.run(pyfuncitem.obj, funcargs, pyfuncitem.nodeid) or None

    # -- annotating reports (where tests run) ------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        state = self.task_of(Path(item.path))
        record = state.tests.get(item.nodeid) if state is not None else None
        if state is None or record is None:
            return report
        not_run = state.not_run(self.run_all) if report.when == "setup" else None
        if record.gate and (report.failed or report.skipped) and state.gate_failed is None:
            state.gate_failed = record.test_id
        message = None
        if report.longrepr is not None:
            message = state.scrub_paths(printable(_message_of(report)))
            if not isinstance(report.longrepr, tuple):
                # What the submission printed or raised can reach the terminal through a test's
                # failure (an assertion message quoting its stderr, say): no escape sequences, and
                # no sandbox paths. The crash line stays, for the one-line summary.
                report.longrepr = _escaped(report.longrepr, state.scrub_paths)
        if call.excinfo is not None:
            exc = call.excinfo.value
            if isinstance(exc, SubmissionFault):
                state.faults[item.nodeid] = exc.kind
            elif isinstance(exc, SandboxUnavailable):
                state.fail("infra_error", str(exc))
            elif isinstance(exc, TaskError):
                state.fail("task_error", str(exc))
        if state.sandbox is not None:
            self.confinement.update(state.sandbox.confinement)
        report.user_properties.append(
            (
                ANNOTATION,
                {
                    "task": state.task.name,
                    "test_id": record.test_id,
                    "weight": record.weight,
                    "gate": record.gate,
                    "hidden": record.hidden,
                    "fault": state.faults.get(item.nodeid),
                    "message": message,
                    "not_run": not_run,
                    "metrics": dict(state.test_metrics.get(item.nodeid, {})),
                    "flags": sorted(state.flags),
                    "error": state.error,
                    "confinement": sorted(self.confinement),
                },
            )
        )
        return report

    # -- folding reports into outcomes (where the report is written) -------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.role is Role.WORKER:
            return
        state = self.task_of_nodeid(report.nodeid)
        if state is None:
            return
        note = _annotation(report)
        if note is None:
            # Not made by a test of ours: pytest-xdist reports a test whose worker died this way.
            # The submission runs in the sandbox, not in that worker: the harness's failure.
            state.fail("infra_error", f"{report.nodeid}: {_message_of(report).splitlines()[0]}")
            return
        record = state.tests.get(report.nodeid)
        if record is None:
            record = state.tests[report.nodeid] = TestRecord(
                report.nodeid, note["test_id"], note["weight"], note["gate"], note["hidden"]
            )
        record.weight, record.gate, record.hidden = note["weight"], note["gate"], note["hidden"]
        record.fault = note["fault"]
        record.add_phase(
            report.when,
            passed=report.passed,
            skipped=report.skipped,
            wasxfail=hasattr(report, "wasxfail"),
            duration=report.duration,
            message=note["message"],
            not_run=note["not_run"],
        )
        state.flags.update(note["flags"])
        if note["error"] is not None and state.error is None:
            state.error = note["error"]
        self.confinement.update(note["confinement"])
        for name, value in note["metrics"].items():
            source = state.metric_sources.setdefault(name, note["test_id"])
            if source != note["test_id"]:
                state.fail("task_error", f"metric {name!r} was recorded by both {source} and {note['test_id']}")
            state.metrics[name] = value

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        state = self.task_of_nodeid(nodeid)
        if state is not None and state.started is None:
            state.started = time.monotonic()

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        state = self.task_of_nodeid(nodeid)
        if state is not None:
            state.finished = time.monotonic()

    # -- the end --------------------------------------------------------------------------------------

    def close_sandboxes(self) -> None:
        import shutil

        for state in self.states.values():
            if state.sandbox is not None:
                state.sandbox.close()
                state.sandbox = None
            if state.scratch is not None:
                shutil.rmtree(state.scratch, ignore_errors=True)
                state.scratch = None

    def task_report(self, state: TaskState) -> TaskReport:
        def reward_of(tests: Any, metrics: Any) -> object:
            return self.config.hook.pytest_rlgrade_task_reward(
                task=state.task, tests=list(tests), metrics=list(metrics)
            )

        now = time.monotonic()
        return task_report(
            name=state.task.name,
            spec=state.task.manifest.reward,
            tests=list(state.tests.values()),
            metrics=state.metrics,
            flags=state.flags,
            error=state.error,
            reason=state.reason,
            instance=state.instance,
            reward_of=reward_of,
            starter=self.settings.submission == "starter",
            hide_messages=state.task.manifest.hide_messages,
            duration=(state.finished or now) - (state.started or now),
        )

    @pytest.hookimpl(trylast=True)
    def pytest_rlgrade_task_reward(self, task: Task, tests: list[Any], metrics: list[Any]) -> float:
        from .reward import task_reward

        return task_reward(tests, metrics)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C, as pytest tells it: not the interruption pytest reports for collection errors.
        # The submission cannot cause it (it cannot signal the supervisor, and what it raises
        # arrives as data).
        self.interrupted = not excinfo.errisinstance(pytest.Session.Interrupted)  # collection errors

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.close_sandboxes()
        if self.role is Role.WORKER or exitstatus == USAGE or self.config.option.collectonly:
            return  # a worker's outcomes travel in its reports; a collection grades nothing
        if self.interrupted:
            for state in self.states.values():
                state.flags.add("interrupted")
        elif exitstatus == INTERNAL:
            for state in self.states.values():
                if state.error is None and any(t.outcome == "missing" for t in state.tests.values()):
                    state.fail("infra_error", "pytest stopped with an internal error before grading finished")
        tasks = [self.task_report(state) for state in self.states.values()]
        overall = overall_reward(t.reward for t in tasks)
        status = exit_status(tasks, overall, self.settings.min_reward)
        report = Report(
            submission=self.settings.submission,
            submission_path=str(self.submission_path),
            seed=self.settings.seed,
            reward=overall,
            exit_status=status,
            duration=time.monotonic() - self.started,
            sandbox=SandboxInfo(
                isolation=self.settings.isolation,  # type: ignore[arg-type]
                confinement=sorted(self.confinement),
            ),
            tasks=tasks,
        )
        session.exitstatus = self.publish(report.model_dump(mode="json"), status)

    def warn(self, line: str) -> None:
        """A harness problem, on the terminal (stderr where there is none: a grader worker's)."""
        import sys

        if self.config.pluginmanager.has_plugin("terminalreporter"):
            self.config.get_terminal_writer().line(line, red=True)
        else:
            print(line, file=sys.stderr)

    def publish(self, data: dict[str, Any], status: int) -> int:
        """Let hooks modify the report, write it, let hooks forward it; the exit status to use.

        Nothing graded is lost: a hook that breaks the report gets the unmodified one written,
        and a report that cannot be written goes to stderr, each with exit status 3."""
        import copy
        import json
        import sys

        import jsonschema

        modify = self.config.hook.pytest_rlgrade_modify_report
        original = copy.deepcopy(data) if modify.get_hookimpls() else data  # no hook: nothing to undo
        modify(config=self.config, report=data)
        try:
            if data is not original and data != original:  # the model's own is valid by construction
                validate_report_data(data)
        except jsonschema.ValidationError as exc:
            self.warn(
                f"rlgrade: a pytest_rlgrade_modify_report hook made the report invalid "
                f"({exc.message} at {'/'.join(map(str, exc.absolute_path)) or 'the top'}); "
                "writing it unmodified"
            )
            data, status = original, INTERNAL
            data["exit_status"] = status
        try:
            write_report_data(data, self.settings.report, durable=not self.handoff)
        except OSError as exc:
            self.warn(f"rlgrade: cannot write the report to {self.settings.report}: {exc.strerror or exc}; here it is:")
            print(json.dumps(data, indent=2), file=sys.stderr)
            self.written = data
            return INTERNAL
        self.written = data
        self.config.hook.pytest_rlgrade_report_written(config=self.config, path=self.settings.report, report=data)
        return status

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        # Outermost wrapper: the reward table comes after pytest's own summaries (issue #8: it sat
        # 70 lines up).
        result = yield
        if self.written is not None and not self.handoff:
            from .summary import summary_lines

            terminalreporter.section("rlgrade")
            for line in summary_lines(self.written, self.settings.report, self.settings.min_reward):
                terminalreporter.write_line(line)
        elif self.config.option.collectonly and self.role is not Role.WORKER:
            terminalreporter.write_line("rlgrade: --collect-only grades nothing and writes no report")
        return result


class XdistHooks:
    """The pytest-xdist half of grading, registered only when xdist is active: one seed for every
    worker (as pytest-randomly does), and the expected tests as the workers collected them."""

    def __init__(self, grading: GradingSession) -> None:
        self.grading = grading

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput["rlgrade_seed"] = self.grading.settings.seed

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        grading = self.grading
        for nodeid in ids:
            state = grading.task_of_nodeid(nodeid)
            if state is not None and nodeid not in state.tests:
                path = grading.config.rootpath / nodeid.split("::")[0]
                state.tests[nodeid] = grading._record(state, nodeid, path, set())
