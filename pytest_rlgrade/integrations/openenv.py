"""A task as an OpenEnv environment: ``rlgrade serve --task NAME [--host H] [--port P]``.

Built on ``openenv-core``'s own server (``create_app``), its ``Action``/``Observation``/``State``
types and its WebSocket client (``EnvClient``); install it with ``pip install
'pytest-rlgrade[openenv]'``. An episode is one rollout:

- ``reset(seed=None, instance=None)`` answers with the task's prompt, the starter's files
  (``{relative path: text}``, laid out like ``starter/NAME/``), the seed the grading will use (drawn
  when not given) and, for a dataset task, the instance (drawn from the seed when not given);
- ``step(SubmitFiles(files={...}))`` grades those files as the submission through the server's one
  warm :class:`pytest_rlgrade.Grader` and answers with ``reward`` (``None`` when the harness or task
  failed: never the submission's fault), ``done=True`` and the JSON report as the observation.

Each WebSocket session (one :class:`RlgradeEnv` client) has an environment of its own; the Grader
gives every submission its own copy, sandbox and scratch, so sessions see nothing of each other.
The stateless HTTP ``POST /step`` grades the action alone (its ``seed`` and ``instance`` fields,
else a drawn seed and every instance). A malformed action is refused with 422 and what is wrong
with it (openenv's validation of :class:`SubmitFiles`); a bad reset parameter likewise.
"""

from __future__ import annotations

import argparse
import functools
import random
import re
import secrets
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from .completions import TaskText, read_task

try:
    from fastapi import HTTPException
    from openenv.core.client_types import StepResult  # type: ignore[import-untyped]
    from openenv.core.env_client import EnvClient  # type: ignore[import-untyped]
    from openenv.core.env_server.http_server import create_app  # type: ignore[import-untyped]
    from openenv.core.env_server.interfaces import Environment  # type: ignore[import-untyped]
    from openenv.core.env_server.types import (  # type: ignore[import-untyped]
        Action,
        EnvironmentMetadata,
        Observation,
        State,
    )
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"the OpenEnv integration needs openenv-core ({error}): pip install 'pytest-rlgrade[openenv]'"
    ) from error

if TYPE_CHECKING:
    from fastapi import FastAPI

    from pytest_rlgrade.report import Report

USAGE_ERROR = 4
HARNESS_ERROR = 3
MAX_FILES = 2000
MAX_TOTAL_BYTES = 16 * 1024 * 1024


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any) -> Any:
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


class SubmitFiles(Action):  # type: ignore[misc]
    """The action: the submission's files, ``{relative path: text}`` laid out like
    ``starter/NAME/`` (``{"pkg/__init__.py": "..."}``). A path that is absolute, climbs out with
    ``..`` or passes through a file is the rollout's fault and graded 0 with the reason."""

    files: dict[str, str] = Field(description="relative path -> file text, laid out like starter/NAME/")
    seed: int | None = Field(default=None, ge=0, description="the grading seed; default: the one reset gave")
    instance: str | None = Field(default=None, description="dataset instance id; default: the one reset gave")

    @field_validator("files", mode="before")
    @classmethod
    def _unicode(cls, files: Any) -> Any:
        # JSON can spell a lone surrogate ("\\ud800"), which no file can hold and no response can
        # echo (a 422 that repeats it could not be encoded, and answered 500): it becomes U+FFFD,
        # as a UTF-8 decoder treats invalid bytes, and the text is graded as it then reads.
        if isinstance(files, dict):
            return {_text(k): _text(v) for k, v in files.items()}
        return files

    @field_validator("files")
    @classmethod
    def _bounded(cls, files: dict[str, str]) -> dict[str, str]:
        # PydanticCustomError, not ValueError: openenv answers 422 with ``errors()``, and a
        # ValueError in an error's context is not JSON, which turned the 422 into a 500.
        if not files:
            raise PydanticCustomError(
                "no_files", "no files: send the submission's files, a mapping of relative path to text"
            )
        if len(files) > MAX_FILES:
            raise PydanticCustomError("too_many_files", f"{len(files)} files: at most {MAX_FILES}")
        total = sum(len(path.encode("utf-8")) + len(text.encode("utf-8")) for path, text in files.items())
        if total > MAX_TOTAL_BYTES:
            raise PydanticCustomError("files_too_large", f"{total} bytes of files: at most {MAX_TOTAL_BYTES}")
        return files


