"""The ``submission`` fixture's object: how a trusted test talks to the submission.

A :class:`Submission` sends requests over a :class:`Connection` (a sandbox process, or the
in-process server when debugging trusted code) and gives back plain data or :class:`Handle`
objects. It keeps the test's and the task's time budget: a call never waits past the earliest of
its own timeout, the test's and the task's deadline.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol

from .errors import (
    SubmissionFault,
    SubmissionMemoryError,
    SubmissionProtocolError,
    SubmissionRaised,
    SubmissionTimeout,
)
from .files import read_beneath
from .runtime import wire


@dataclass(frozen=True)
class CliResult:
    """What a command line run of the submission left: exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


class Connection(Protocol):
    """One test's channel to a fresh process serving the submission."""

    def request(self, message: dict[str, Any], deadline: float) -> Any:
        """Send a request and return the decoded JSON answer; raise a SubmissionFault on failure."""

    def run_module(
        self,
        module: str,
        argv: list[str],
        deadline: float,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        """``python -m module argv...`` in the working folder, reading ``stdin`` (nothing when
        None) with ``env`` added to its environment."""

    def close(self) -> None:
        """End the process and everything it started."""


@dataclass
class TaskBudget:
    """What one task's submission may still spend: shared by all of the task's tests.

    After ``fault_budget`` timeouts or memory exhaustions the task is *stopped*: its remaining
    calls fail at once with the same fault, so a submission that hangs or hoards memory costs a
    bounded time, not that cost times the number of tests.
    """

    deadline: float
    fault_budget: int
    expensive_faults: int = 0
    stopped: SubmissionFault | None = None

    def record(self, kind: str) -> None:
        if kind not in ("timeout", "memory"):
            return
        self.expensive_faults += 1
        if self.expensive_faults >= self.fault_budget and self.stopped is None:
            fault = SubmissionTimeout if kind == "timeout" else SubmissionMemoryError
            self.stopped = fault(
                f"the submission's remaining calls were not run: it ran into {kind} {self.expensive_faults} times"
            )


@dataclass
class Budget:
    """Wall-clock limits of one test: per call, per test, and what is left of the task's."""

    call_timeout: float
    test_deadline: float
    task: TaskBudget

    def deadline(self, timeout: float | None = None) -> float:
        if self.task.stopped is not None:
            raise type(self.task.stopped)(self.task.stopped.message)
        now = time.monotonic()
        call = now + (self.call_timeout if timeout is None else timeout)
        deadline = min(call, self.test_deadline, self.task.deadline)
        if deadline <= now:
            which = "task" if self.task.deadline <= now else "test"
            raise SubmissionTimeout(f"the {which}'s time budget is used up")
        return deadline


class Handle:
    """A live object in the submission's process. ``handle.name(...)`` calls its method ``name``;
    pass a handle back as an argument to hand the object to another call."""

    __slots__ = ("_submission", "_id", "_type")

    def __init__(self, submission: Submission, ident: int, type_name: str) -> None:
        self._submission = submission
        self._id = ident
        self._type = type_name

    def __getattr__(self, name: str) -> RemoteMethod:
        if name.startswith("__"):
            raise AttributeError(name)
        return RemoteMethod(self, name)

    def __bool__(self) -> bool:
        # A handle is what comes back when the answer is *not* plain data: were it truthy, a
        # submission could pass `assert module.is_valid(x)` by returning any object.
        raise TypeError(f"a {self!r} has no truth value: the submission returned an object, not plain data")

    def __repr__(self) -> str:
        return f"<Handle {self._type}>"


class RemoteMethod:
    """``handle.name``: calling it calls ``name`` on the live object in the sandbox."""

    __slots__ = ("_handle", "_name")

    def __init__(self, handle: Handle, name: str) -> None:
        self._handle = handle
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # failures show the test, not the harness
        return self._handle._submission.call(self._handle, self._name, *args, **kwargs)

    def each(self, calls: Iterable[Sequence[Any]]) -> list[Any]:
        """``[method(*args) for args in calls]`` in one round trip (see :meth:`Submission.call_each`)."""
        __tracebackhide__ = True
        return self._handle._submission.call_each(self._handle, self._name, calls)

    def __bool__(self) -> bool:
        raise TypeError(f"{self!r} is a method of the submission: call it")

    def __repr__(self) -> str:
        return f"{self._handle._type}.{self._name}"


def _checked_env(env: Mapping[str, str]) -> dict[str, str]:
    """``run_cli``'s environment, as the kernel can take it: names and values are strings,
    names are non-empty without ``=``, neither holds a NUL."""
    checked = {}
    for name, value in dict(env).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"run_cli(env=...): {name!r}={value!r}: names and values must be str")
        if not name or "=" in name or "\0" in name or "\0" in value:
            raise ValueError(f"run_cli(env=...): {name!r} is not a usable environment variable")
        checked[name] = value
    return checked


