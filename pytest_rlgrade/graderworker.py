"""A grader worker: a warm supervisor process that grades one submission at a time (issue #9).

Started by the grading engine as ``python -m pytest_rlgrade.graderworker`` with its settings on
stdin, it pays the fixed cost of a grading once: it imports pytest and the plugin, imports the
tasks' test modules (a collect-only run, with the plugin's Hypothesis profile in force, as a
grading has it), and starts one warm sandbox pool per task. Then, for each job it reads, it forks
a child that runs exactly what ``pytest --submission=... --task=...`` runs, with the warm pool
behind the ``pytest_rlgrade_make_sandbox`` hook, and hands back the report that child wrote.

It never runs submission code (the pools fork that into sandboxes), and a fresh fork per job means
nothing one grading changes in the supervisor reaches the next. Messages are JSON lines: jobs in
on stdin, ``ready`` then one answer per job out on stdout.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

# A grading that has not finished by its tasks' own time limits plus this is stuck in the
# harness, not in the submission (whose time the sandbox bounds): it is killed and reported as the
# harness's failure.
HARNESS_MARGIN = 120.0


def pytest_args(root: Path, job: dict[str, Any], report: Path) -> list[str]:
    """The command line a job is graded with: the CLI's own options, every one with '='."""
    task = job["task"] + (f":{job['instance']}" if job.get("instance") is not None else "")
    args = [
        f"--submission={job['submission']}",
        f"--task={task}",
        f"--rlgrade-seed={job['seed']}",
        f"--rlgrade-report={report}",
        f"--rlgrade-root={root}",
        f"--rootdir={root}",
        f"--isolation={job.get('isolation', 'sandbox')}",
        "-p",
        "no:cacheprovider",
        "-q",
    ]
    if job.get("run_all"):
        args.append("--rlgrade-run-all")
    return args


class PoolPlugin:
    """Serves each submission's sandbox from the worker's warm pool of its task."""

    def __init__(self, pools: dict[str, Any]) -> None:
        self.pools = pools

    def pytest_rlgrade_make_sandbox(self, config: Any, task: Any, submission_root: Path, on_flag: Any) -> Any:
        pool = self.pools.get(task.name)
        return None if pool is None else pool.open(submission_root, on_flag)


class Prepared:
    """A grading session configured and collected once (for one task and instance): each job's
    fork rebinds it to its submission and runs its tests, skipping pytest's start-up and
    collection (private pytest API; a job falls back to a plain ``pytest.main`` without it)."""

    def __init__(self, root: Path, job: dict[str, Any], placeholder: Path, pools: dict[str, Any]) -> None:
        import pytest
        from _pytest.config import _prepareconfig

        from .grading import crash_only_failures
        from .plugin import grading_key

        args = [*pytest_args(root, {**job, "submission": str(placeholder), "seed": 0}, placeholder / "r.json")]
        # No global output capture in the warm process (it would hold file descriptors every
        # fork shares); tests still capture their own output.
        args.append("--capture=no")
        self.config = _prepareconfig(args, plugins=[PoolPlugin(pools)])
        self.config._do_configure()
        self.session = pytest.Session.from_config(self.config)
        self.config.hook.pytest_sessionstart(session=self.session)
        self.session.perform_collect()
        for item in self.session.items:  # cached on the item: computed here once, not in each fork
            _ = item.location
        self.grading = self.config.stash[grading_key]
        self.hypothesis = self.grading.uses_hypothesis()  # it reads the test files: once, here
        self.grading.handoff = True  # the worker reads the report back; nobody reads the terminal
        crash_only_failures(self.session.items)

    def run(self, job: dict[str, Any], report: Path) -> int:
        """In the fork: grade ``job`` and write its report; the exit status."""
        import pytest

        session, config = self.session, self.config
        self.grading.rebind(job["submission"], int(job["seed"]), report)
        if self.hypothesis:
            from hypothesis import core

            core.global_force_seed = int(job["seed"])  # type: ignore[assignment]
        self.grading.start_sandboxes()
        session.exitstatus = pytest.ExitCode.OK
        try:
            config.hook.pytest_runtestloop(session=session)
            if session.testsfailed:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        except KeyboardInterrupt:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        config.hook.pytest_sessionfinish(session=session, exitstatus=session.exitstatus)
        return int(session.exitstatus)


class Child:
    """A grading fork: ``jobs`` (write end) takes its job when it is a spare, ``done`` (read end)
    gives its exit status once its report is written."""

    def __init__(self, pid: int, jobs: int, done: int) -> None:
        self.pid, self.jobs, self.done = pid, jobs, done
        self.status: int | None = None

    def wait_done(self, timeout: float) -> int | None:
        """The grading's exit status once its report is written (or it ended without one: then
        the status it died with); None after ``timeout`` seconds."""
        import select

        if not select.select([self.done], [], [], timeout)[0]:
            return None
        said = os.read(self.done, 1)
        os.close(self.done)
        self.done = -1
        return said[0] if said else self.reap()

    def reap(self) -> int | None:
        """Wait for the fork to end; its exit code (negative: the signal that killed it)."""
        if self.status is None and self.pid:
            with contextlib.suppress(ChildProcessError):
                self.status = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
            self.pid = 0
        return self.status

    def kill(self) -> None:
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        self.reap()

    def discard(self) -> None:
        for fd in (self.jobs, self.done):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.jobs = self.done = -1
        self.kill()


