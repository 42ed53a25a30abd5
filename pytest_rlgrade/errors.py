"""The exceptions of pytest-rlgrade, sorted by whose fault they are.

- The submission's: :class:`SubmissionRaised` (its code raised where a value was expected) and
  :class:`SubmissionFault` (it timed out, crashed, ran out of memory or answered with something that
  is not plain data). A fault is a :class:`BaseException`, as pytest's own ``Failed`` is, so that a
  test's ``except Exception`` or ``pytest.raises(Exception)`` cannot swallow it.
- The task's or the user's: :class:`ManifestError`, :class:`SubmissionPathError`,
  :class:`TaskError`. They become pytest usage errors or a task flagged ``task_error``.
- The harness's own: :class:`SandboxUnavailable`. The report then says ``reward: null``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Control characters (but newline and tab) escaped: text from the submission reaches the terminal,
# where escape sequences could rewrite what a person reads (a fake summary line, say).
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)] if c not in (0x09, 0x0A)}


def printable(text: str) -> str:
    """``text`` with control characters (but newline and tab) escaped."""
    return text.translate(_CONTROL)


class RlgradeError(Exception):
    """Base of the errors that are not the submission's fault."""


class ManifestError(RlgradeError):
    """A task folder or its ``task.yaml`` is unusable; says which file and which key."""

    def __init__(self, path: object, key: str | None, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{self.path}: {key}" if key else self.path
        super().__init__(f"{where}: {problem}")


class SubmissionPathError(RlgradeError):
    """``--submission`` names nothing gradable."""


class TaskError(RlgradeError):
    """A task's trusted tests misuse the harness (for example record an undeclared metric)."""


class SandboxUnavailable(RlgradeError):
    """The sandbox could not be started or talked to for a reason that is not the submission's."""


class SubmissionRaised(Exception):
    """The submission's code raised an exception where a value was expected.

    ``type_name`` is the qualified name of the exception's class, ``type_names`` those of its whole
    MRO (so ``is_a("ValueError")`` holds for a ``pydantic_core.ValidationError``), ``message`` its
    ``str()``, and ``remote_traceback`` the traceback as the sandbox formatted it.
    """

    def __init__(self, type_name: str, type_names: Sequence[str], message: str, remote_traceback: str = "") -> None:
        self.type_name = type_name
        self.type_names = tuple(type_names)
        self.message = message
        self.remote_traceback = remote_traceback
        super().__init__(f"{type_name}: {message}")

    def is_a(self, name: str) -> bool:
        """Whether the remote exception is an instance of a class called ``name``.

        ``name`` is bare (``ValueError``) or qualified (``pydantic_core.ValidationError``).
        """
        return any(full == name or full.rsplit(".", 1)[-1] == name for full in self.type_names)

    def __str__(self) -> str:
        text = f"the submission raised {printable(self.type_name)}: {printable(self.message)}"
        if self.remote_traceback:
            text += "\n--- traceback in the submission ---\n" + printable(self.remote_traceback.rstrip())
        return text


class SubmissionFault(BaseException):
    """The submission broke the sandbox's rules: the test fails and the task gets flag ``kind``."""

    kind = "crash"

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


class SubmissionTimeout(SubmissionFault):
    """A call, the test or the task ran out of wall-clock time."""

    kind = "timeout"


class SubmissionCrashed(SubmissionFault):
    """The process serving the test died (a signal, ``os._exit``, a broken pipe)."""

    kind = "crash"


class SubmissionMemoryError(SubmissionFault):
    """The submission ran out of its memory limit."""

    kind = "memory"


class SubmissionProtocolError(SubmissionFault):
    """The sandbox answered with something that is not a valid, size-capped message."""

    kind = "protocol"