@dataclass
class RaisesInfo:
    """Filled by :meth:`Submission.raises` with the exception the submission raised."""

    value: SubmissionRaised | None = None


@dataclass
class Submission:
    """The submission, as a test sees it. See ``docs/writing-tasks.md``."""

    task: str
    package: str
    workdir: Path
    public_dir: Path
    connection: Connection
    budget: Budget
    message_limit: int
    on_fault: Callable[[str], None] = lambda kind: None
    _closed: bool = field(default=False, repr=False)

    # -- requests -----------------------------------------------------------------------------

    def _convert(self, obj: Any) -> Any:
        if isinstance(obj, Handle):
            if obj._submission is not self:
                raise wire.WireError("a handle from another test's submission")
            return {wire.HANDLE: obj._id, "$type": obj._type}
        if isinstance(obj, PurePath):
            return str(obj)
        return obj

    def _make_handle(self, ident: int, type_name: str) -> Handle:
        return Handle(self, ident, type_name)

    def _ask(self, message: dict[str, Any], timeout: float | None = None) -> Any:
        __tracebackhide__ = True  # failures show the test, not the harness
        try:
            deadline = self.budget.deadline(timeout)
            answer = self.connection.request(message, deadline)
            if type(answer) is not dict or len(answer) != 1:
                raise SubmissionProtocolError("an answer that is not {ok} or {raised}")
            if "ok" in answer:
                try:
                    return wire.decode(answer["ok"], self._make_handle)
                except wire.WireError as exc:
                    raise SubmissionProtocolError(f"the answer is not plain data: {exc}") from None
            info = answer.get("raised")
            if type(info) is not dict:
                raise SubmissionProtocolError("an answer that is not {ok} or {raised}")
            raised = SubmissionRaised(
                str(info.get("type_name", "?")),
                [str(n) for n in info.get("type_names", [])][:64],
                str(info.get("message", "")),
                str(info.get("traceback", "")),
            )
            if raised.is_a("MemoryError"):
                raise SubmissionMemoryError(f"the submission ran out of memory: {raised.message}") from raised
            raise raised
        except SubmissionFault as fault:
            self.on_fault(fault.kind)
            raise

    def _encode(self, value: Any) -> Any:
        try:
            return wire.encode(value, self._convert)
        except wire.WireError as exc:
            raise TypeError(f"cannot pass this to the submission: {exc}") from None

    def module(self, name: str) -> Handle:
        """Import ``name`` (a module of the submission or anything it may import) in the sandbox."""
        __tracebackhide__ = True  # failures show the test, not the harness
        handle = self._ask({"op": "import", "module": name})
        if not isinstance(handle, Handle):
            raise SubmissionProtocolError(f"importing {name} gave back no handle")
        return handle

    def call(self, target: Handle, attr: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``target.attr(*args, **kwargs)`` in the sandbox; plain data or a handle comes back."""
        __tracebackhide__ = True  # failures show the test, not the harness
        return self._ask(
            {
                "op": "call",
                "target": target._id,
                "attr": attr,
                "args": self._encode(list(args)),
                "kwargs": self._encode(kwargs),
            }
        )

    def call_each(self, target: Handle, attr: str, calls: Iterable[Sequence[Any]]) -> list[Any]:
        """``[target.attr(*args) for args in calls]`` in one round trip to the sandbox instead of
        one per call (a dataset task's inputs, say): the results in order. The first exception
        stops the rest and is raised as :meth:`call` raises it; each call has the call timeout,
        so the whole has ``len(calls)`` times it, within the test's budget."""
        __tracebackhide__ = True  # failures show the test, not the harness
        batch = [list(args) for args in calls]
        results = self._ask(
            {"op": "call_each", "target": target._id, "attr": attr, "calls": self._encode(batch)},
            timeout=self.budget.call_timeout * max(1, len(batch)),
        )
        if type(results) is not list or len(results) != len(batch):
            raise SubmissionProtocolError("a call_each answer that is not one result per call")
        return results

    def instance(self, target: Handle, attr: str, *args: Any, **kwargs: Any) -> Handle:
        """Like :meth:`call`, but the result always stays in the sandbox as a handle (for a
        pydantic model or dataclass whose methods the test wants to call)."""
        __tracebackhide__ = True  # failures show the test, not the harness
        handle = self._ask(
            {
                "op": "instance",
                "target": target._id,
                "attr": attr,
                "args": self._encode(list(args)),
                "kwargs": self._encode(kwargs),
            }
        )
        if not isinstance(handle, Handle):
            raise SubmissionProtocolError("an instance request gave back no handle")
        return handle

    def getattr(self, target: Handle, attr: str) -> Any:
        """The value of ``target.attr``: plain data or a handle."""
        __tracebackhide__ = True  # failures show the test, not the harness
        return self._ask({"op": "getattr", "target": target._id, "attr": attr})

    def run_cli(
        self,
        argv: list[str | PurePath],
        module: str | None = None,
        timeout: float | None = None,
        *,
        stdin: str | bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> CliResult:
        """Run ``python -m PACKAGE.cli argv...`` (or ``module``) in :attr:`workdir`.

        ``stdin`` (text is UTF-8 encoded) is what the program reads on its standard input (by
        default an empty one); ``env`` is added to the sandbox's environment (overriding what it
        names). ``timeout`` bounds this run, within the test's own budget."""
        __tracebackhide__ = True
        module = module or f"{self.package}.cli"
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        if data is not None and not isinstance(data, bytes):
            raise TypeError(f"run_cli(stdin=...) takes str or bytes, not {type(stdin).__name__}")
        if data is not None and len(data) > self.message_limit:
            raise ValueError(
                f"run_cli(stdin=...) of {len(data)} bytes is over the task's limit of {self.message_limit}"
            )
        variables = None if env is None else _checked_env(env)
        try:
            return self.connection.run_module(
                module, [str(a) for a in argv], self.budget.deadline(timeout), stdin=data, env=variables
            )
        except SubmissionFault as fault:
            self.on_fault(fault.kind)
            raise

    @contextmanager
    def raises(self, type_name: str, match: str | None = None) -> Iterator[RaisesInfo]:
        """Expect the block to make the submission raise ``type_name`` (bare or qualified)."""
        info = RaisesInfo()
        try:
            yield info
        except SubmissionRaised as exc:
            if not exc.is_a(type_name):
                raise AssertionError(
                    f"expected the submission to raise {type_name}, it raised {exc.type_name}: {exc.message}"
                ) from exc
            if match is not None and not re.search(match, exc.message):
                raise AssertionError(
                    f"the submission raised {exc.type_name}, but its message {exc.message!r} does not match {match!r}"
                ) from exc
            info.value = exc
        else:
            raise AssertionError(f"expected the submission to raise {type_name}; it raised nothing")

    def read_bytes(self, relative: str | PurePath) -> bytes:
        """A file the submission wrote under :attr:`workdir`: size-capped, and only a regular file
        reached without links (use this, not ``open``, on what the submission wrote).

        Raises ``FileNotFoundError`` when it is missing and :class:`~pytest_rlgrade.files.UnsafeFile`
        (an ``OSError``) when it is a link, a FIFO, outside the folder or too large.
        """
        return read_beneath(self.workdir, relative, self.message_limit)

    def read_text(self, relative: str | PurePath) -> str:
        """:meth:`read_bytes` decoded as UTF-8."""
        return self.read_bytes(relative).decode("utf-8")

    def read_json(self, relative: str | PurePath) -> Any:
        """:meth:`read_bytes` parsed as JSON."""
        return json.loads(self.read_bytes(relative))

    def __repr__(self) -> str:
        return f"<Submission of task {self.task}>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # Hypothesis prints a failing example's arguments with this protocol, and would otherwise
        # spell out the dataclass field by field (connection, budget, the task's state...).
        printer.text(repr(self))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.connection.close()