class Worker:
    def __init__(self, settings: dict[str, Any], out: TextIO) -> None:
        self.root = Path(settings["root"])
        self.tasks: list[str] = list(settings["tasks"])
        self.isolation = settings.get("isolation", "sandbox")
        self.out = out
        self.pools: dict[str, Any] = {}
        from . import scratch

        self.scratch = scratch.make("rlgrade-worker-")
        self.jobs = 0
        self.prepared: dict[tuple[str, str | None, str, bool], Prepared | None] = {}
        self.memos = self.scratch / "memo.pickle"  # what a grading's memo computed, for the next
        self.spare_child: Child | None = None  # forked ahead, waiting for the next job
        self.running: Child | None = None  # the grading whose answer was sent last, until reaped

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()

    def warm_up(self) -> dict[str, Any]:
        """Import what every grading needs; returns the tests each task collects."""
        import pytest  # noqa: F401 - the point is to have it imported

        from .manifest import discover_tasks, load_task
        from .sandbox import SandboxPool

        found = discover_tasks(self.root / "tasks")
        collected: dict[str, list[str]] = {}
        for name in self.tasks:
            task = load_task(found[name])
            if self.isolation == "sandbox":
                pool = SandboxPool(task)
                pool.start()
                self.pools[name] = pool
            collected[name] = self._collect(name)
        for pool in self.pools.values():
            pool.ensure_ready()
        self.make_spares()
        # What a grading imports on its way (each fork would import it again, at ~15 ms a module):
        # the report's validator and summary table, and the in-process connection of
        # ``--isolation=none``.
        import tabulate  # noqa: F401

        from . import inprocess, summary  # noqa: F401
        from .report import _validator

        _validator()
        # Everything so far lives as long as the worker: out of the collector's sight, so that a
        # grading's garbage collections (pytest runs some at its end) scan only what it made.
        gc.collect()
        gc.freeze()
        return {"collected": collected, "problems": {n: p.problems for n, p in self.pools.items() if p.problems}}

    def _collect(self, task: str) -> list[str]:
        """A collect-only grading of the starter: imports the task's test modules in this process
        (the forks then find them imported) and lists the tests."""
        import pytest

        empty = self.scratch / "collect" / task
        empty.mkdir(parents=True, exist_ok=True)
        ids: list[str] = []

        class Listing:
            def pytest_collection_finish(self, session: pytest.Session) -> None:
                ids.extend(item.nodeid for item in session.items)

        job = {"submission": str(empty), "task": task, "seed": 0, "isolation": "none"}
        args = [*pytest_args(self.root, job, self.scratch / "collect.json"), "--collect-only"]
        with open(os.devnull, "w") as null:
            saved = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = null
            try:
                pytest.main(args, plugins=[Listing()])
            finally:
                sys.stdout, sys.stderr = saved
        return ids

    def prepare(self, job: dict[str, Any]) -> Prepared | None:
        key = self._key(job)
        if key not in self.prepared:
            placeholder = self.scratch / "placeholder" / str(len(self.prepared))
            placeholder.mkdir(parents=True)
            # Its terminal writes to this process's stdout: in each fork, that job's log.
            try:
                self.prepared[key] = Prepared(self.root, job, placeholder, self.pools)
            except BaseException as exc:  # noqa: BLE001 - grade such jobs the plain way
                print(f"rlgrade worker: preparing {key} failed ({exc!r}); grading with pytest.main", file=sys.stderr)
                self.prepared[key] = None
            gc.collect()
            gc.freeze()
        return self.prepared[key]

    def _key(self, job: dict[str, Any]) -> tuple[str, str | None, str, bool]:
        return (job["task"], job.get("instance"), job.get("isolation", "sandbox"), bool(job.get("run_all")))

    def _run_child(self, job: dict[str, Any], done: int) -> None:
        """In a fork: grade ``job`` (its report to ``job["report"]``), say so on ``done`` (the exit
        status, one byte), then hand what trusted code computed to the next gradings; never
        returns."""
        code = 70
        try:
            fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            import pytest

            from . import trusted

            prepared = self.prepared.get(self._key(job))
            report = Path(job["report"])
            if prepared is not None:
                code = prepared.run(job, report)
            else:
                code = int(pytest.main(pytest_args(self.root, job, report), plugins=[PoolPlugin(self.pools)]))
            sys.stdout.flush()
            sys.stderr.flush()
            os.write(done, bytes([code & 0xFF]))  # the answer can go: the rest is for later jobs
            trusted.save_new(Path(job["memos"]))  # what this grading's trusted code computed, for the next
        except BaseException as exc:  # the harness's own failure: say so in the log
            with contextlib.suppress(BaseException):
                print(f"grading failed: {exc!r}", file=sys.stderr)
        finally:
            with contextlib.suppress(BaseException):
                sys.stdout.flush()
                sys.stderr.flush()
        os._exit(code)

    def _fork(self, job: dict[str, Any] | None) -> Child:
        """A grading child: for ``job``, or (None) a spare that waits for its job on a pipe, forked
        between gradings so that the next one does not wait for the fork."""
        jobs_r, jobs_w = os.pipe()
        done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(jobs_w)
            os.close(done_r)
            with contextlib.suppress(BaseException):
                sys.stdin.close()
            if job is None:
                try:
                    with os.fdopen(jobs_r, "rb") as jobs:
                        line = jobs.readline()
                    job = json.loads(line) if line else None
                except BaseException:  # noqa: BLE001 - no job: nothing to do
                    job = None
                if job is None:
                    os._exit(0)
            self._run_child(job, done_w)
        os.close(jobs_r)
        os.close(done_w)
        return Child(pid, jobs_w, done_r)

    def grade(self, job: dict[str, Any]) -> dict[str, Any]:
        """Grade one job in a fresh fork (the spare one when it was forked with what this job
        needs); the report it wrote, or why there is none."""
        fresh_key = self._key(job) not in self.prepared
        self.prepare(job)
        self.jobs += 1
        report = self.scratch / f"report-{self.jobs}.json"
        log = self.scratch / f"job-{self.jobs}.log"
        report.unlink(missing_ok=True)
        job = {**job, "report": str(report), "log": str(log), "memos": str(self.memos)}
        child, self.spare_child = self.spare_child, None
        if child is not None and not fresh_key:
            try:
                os.write(child.jobs, (json.dumps(job) + "\n").encode())
            except OSError:  # the spare is gone: fork one for this job
                child.discard()
                child = None
        elif child is not None:  # forked before this job's session was prepared
            child.discard()
            child = None
        if child is None:
            child = self._fork(job)
        os.close(child.jobs)
        child.jobs = -1
        self.running = child
        limit = float(job["time_limit"]) + HARNESS_MARGIN
        status = child.wait_done(limit)
        if status is None:
            child.kill()
            self.running = None
            self.restart_pools()
            return {"error": f"the grading did not finish in {job['time_limit'] + HARNESS_MARGIN:g} s"}
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            child.reap()
            self.running = None
            self.restart_pools()
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            return {"error": f"the grading exited with status {status} and wrote no report; its output ended:\n{tail}"}
        finally:
            report.unlink(missing_ok=True)
        log.unlink(missing_ok=True)  # the fork may still write to it: its open file stays its own
        return {"report": data}

    def make_spares(self) -> None:
        """Between gradings: each pool forks the next submission's tree ahead of it (see
        ``SandboxPool.make_spare``), so that the next grading starts on a confined tree."""
        from .errors import SandboxUnavailable

        for pool in self.pools.values():
            try:
                pool.make_spare()
            except (SandboxUnavailable, OSError) as exc:  # the grading opens its own, and says why
                print(f"rlgrade worker: no spare tree for {pool.task.name}: {exc}", file=sys.stderr)

    def after(self, job: dict[str, Any]) -> None:
        """After a grading's answer is sent: its fork ends (what its trusted code computed then
        reaches this process: pytest_rlgrade.memo), the spare tree its task's pool had is spent
        (the grading took it, or may have), and the next grading's tree and fork are made ahead."""
        from . import trusted

        child, self.running = self.running, None
        if child is not None:
            status = child.reap()
            if status is not None and (status < 0 or status > 5):
                # killed, or died outside pytest: the pools' channels may be mid-message
                self.restart_pools()
            trusted.load_saved(self.memos)  # the next gradings fork with them
        pool = self.pools.get(job["task"])
        if pool is not None and job.get("isolation", "sandbox") == "sandbox":
            pool.retire_spare()
        self.make_spares()
        self.spare_child = self._fork(None)

    def restart_pools(self) -> None:
        from .sandbox import SandboxPool

        for name, pool in list(self.pools.items()):
            pool.close()
            self.pools[name] = fresh = SandboxPool(pool.task)
            fresh.start()

    def close(self) -> None:
        import shutil

        for child in (self.spare_child, self.running):
            if child is not None:
                child.discard()
        self.spare_child = self.running = None
        for pool in self.pools.values():
            pool.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def main() -> int:
    # Answers go to the real stdout; anything else that prints (a plugin, a warning) goes to stderr.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    settings = json.loads(sys.stdin.readline())
    os.chdir(settings["root"])
    worker = Worker(settings, out)
    try:
        try:
            worker.send({"ready": worker.warm_up()})
        except BaseException as exc:
            worker.send({"failed": f"{type(exc).__name__}: {exc}"})
            return 1
        for line in sys.stdin:
            job = json.loads(line)
            worker.send({"id": job["id"], **worker.grade(job)})
            worker.after(job)
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
