"""The Ray backend: ``Grader(backend="ray", address=...)`` grades on a Ray cluster (issue #10).

Each of ``workers`` Ray actors keeps one warm grader worker process (``pytest_rlgrade.graderworker``,
the same code the local backend runs), so a node grades in its own sandboxes with the same
confinement and a rollout gets the same report as on this machine for the same seed. The
submission's files travel with the job (a node needs no access to the driver's disk); the tasks
must be in the same repository at the same path on every node (``root``), with pytest-rlgrade and
the tasks' dependencies installed.

A node lost mid-batch costs the gradings it held one retry on another actor; a second loss reports
them as the harness's failure (``infra_error``), never as a reward of 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .. import scratch
from ..engine import GraderError, InvalidSubmission, Job, run_concurrently, write_files

MAX_FILES_BYTES = 64 * 1024 * 1024


def read_files(folder: Path) -> dict[str, str]:
    """A submission folder as ``{relative path: text}`` (plain files only, links left out; the
    sandbox's sanitiser decides the rest on the node)."""
    files: dict[str, str] = {}
    size = 0
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file() or "__pycache__" in path.parts:
            continue
        data = path.read_bytes()
        size += len(data)
        if size > MAX_FILES_BYTES:
            raise InvalidSubmission(f"the submission is larger than {MAX_FILES_BYTES // (1024 * 1024)} MiB")
        try:
            files[path.relative_to(folder).as_posix()] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # a binary file: nothing a graded Python package needs
    return files


class GraderActorBody:
    """What each Ray actor runs: one warm grader worker process on its node."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from ..engine import _WorkerProcess

        self.scratch = scratch.make("rlgrade-ray-")
        self.worker = _WorkerProcess(settings)
        self.ready = self.worker.wait_ready()
        self.count = 0

    def collected(self) -> dict[str, list[str]]:
        return dict(self.ready["collected"])

    def pid(self) -> int:
        return os.getpid()

    def grade(self, message: dict[str, Any], files: dict[str, str] | None) -> dict[str, Any]:
        folder = None
        if files is not None:
            self.count += 1
            folder = self.scratch / f"submission-{self.count}"
            folder.mkdir()
            write_files(files, folder)
            message = {**message, "submission": str(folder)}
        try:
            from ..engine import Job

            job = Job(
                message["id"],
                message["submission"],
                message["task"],
                message["instance"],
                message["seed"],
                message["time_limit"],
                message["isolation"],
            )
            answer = self.worker.ask(job)
            if answer.pop("lost", False):
                # The worker process died: this actor cannot grade any more. Let Ray see it dead.
                os._exit(1)
            return answer
        finally:
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)


class RayBackend:
    """``workers`` actors on the cluster at ``address`` (``None``: a local Ray started here)."""

    def __init__(self, root: Path, tasks: Sequence[str], workers: int, isolation: str, address: str | None) -> None:
        self.settings = {"root": str(root), "tasks": list(tasks), "isolation": isolation}
        self.root = root
        self.size = max(1, workers)
        self.address = address
        self.collected: dict[str, list[str]] = {}
        self.idle: queue.Queue[Any] = queue.Queue()
        self.lock = threading.Lock()
        self.actors: list[Any] = []
        self.started_ray = False
        self.actor_class: Any = None

    def start(self) -> None:
        try:
            import ray
        except ImportError:
            raise GraderError("backend 'ray' needs Ray: pip install 'pytest-rlgrade[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.address, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
            self.started_ray = True
        # A grading is a process tree of its own: the actor reserves one CPU for it.
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0)(GraderActorBody)
        actors = [self.actor_class.remote(self.settings) for _ in range(self.size)]
        try:
            self.collected = ray.get(actors[0].collected.remote())
            ray.get([actor.collected.remote() for actor in actors[1:]])
        except Exception as exc:
            raise GraderError(f"the Ray actors could not start a grader worker: {exc}") from exc
        self.actors = actors
        for actor in actors:
            self.idle.put(actor)

    def _payload(self, job: Job) -> dict[str, str] | None:
        path = Path(job.submission)
        if path.is_relative_to(self.root):
            return None  # the repository's own starter or reference: on every node
        return read_files(path)

    def _replace(self, dead: Any) -> None:
        import ray

        with self.lock:
            if dead in self.actors:
                self.actors.remove(dead)
        try:
            fresh = self.actor_class.remote(self.settings)
            ray.get(fresh.collected.remote())
        except BaseException:  # noqa: BLE001 - lost capacity, or Ray shut down meanwhile: the others carry on
            return
        with self.lock:
            self.actors.append(fresh)
        self.idle.put(fresh)

    def _run_one(self, job: Job) -> dict[str, Any]:
        import ray
        from ray.exceptions import RayActorError, WorkerCrashedError

        try:
            files = self._payload(job)
        except InvalidSubmission as exc:
            return {"error": str(exc)}
        for attempt in range(2):
            actor = self.idle.get()
            try:
                answer: dict[str, Any] = ray.get(actor.grade.remote(job.message(), files))
            except (RayActorError, WorkerCrashedError) as exc:
                # In this thread, not a background one: Ray ends the whole process when a thread
                # touches it after ray.shutdown(), which close() may have called by then.
                self._replace(actor)
                if attempt == 1:
                    return {"error": f"the Ray node grading it was lost twice ({type(exc).__name__})"}
                continue
            self.idle.put(actor)
            return answer
        raise AssertionError("unreachable")

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, dict[str, Any]]]:
        return run_concurrently(jobs, self.size, self._run_one)

    def actor_pids(self) -> list[int]:
        import ray

        return [int(pid) for pid in ray.get([actor.pid.remote() for actor in self.actors])]

    def close(self) -> None:
        import ray

        for actor in self.actors:
            with contextlib.suppress(Exception):  # already gone with its node
                ray.kill(actor)
        self.actors = []
        if self.started_ray:
            ray.shutdown()
