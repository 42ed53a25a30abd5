"""In-process mode (``--isolation=none``): the submission runs inside the pytest process.

Only for debugging trusted code (a reference, your own edits) with pdb: nothing is confined and
timeouts are not enforced. Answers still go through the same :class:`~pytest_rlgrade.worker.Server`
and the same JSON encoding as in the sandbox, so tests see exactly the same values in both modes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from .client import CliResult
from .errors import SubmissionProtocolError
from .runtime import wire
from .runtime.worker import Server, run_module


def importable_names(root: Path) -> set[str]:
    """Top-level module names that a folder on ``sys.path`` provides."""
    names = set()
    for entry in root.iterdir() if root.is_dir() else ():
        if entry.is_dir() and entry.name.isidentifier():
            names.add(entry.name)
        elif entry.suffix == ".py" and entry.stem.isidentifier():
            names.add(entry.stem)
    return names


def forget_modules(names: set[str]) -> None:
    """Drop ``names`` and their submodules from ``sys.modules`` so the next import is fresh."""
    for name in list(sys.modules):
        if name.split(".", 1)[0] in names:
            del sys.modules[name]


class InProcessConnection:
    def __init__(self, roots: list[Path], package: str, workdir: Path, message_limit: int) -> None:
        self.roots = [str(r) for r in roots]
        self.workdir = workdir
        self.limit = message_limit
        self.names = {package}.union(*(importable_names(r) for r in roots[1:] if r.is_dir()))
        forget_modules(self.names)
        sys.path[:0] = self.roots
        self.server = Server()

    @contextlib.contextmanager
    def _in_workdir(self):  # type: ignore[no-untyped-def]
        before = os.getcwd()
        os.chdir(self.workdir)
        try:
            yield
        finally:
            os.chdir(before)

    def request(self, message: dict[str, Any], deadline: float) -> Any:
        # Both ways as JSON, as over the sandbox's socket: the submission gets copies of the
        # test's values (never the test's own objects), and the same size limit.
        try:
            message = self._cross(message)
            with self._in_workdir():
                answer = self.server.answer(message)
            return self._cross(answer)
        except wire.WireError as exc:  # as SandboxConnection.request says it
            raise SubmissionProtocolError(str(exc)) from None

    def _cross(self, message: Any) -> Any:
        return json.loads(wire.dumps(message, self.limit)[wire.HEADER.size :])

    def run_module(
        self,
        module: str,
        argv: list[str],
        deadline: float,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        saved_argv, saved_stdin, saved_env = sys.argv[:], sys.stdin, dict(os.environ)
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8")
        os.environ["TMPDIR"] = str(self.workdir)  # as in the sandbox: the test's own folder
        os.environ.update(env or {})
        with self._in_workdir(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = run_module(module, argv)
            finally:
                sys.argv[:] = saved_argv
                sys.stdin = saved_stdin
                os.environ.clear()
                os.environ.update(saved_env)
        return CliResult(code, out.getvalue(), err.getvalue())

    def close(self) -> None:
        for root in self.roots:
            with contextlib.suppress(ValueError):
                sys.path.remove(root)
        forget_modules(self.names)