class TaskObservation(Observation):  # type: ignore[misc]
    """What reset and step answer. After reset: ``prompt``, the starter's ``files``, ``seed`` and
    ``instance``. After step: ``report`` (the JSON report), with ``reward`` and ``done=True``."""

    task: str = Field(description="the task's name")
    prompt: str = Field(default="", description="the task's prompt (after reset)")
    files: dict[str, str] = Field(default_factory=dict, description="the starter's files (after reset)")
    seed: int | None = Field(default=None, description="the seed the grading uses")
    instance: str | None = Field(default=None, description="the dataset instance, for dataset tasks")
    instance_data: dict[str, Any] | None = Field(
        default=None, description="the instance's row, when the task makes its instances file public"
    )
    report: dict[str, Any] | None = Field(default=None, description="the grading's JSON report (after step)")


class GradingState(State):  # type: ignore[misc]
    """An episode's state: its task, seed, instance, and whether it was graded."""

    task: str = ""
    seed: int | None = None
    instance: str | None = None
    graded: bool = False
    reward: float | None = None


class Grading(Protocol):
    """What the environment needs of :class:`pytest_rlgrade.Grader`."""

    def grade(self, submission: Any, *, task: str, instance: str | None = None, seed: int | None = None) -> Report: ...


# ----------------------------------------------------------------------------------- the task


# What reset hands out, read once when the server starts (see completions.read_task).
ServedTask = TaskText
load_served_task = read_task


# ------------------------------------------------------------------------------- environment


def _refuse(status: int, detail: str) -> HTTPException:
    # openenv turns an HTTPException raised by the environment into that status on HTTP, and into
    # an error message (the session stays open) on the WebSocket.
    return HTTPException(status_code=status, detail=detail)


class TaskEnvironment(Environment):  # type: ignore[misc]
    """One episode of one task at a time; the server makes one per session."""

    SUPPORTS_CONCURRENT_SESSIONS = True

    def __init__(self, *, served: ServedTask, grader: Grading) -> None:
        super().__init__()
        self._served = served
        self._grader = grader
        self._state = GradingState(task=served.name)
        self._lock = threading.Lock()

    def reset(
        self, seed: int | None = None, episode_id: str | None = None, instance: str | None = None, **kwargs: Any
    ) -> TaskObservation:
        if kwargs:
            raise _refuse(422, f"unknown reset parameter(s): {', '.join(sorted(kwargs))} (known: seed, instance)")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise _refuse(422, f"seed must be a non-negative integer, not {seed!r}")
        if seed is None:
            seed = secrets.randbelow(2**32)
        served = self._served
        if instance is not None:
            self._check_instance(instance)
        elif served.instances:
            instance = random.Random(seed).choice(sorted(served.instances))
        with self._lock:
            self._state = GradingState(task=served.name, episode_id=episode_id, seed=seed, instance=instance)
        return TaskObservation(
            task=served.name,
            prompt=served.prompt_for(instance),
            files=dict(served.starter_files),
            seed=seed,
            instance=instance,
            instance_data=served.public_row(instance) if instance is not None else None,
            done=False,
            reward=None,
        )

    def _check_instance(self, instance: str) -> None:
        served = self._served
        if not served.instances:
            raise _refuse(422, f"task {served.name!r} has no dataset instances; leave 'instance' out")
        if instance not in served.instances:
            raise _refuse(422, f"unknown instance {instance!r} of task {served.name!r}")

    def step(self, action: SubmitFiles, timeout_s: float | None = None, **kwargs: Any) -> TaskObservation:
        with self._lock:
            if self._state.graded:
                raise _refuse(409, "this episode is over (done): reset to start another")
            seed = action.seed if action.seed is not None else self._state.seed
            instance = action.instance if action.instance is not None else self._state.instance
            if instance is not None:
                self._check_instance(instance)
            if seed is None:  # stepped without reset (HTTP POST /step): a fresh seed, as the CLI draws one
                seed = secrets.randbelow(2**32)
            report = self._grader.grade(dict(action.files), task=self._served.name, instance=instance, seed=seed)
            data = report.model_dump(mode="json")
            self._state.seed = seed
            self._state.instance = instance
            self._state.graded = True
            self._state.reward = report.reward
            self._state.step_count += 1
        return TaskObservation(
            task=self._served.name, seed=seed, instance=instance, report=data, reward=report.reward, done=True
        )

    @property
    def state(self) -> GradingState:
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        first = next((line.strip("# ").strip() for line in self._served.prompt.splitlines() if line.strip()), "")
        return EnvironmentMetadata(
            name=f"rlgrade:{self._served.name}",
            description=first or f"pytest-rlgrade task {self._served.name}",
            readme_content=self._served.prompt,
            version=_version(),
        )


