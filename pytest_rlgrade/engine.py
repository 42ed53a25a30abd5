"""The grading engine: many rollouts through warm graders (issue #9).

An RL step produces 64 to 512 rollouts and waits for all their rewards. A :class:`Grader` pays
the fixed cost of a grading (interpreter, imports, collection, sandbox warm-up) once per worker
process, not once per rollout, and grades each submission exactly as ``pytest --submission=...``
does (the worker runs the plugin's own code path in a fresh fork), so the CLI and the API give the
same reward, flags and per-test outcomes for the same seed.

Where gradings run is one seam: a :class:`Backend`, made by the ``pytest_rlgrade_make_backend``
hook (as pytest-xdist chooses its scheduler). The defaults: ``local`` (worker processes on this
machine) and ``ray`` (workers on a Ray cluster, ``pytest_rlgrade.integrations.ray``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from . import scratch
from .manifest import Task, discover_tasks, load_task
from .report import Counts, Report, SandboxInfo, TaskReport, TestResult

Files = Mapping[str, str]
SubmissionLike = str | os.PathLike[str] | Files
SHIPPED = ("starter", "reference")


class GraderError(RuntimeError):
    """The grader was used wrongly (an unknown task, a closed grader) or could not start."""


@dataclass
class Job:
    """One grading: a submission folder for one task (and one instance of it)."""

    index: int
    submission: str
    task: str
    instance: str | None
    seed: int
    time_limit: float
    isolation: str = "sandbox"
    label: str = ""
    run_all: bool = False

    def message(self) -> dict[str, Any]:
        return {
            "id": self.index,
            "submission": self.submission,
            "task": self.task,
            "instance": self.instance,
            "seed": self.seed,
            "time_limit": self.time_limit,
            "isolation": self.isolation,
            "run_all": self.run_all,
        }


class Backend(Protocol):
    """Runs jobs somewhere and gives back what each grading wrote.

    ``run(jobs)`` yields ``(job.index, answer)`` as gradings finish, where ``answer`` is
    ``{"report": data}`` (the JSON report a grading wrote) or ``{"error": text}`` when the harness
    could not grade it (never the submission's fault). It must be safe to call from several
    threads at once. ``collected`` maps each task to the node ids its tests collect.
    """

    collected: dict[str, list[str]]

    def start(self) -> None: ...

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, dict[str, Any]]]: ...

    def close(self) -> None: ...


# -- the local backend: worker processes on this machine -------------------------------------------


class _WorkerProcess:
    def __init__(self, settings: dict[str, Any]) -> None:
        env = dict(os.environ)
        env.pop("PYTEST_ADDOPTS", None)  # the grading's options are the engine's, not the shell's
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pytest_rlgrade.graderworker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=settings["root"],
            env=env,
            start_new_session=True,
        )
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(settings) + "\n")
        self.process.stdin.flush()
        self.ready: dict[str, Any] | None = None

    def wait_ready(self) -> dict[str, Any]:
        if self.ready is None:
            line = self.process.stdout.readline() if self.process.stdout else ""
            message: dict[str, Any] = (
                json.loads(line) if line else {"failed": "the grader worker exited while starting"}
            )
            if "failed" in message:
                self.kill()
                raise GraderError(f"a grader worker could not start: {message['failed']}")
            ready: dict[str, Any] = message["ready"]
            self.ready = ready
        return ready

    def ask(self, job: Job) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(job.message()) + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        except (OSError, ValueError):
            line = ""
        if not line:
            return {"error": "the grader worker died", "lost": True}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


class LocalBackend:
    """``workers`` warm worker processes on this machine, each grading one submission at a time.

    A worker that dies mid-grading is replaced, and the grading it held is tried once more on
    another before it is reported as the harness's failure."""

    def __init__(self, root: Path, tasks: Sequence[str], workers: int, isolation: str = "sandbox") -> None:
        self.settings = {"root": str(root), "tasks": list(tasks), "isolation": isolation}
        self.size = max(1, workers)
        self.idle: queue.Queue[_WorkerProcess] = queue.Queue()
        self.all: list[_WorkerProcess] = []
        self.collected: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        self.started = False

    def _spawn(self) -> _WorkerProcess:
        worker = _WorkerProcess(self.settings)
        with self.lock:
            self.all.append(worker)
        return worker

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        workers = [self._spawn() for _ in range(self.size)]
        for worker in workers:  # they warm up side by side
            ready = worker.wait_ready()
            self.collected = ready["collected"]
            self.idle.put(worker)

    def _run_one(self, job: Job) -> dict[str, Any]:
        for attempt in range(2):
            worker = self.idle.get()
            answer = worker.ask(job)
            if not answer.pop("lost", False):
                self.idle.put(worker)
                return answer
            worker.kill()
            with self.lock:
                self.all.remove(worker)
            try:
                fresh = self._spawn()
                fresh.wait_ready()
                self.idle.put(fresh)
            except GraderError as exc:
                return {"error": str(exc)}
            if attempt == 1:
                return answer
        raise AssertionError("unreachable")

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, dict[str, Any]]]:
        self.start()
        return run_concurrently(jobs, self.size, self._run_one)

    def close(self) -> None:
        with self.lock:
            workers, self.all = list(self.all), []
        for worker in workers:
            worker.close()