class _QuietDisconnect:
    """Swallows the ``WebSocketDisconnect`` that openenv-core 0.3's ``/ws`` endpoint raises when it
    closes a socket the client already closed (it catches only ``RuntimeError`` there), which
    uvicorn would log as "Exception in ASGI application" with a traceback after every episode."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from starlette.websockets import WebSocketDisconnect

        try:
            await self.app(scope, receive, send)
        except WebSocketDisconnect:
            if scope.get("type") != "websocket":
                raise


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-rlgrade")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def create_environment_app(served: ServedTask, grader: Grading, *, max_sessions: int = 64) -> FastAPI:
    """The OpenEnv FastAPI app of one task (openenv's ``create_app``), grading through ``grader``."""

    # A partial of the class, so that openenv reads SUPPORTS_CONCURRENT_SESSIONS off the class
    # instead of building a throwaway environment to find it.
    environment = functools.partial(TaskEnvironment, served=served, grader=grader)
    app: FastAPI = create_app(
        environment, SubmitFiles, TaskObservation, env_name=served.name, max_concurrent_envs=max_sessions
    )
    return app


# ----------------------------------------------------------------------------------- client


class RlgradeEnv(EnvClient):  # type: ignore[misc]
    """openenv's WebSocket client for a served task::

    with RlgradeEnv(base_url="http://127.0.0.1:8000").sync() as env:
        episode = env.reset(seed=7)
        files = dict(episode.observation.files)  # the starter's; edit them
        result = env.step(SubmitFiles(files=files))
        result.reward, result.observation.report["tasks"][0]["counts"]
    """

    def _step_payload(self, action: SubmitFiles | Mapping[str, Any]) -> dict[str, Any]:
        if isinstance(action, SubmitFiles):
            payload: dict[str, Any] = action.model_dump(exclude={"metadata"}, exclude_none=True)
            return payload
        return dict(action)

    def _parse_result(self, payload: dict[str, Any]) -> StepResult:
        observation = TaskObservation(
            **payload.get("observation", {}), reward=payload.get("reward"), done=payload.get("done", False)
        )
        return StepResult(observation=observation, reward=payload.get("reward"), done=payload.get("done", False))

    def _parse_state(self, payload: dict[str, Any]) -> GradingState:
        return GradingState(**payload)


# -------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, metavar="NAME", help="the task to serve (tasks/NAME)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    parser.add_argument("--root", type=Path, default=None, help="the repository holding tasks/ (default: .)")
    parser.add_argument("--workers", type=int, default=None, help="grading workers (default: the Grader's)")
    parser.add_argument(
        "--max-sessions", type=int, default=64, metavar="N", help="concurrent WebSocket sessions (default 64)"
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from pytest_rlgrade import Grader
    from pytest_rlgrade.errors import ManifestError

    def fail(message: object, status: int = USAGE_ERROR) -> int:
        print(f"rlgrade serve: error: {message}", file=sys.stderr)
        return status

    if not 0 <= args.port <= 65535:
        return fail(f"--port {args.port}: not a port number")
    if args.max_sessions < 1:
        return fail(f"--max-sessions {args.max_sessions}: must be at least 1")
    try:
        # The Grader finds the repository as the API does (root=, else the current folder or a parent).
        grader = Grader(root=args.root, tasks=[args.task], workers=args.workers)
        served = load_served_task(args.task, Path(grader.repository))
    except (ManifestError, ValueError, RuntimeError) as error:  # GraderError is a RuntimeError
        return fail(error)
    try:
        grader.__enter__()  # warm before the first episode: workers started, tests collected
    except RuntimeError as error:
        return fail(f"the grader could not start: {error}", HARNESS_ERROR)
    try:
        app = create_environment_app(served, grader, max_sessions=args.max_sessions)
        print(
            f"rlgrade serve: task {served.name} on http://{args.host}:{args.port} (OpenEnv; WebSocket /ws)", flush=True
        )
        uvicorn.run(_QuietDisconnect(app), host=args.host, port=args.port, log_level="warning")
    finally:
        grader.close()
    return 0