def run_concurrently(
    jobs: Sequence[Job], size: int, run_one: Callable[[Job], dict[str, Any]]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Run ``run_one`` on the jobs from ``size`` threads; yield ``(job.index, answer)`` as each
    finishes. A job whose ``run_one`` raises gets an ``error`` answer: no caller waits for ever."""
    if len(jobs) == 1 and size >= 1:  # one grading (Grader.grade): in the caller's thread
        job = jobs[0]
        try:
            answer = run_one(job)
        except Exception as exc:  # noqa: BLE001 - as a thread's failure below: an error answer
            answer = _error_answer(exc)
        yield job.index, answer
        return
    results: queue.Queue[tuple[int, dict[str, Any]]] = queue.Queue()
    pending: queue.Queue[Job] = queue.Queue()
    for job in jobs:
        pending.put(job)

    def feed() -> None:
        while True:
            try:
                job = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results.put((job.index, run_one(job)))
            except BaseException as exc:
                results.put((job.index, _error_answer(exc)))

    threads = [threading.Thread(target=feed, daemon=True) for _ in range(min(size, len(jobs)))]
    for thread in threads:
        thread.start()
    for _ in range(len(jobs)):
        yield results.get()
    for thread in threads:
        thread.join()


def _error_answer(exc: BaseException) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}"}


def make_backend(name: str, options: dict[str, Any]) -> Backend:
    """The backend called ``name``, through the ``pytest_rlgrade_make_backend`` hook."""
    import pluggy

    from . import hooks

    manager = pluggy.PluginManager("pytest")
    manager.add_hookspecs(hooks)
    manager.register(DefaultBackends(), "rlgrade-default-backends")
    manager.load_setuptools_entrypoints("rlgrade")
    backend = manager.hook.pytest_rlgrade_make_backend(name=name, options=options)
    if backend is None:
        raise GraderError(f"no backend called {name!r} (built in: local, ray)")
    return backend  # type: ignore[no-any-return]


class DefaultBackends:
    @staticmethod
    def _hookimpl(function: Any) -> Any:
        import pluggy

        return pluggy.HookimplMarker("pytest")(trylast=True)(function)

    def pytest_rlgrade_make_backend(self, name: str, options: dict[str, Any]) -> Backend | None:
        if name == "local":
            return LocalBackend(options["root"], options["tasks"], options["workers"], options["isolation"])
        if name == "ray":
            from .integrations.ray import RayBackend

            return RayBackend(
                options["root"], options["tasks"], options["workers"], options["isolation"], options.get("address")
            )
        return None


DefaultBackends.pytest_rlgrade_make_backend = DefaultBackends._hookimpl(  # type: ignore[method-assign]
    DefaultBackends.pytest_rlgrade_make_backend
)


# -- submissions --------------------------------------------------------------------------------------


class InvalidSubmission(ValueError):
    """An in-memory submission that cannot be laid out: the rollout's fault, reward 0."""


def write_files(files: Files, folder: Path) -> None:
    """Lay ``{relative path: text}`` out under ``folder``; nothing is written outside it.

    Raises :class:`InvalidSubmission` for an absolute path, one that climbs out with ``..``,
    one that passes through a file, or an entry that is not text."""
    planned: dict[PurePosixPath, str] = {}
    for raw, text in files.items():
        if not isinstance(raw, str) or not raw or "\x00" in raw:
            raise InvalidSubmission(f"the submission's file name {raw!r} is not a relative path")
        if not isinstance(text, str):
            raise InvalidSubmission(f"the submission's file {raw!r} holds {type(text).__name__}, not text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidSubmission(f"the submission's file {raw!r} is not valid text ({exc.reason})") from None
        path = PurePosixPath(raw.replace("\\", "/"))
        if path.is_absolute() or raw.startswith("/"):
            raise InvalidSubmission(f"the submission's file path {raw!r} is absolute")
        if ".." in path.parts:
            raise InvalidSubmission(f"the submission's file path {raw!r} climbs out of its folder")
        if path in planned:
            raise InvalidSubmission(f"the submission names {raw!r} twice")
        planned[path] = text
    for path in planned:
        for parent in path.parents:
            if parent in planned:
                raise InvalidSubmission(
                    f"the submission's file path {str(path)!r} passes through the file {str(parent)!r}"
                )
    for path, text in planned.items():
        target = folder.joinpath(*path.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as out:
            out.write(text)


def _invalid_report(task: Task, collected: Sequence[str], seed: int, reason: str, label: str) -> Report:
    """An in-memory submission that could not be laid out earns 0 without running anything."""
    return Report(
        submission=label,
        submission_path="",
        seed=seed,
        reward=0.0,
        exit_status=0,
        duration=0.0,
        sandbox=SandboxInfo(isolation="sandbox", confinement=[]),
        tasks=[
            TaskReport(
                name=task.name,
                reward=0.0,
                flags=["invalid_submission"],
                reason=reason,
                counts=Counts(total=len(collected), passed=0, failed=len(collected), missing=0),
                duration=0.0,
                tests=[
                    TestResult(node_id=nodeid, outcome="not_run", weight=0.0, duration=0.0, message=None)
                    for nodeid in collected
                ],
            )
        ],
    )


def _harness_report(task: str, seed: int, label: str, path: str, error: str) -> Report:
    """A grading the harness could not finish: reward null, never the submission's fault."""
    return Report(
        submission=label,
        submission_path=path,
        seed=seed,
        reward=None,
        exit_status=3,
        duration=0.0,
        sandbox=SandboxInfo(isolation="sandbox", confinement=[]),
        tasks=[
            TaskReport(
                name=task,
                reward=None,
                flags=["infra_error"],
                error=error,
                counts=Counts(total=0, passed=0, failed=0, missing=0),
                duration=0.0,
            )
        ],
    )


def load_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by the CLI or a grader, tolerating keys added by hooks."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return report_from_data(data)


def report_from_data(data: Any) -> Report:
    from pydantic import ValidationError

    try:  # a report as the models write it (a grader's, always): no key to drop
        return Report.model_validate(data)
    except ValidationError as exc:
        if not any(error["type"] == "extra_forbidden" for error in exc.errors()):
            raise
    return Report.model_validate(_known_keys(data, Report))


def _known_keys(data: Any, model: Any) -> Any:
    """``data`` with only the keys ``model`` (and its nested models) knows."""
    from pydantic import BaseModel

    if not isinstance(data, dict):
        return data
    known: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name not in data:
            continue
        value = data[name]
        inner = _nested_model(info.annotation, BaseModel)
        if inner is not None and isinstance(value, list):
            value = [_known_keys(v, inner) for v in value]
        elif inner is not None:
            value = _known_keys(value, inner)
        known[name] = value
    return known


def _nested_model(annotation: Any, base: type) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, base):
        return annotation
    for argument in typing.get_args(annotation):
        found = _nested_model(argument, base)
        if found is not None:
            return found
    return None


# -- the grader ---------------------------------------------------------------------------------------


def find_repository(root: str | os.PathLike[str] | None) -> Path:
    """The repository holding ``tasks/``: ``root``, else the current folder or its nearest parent."""
    if root is not None:
        path = Path(root).resolve()
        if not (path / "tasks").is_dir():
            raise GraderError(f"root {path} has no tasks/ folder")
        return path
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "tasks").is_dir() and any((candidate / "tasks").glob("*/task.yaml")):
            return candidate
    raise GraderError(f"no tasks/*/task.yaml in {here} or its parents: pass root=")


@dataclass
class _Prepared:
    job: Job | None
    report: Report | None = None
    folder: Path | None = None


@dataclass
class Grader:
    """A warm grader: ``with Grader() as grader: grader.grade_many(rollouts, task=...)``.

    :param root: the repository holding ``tasks/`` (default: the current folder or a parent).
    :param tasks: the tasks it will grade (default: all); each worker keeps a warm sandbox pool
        per task.
    :param workers: gradings at a time (default: the number of CPUs).
    :param seed: the seed of generated test data when a call gives none (default: one drawn per
        call, the same for every submission of a ``grade_many``).
    :param backend: where gradings run: ``local`` (default) or ``ray``.
    :param address: for ``ray``: the cluster's address (default: start a local one).
    :param isolation: ``sandbox`` (default) or ``none`` (debugging trusted code only).
    :param run_all: run every test even after a gate fails (the reward is 0 either way; by
        default the rest are skipped, reported ``not_run``), as ``--rlgrade-run-all``.
    """

    root: str | os.PathLike[str] | None = None
    tasks: Sequence[str] | None = None
    workers: int | None = None
    seed: int | None = None
    backend: str = "local"
    address: str | None = None
    isolation: str = "sandbox"
    run_all: bool = False
    _backend: Backend | None = field(default=None, init=False, repr=False)
    _tasks: dict[str, Task] = field(default_factory=dict, init=False, repr=False)
    _scratch: Path | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _counter: int = field(default=0, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        self.repository = find_repository(self.root)
        found = discover_tasks(self.repository / "tasks")
        wanted = list(self.tasks) if self.tasks is not None else list(found)
        unknown = [name for name in wanted if name not in found]
        if unknown:
            raise GraderError(
                f"no task named {', '.join(unknown)} in {self.repository / 'tasks'} (tasks: {', '.join(found)})"
            )
        self._tasks = {name: load_task(found[name]) for name in wanted}
        if self.isolation not in ("sandbox", "none"):
            raise GraderError(f"isolation {self.isolation!r}: choose sandbox or none")
        if self.workers is not None and self.workers < 1:
            raise GraderError(f"workers={self.workers}: at least 1")
        try:
            scratch.base()
        except scratch.ScratchError as exc:
            raise GraderError(str(exc)) from None

    # -- lifecycle --------------------------------------------------------------------------------

    def _ensure(self) -> Backend:
        with self._lock:
            if self._closed:
                raise GraderError("this grader is closed")
            if self._backend is None:
                self._scratch = scratch.make("rlgrade-grader-")
                backend = make_backend(
                    self.backend,
                    {
                        "root": self.repository,
                        "tasks": list(self._tasks),
                        "workers": self.workers or os.cpu_count() or 1,
                        "isolation": self.isolation,
                        "address": self.address,
                    },
                )
                backend.start()
                self._backend = backend
            return self._backend

    def __enter__(self) -> Grader:
        self._ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            backend, self._backend = self._backend, None
        if backend is not None:
            backend.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    # -- grading ----------------------------------------------------------------------------------

    def _prepare(self, index: int, submission: SubmissionLike, task: str, instance: str | None, seed: int) -> _Prepared:
        spec = self._tasks[task]
        limits = spec.manifest.limits
        time_limit = limits.task_timeout + 10.0
        if isinstance(submission, Mapping):
            label = f"<files #{index}>"
            assert self._scratch is not None
            with self._lock:
                self._counter += 1
                folder = self._scratch / f"submission-{self._counter}"
            folder.mkdir()
            try:
                write_files(submission, folder)
            except InvalidSubmission as exc:
                collected = self._backend.collected.get(task, []) if self._backend else []
                return _Prepared(None, _invalid_report(spec, collected, seed, str(exc), label), folder)
            except OSError as exc:
                collected = self._backend.collected.get(task, []) if self._backend else []
                reason = f"the submission's files cannot be laid out: {exc.strerror or exc}"
                return _Prepared(None, _invalid_report(spec, collected, seed, reason, label), folder)
            path = str(folder)
        else:
            label = os.fspath(submission)
            path = str(self.repository / label / task) if label in SHIPPED else str(Path(label).resolve())
            folder = None
        job = Job(index, path, task, instance, seed, time_limit, self.isolation, label, self.run_all)
        return _Prepared(job, folder=folder)

    def _check(self, task: str) -> None:
        if task not in self._tasks:
            raise GraderError(f"task {task!r} is not one this grader was made for ({', '.join(self._tasks)})")

    def grade_iter(
        self,
        submissions: Iterable[SubmissionLike],
        *,
        task: str,
        instance: str | None = None,
        seed: int | None = None,
    ) -> Iterator[tuple[int, Report]]:
        """Grade a batch; yields ``(index in submissions, report)`` as gradings finish."""
        self._check(task)
        backend = self._ensure()
        batch_seed = seed if seed is not None else self.seed if self.seed is not None else secrets.randbelow(2**32)
        prepared = [self._prepare(i, s, task, instance, batch_seed) for i, s in enumerate(submissions)]
        try:
            for index, item in enumerate(prepared):
                if item.report is not None:
                    yield index, item.report
            jobs = [item.job for item in prepared if item.job is not None]
            by_index = {job.index: job for job in jobs}
            for index, answer in backend.run(jobs) if jobs else ():
                job = by_index[index]
                if "report" in answer:
                    report = report_from_data(answer["report"])
                    report = report.model_copy(update={"submission": job.label})
                else:
                    report = _harness_report(task, job.seed, job.label, job.submission, str(answer.get("error")))
                yield index, report
        finally:
            for item in prepared:
                if item.folder is not None:
                    shutil.rmtree(item.folder, ignore_errors=True)

    def grade_many(
        self,
        submissions: Iterable[SubmissionLike],
        *,
        task: str,
        instance: str | None = None,
        seed: int | None = None,
    ) -> list[Report]:
        """Grade a batch; the reports in the order of ``submissions``."""
        items = list(submissions)
        reports: list[Report | None] = [None] * len(items)
        for index, report in self.grade_iter(items, task=task, instance=instance, seed=seed):
            reports[index] = report
        return [r for r in reports if r is not None]

    def grade(
        self, submission: SubmissionLike, *, task: str, instance: str | None = None, seed: int | None = None
    ) -> Report:
        """Grade one submission."""
        return self.grade_many([submission], task=task, instance=instance, seed=seed)[0]


def grade(
    submission: SubmissionLike,
    *,
    task: str,
    instance: str | None = None,
    seed: int | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Report:
    """Grade one submission with a grader of one worker made for the occasion (for many, keep a
    :class:`Grader`)."""
    with Grader(root, tasks=[task], workers=1, seed=seed) as grader:
        return grader.grade(submission, task=task, instance=instance)
