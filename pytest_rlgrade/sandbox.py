"""The supervisor's side of the sandbox: a warm pool per task, and one sandbox per submission.

A :class:`SandboxPool` owns a folder ``rlgrade-TASK-*`` in the temp dir::

    public/       the task's public files (read-only to every submission)
    runtime/      the stdlib-only ``runtime`` subpackage: worker and wire (read-only)
    stage/SID/    each submission's sanitised copy of its package (read-only to that one only)
    scratch/SID/  each submission's only writable place: a working folder per test, its output

and a pool process (``runtime/worker.py``) that confines itself, imports the task's ``preload``
modules once, and never runs submission code. For each submission a :class:`Sandbox` asks the
pool to fork a fresh process tree confined to that submission's own copy and scratch (new PID,
mount, IPC and network namespaces, its own cgroups and Landlock layer), which then forks a fresh
child for every test. The supervisor enforces wall-clock time: on a timeout it kills that
submission's tree and opens a new one for its next test.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from . import scratch
from .cgroups import SandboxCgroups, make_cgroups
from .client import CliResult
from .errors import (
    SandboxUnavailable,
    SubmissionCrashed,
    SubmissionMemoryError,
    SubmissionProtocolError,
    SubmissionTimeout,
)
from .files import read_beneath, scrub
from .manifest import Task
from .runtime import wire

_T = TypeVar("_T")

STARTUP_TIMEOUT = 120.0
SPARES = 2  # trees a grader worker's pool keeps forked ahead (see SandboxPool.make_spare)
# Files a submission may carry that only make sense as an attack on the grader: they are never
# copied into the sandbox, and finding one flags the task `tamper`.
TAMPER_NAMES = frozenset({"conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.py", "_pytest"})
# Dropped without comment: caches, packaging metadata and tool configuration have no business in a
# graded package, and a model may leave them behind innocently.
SKIPPED_NAMES = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".hypothesis",
        ".mypy_cache",
        ".ruff_cache",
        "pytest.ini",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
        ".git",
    }
)
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".dist-info")
MAX_COPY_FILES = 5_000
MAX_COPY_BYTES = 64 * 1024 * 1024
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from rlgrade_runtime.worker import main; main(sys.argv[2])"
SYSTEM_READ = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc"]
# Of /etc, what an interpreter and its libraries read (not, say, /etc/shadow).
ETC_READ = [
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/host.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/mime.types",
    "/etc/os-release",
    "/etc/debian_version",
    "/etc/locale.alias",
    "/etc/gai.conf",
]
DEVICES = ["/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/full"]


def _is_tamper(name: str) -> bool:
    return name in TAMPER_NAMES or name.endswith(".pth")


def sanitised_copy(source: Path, dest: Path) -> list[str]:
    """Copy a package tree, leaving out what must not reach the sandbox. Returns the tamper
    findings (paths relative to ``source``'s parent)."""
    findings: list[str] = []
    count = size = 0
    for folder, dirs, files in os.walk(source, followlinks=False):
        here = Path(folder)
        target = dest / here.relative_to(source)
        target.mkdir(parents=True, exist_ok=True)
        keep = []
        for name in sorted(dirs):
            path = here / name
            if name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES):
                continue
            if path.is_symlink() or _is_tamper(name):
                findings.append(str(path.relative_to(source.parent)))
                continue
            keep.append(name)
        dirs[:] = keep
        for name in sorted(files):
            path = here / name
            if name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES):
                continue
            if _is_tamper(name):
                findings.append(str(path.relative_to(source.parent)))
                continue
            if path.is_symlink():
                # Submissions are plain files: a link is either a trap or an attempt to reach a
                # file outside the package (the reference, the tests), never followed.
                findings.append(str(path.relative_to(source.parent)))
                continue
            if not path.is_file():
                continue
            count += 1
            size += path.stat().st_size
            if count > MAX_COPY_FILES or size > MAX_COPY_BYTES:
                raise SubmissionProtocolError(
                    f"the submission's package is larger than {MAX_COPY_FILES} files or "
                    f"{MAX_COPY_BYTES // (1024 * 1024)} MiB"
                )
            shutil.copyfile(path, target / name)
    return findings


def root_findings(submission_root: Path, package: str) -> list[str]:
    """Tamper files beside the package in the submission's root (never copied anyway)."""
    return sorted(p.name for p in submission_root.iterdir() if p.name != package and _is_tamper(p.name))


def copy_public(task: Task, dest: Path) -> None:
    """Copy the task's public files (and nothing else of the task) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for entry in task.manifest.public:
        src, dst = task.folder / entry, dest / entry
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copyfile(src, dst)


def describe_status(status: int | None) -> str:
    if status is None:
        return "the process serving the test went away"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the process serving the test was killed by {name}"
    return f"the process serving the test exited with status {status} in the middle of the test"


class SandboxPool:
    """One task's warm pool. ``open(submission_root)`` gives a :class:`Sandbox` per submission."""

    def __init__(self, task: Task, *, namespaces: bool = True, landlock: bool = True) -> None:
        self.task = task
        self.limits = task.manifest.limits
        self.message_limit = self.limits.message_mb * 1024 * 1024
        self.namespaces = namespaces
        self.landlock = landlock
        self.root = scratch.make(f"rlgrade-{task.name}-")
        os.chmod(self.root, 0o755)
        self.public_dir = self.root / "public"
        self.runtime_dir = self.root / "runtime"
        self.stage = self.root / "stage"
        self.scratch = self.root / "scratch"
        self.process: subprocess.Popen[bytes] | None = None
        self.control: socket.socket | None = None
        self.ready = False
        self.confinement: list[str] = []
        self.problems: list[str] = []
        self.cgroups: SandboxCgroups | None = None
        self.events: dict[str, list[str]] = {}  # sid -> events of the pool about it
        self.counter = 0
        self.prepared = False
        self.closed = False
        self.lock = threading.Lock()
        # Trees forked ahead (see make_spare), oldest first: the next submission takes the oldest,
        # which has had a whole grading's time to become ready.
        self.spares: collections.deque[Spare] = collections.deque()

    def prepare(self) -> None:
        if self.prepared:
            return
        self.prepared = True
        copy_public(self.task, self.public_dir)
        runtime = self.runtime_dir / "rlgrade_runtime"
        runtime.mkdir(parents=True)
        here = Path(__file__).parent / "runtime"
        (self.runtime_dir / "home").mkdir()
        for name in ("__init__.py", "wire.py", "worker.py"):
            shutil.copyfile(here / name, runtime / name)
        self.stage.mkdir(mode=0o755)
        self.scratch.mkdir(mode=0o755)
        (self.root / "newroot").mkdir()

    def _config(self, control_fd: int) -> Path:
        from .distributions import python_view

        limits = self.limits
        view = python_view(list(self.task.manifest.dependencies))
        system = [
            *view.read,
            *SYSTEM_READ,
            *ETC_READ,
            str(self.public_dir),
            str(self.runtime_dir),
        ]
        submission_limits = {
            "memory": self.limits.memory_mb * 1024 * 1024,
            "pids": self.limits.processes,
        }
        mounted = [*view.mounts, *SYSTEM_READ, *ETC_READ, str(self.public_dir), str(self.runtime_dir), str(self.stage)]

        def inside(path: str) -> bool:
            return any(path != m and path.startswith(m.rstrip("/") + "/") for m in mounted)

        config = {
            "control_fd": control_fd,
            # Landlock reads only ``read_paths``; the private root mounts whole folders and hides
            # the site-packages folders inside them (but what is declared).
            "mount_paths": mounted,
            "hide_paths": [site for site in view.site_dirs if inside(site)],
            "message_limit": self.message_limit,
            "limits": {
                "memory_mb": limits.memory_mb,
                "output_mb": limits.output_mb,
                "open_files": limits.open_files,
                "processes": limits.processes,
                "task_timeout": limits.task_timeout,
            },
            "namespaces": self.namespaces,
            "landlock": self.landlock,
            "python_dirs": list(view.python_dirs),
            "stdlib_dirs": list(view.stdlib_dirs),
            "private_root": str(self.root / "newroot") if self.namespaces else "",
            "system_read": system,
            "read_paths": [*system, str(self.stage)],
            "write_paths": [str(self.scratch)],
            "stage_root": str(self.stage),
            "scratch_root": str(self.scratch),
            "devices": DEVICES,
            "roots": [str(self.public_dir)],
            "preload": list(self.task.manifest.preload),
            "cgroup_procs": self.cgroups.procs if self.cgroups else [],
            "pool_cgroup_controllers": self.cgroups.controllers if self.cgroups else [],
            "cgroup_controllers": sorted(submission_limits),
        }
        path = self.root / "pool.json"
        path.write_text(json.dumps(config))
        return path

    def start(self) -> None:
        """Start the pool without waiting for it (it imports the preloads meanwhile)."""
        self.prepare()
        if self.process is not None:
            return
        if self.cgroups is None:
            # The pool's own ceiling: it only imports and forks, but a preload could be greedy.
            self.cgroups = make_cgroups(
                self.root.name, {"pids": self.limits.processes, "memory": self.limits.memory_mb * 1024 * 1024}
            )
        parent, child = socket.socketpair()
        log = open(self.root / "pool.log", "ab")  # noqa: SIM115 - handed to the child
        # Nothing the pool does may read a file a submission could have planted: it starts in the
        # read-only runtime folder with an empty read-only home.
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self.runtime_dir / "home"),
            "TMPDIR": str(self.scratch),
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        }
        try:
            config = self._config(child.fileno())
        except Exception as exc:
            child.close()
            parent.close()
            log.close()
            raise SandboxUnavailable(f"cannot configure the sandbox of task {self.task.name}: {exc}") from exc
        try:
            # -s -P -B with a fully constructed environment is -I but for PYTHONHASHSEED, which
            # keeps string hashing (set order) the same from run to run.
            self.process = subprocess.Popen(
                [sys.executable, "-s", "-P", "-B", "-c", BOOT, str(self.runtime_dir), str(config)],
                cwd=self.runtime_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=[child.fileno()],
                start_new_session=True,
            )
        except OSError as exc:
            raise SandboxUnavailable(f"cannot start the sandbox worker: {exc}") from exc
        finally:
            child.close()
            log.close()
        self.control = parent
        self.ready = False

    def log_tail(self) -> str:
        try:
            return (self.root / "pool.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _event(self, wanted: Callable[[dict[str, Any]], bool], deadline: float) -> dict[str, Any]:
        assert self.control is not None
        while True:
            event = wire.recv(self.control, self.message_limit, deadline)
            if type(event) is not dict:
                raise wire.WireError("an event that is not an object")
            if event.get("event") == "gone":
                self.events.setdefault(str(event.get("sid")), []).append("gone")
            if wanted(event):
                return event

    def ensure_ready(self) -> None:
        """Wait for the pool; raises :class:`SandboxUnavailable` (never the submission's fault:
        no submission code has run in it)."""
        with self.lock:
            if self.closed:
                raise SandboxUnavailable("the sandbox pool is closed")
            if self.process is None:
                self.start()
            if self.ready:
                return
            try:
                event = self._event(lambda e: e.get("event") == "ready", time.monotonic() + STARTUP_TIMEOUT)
            except (wire.WireError, wire.WireTimeout, wire.WireClosed, OSError) as exc:
                self._kill()
                raise SandboxUnavailable(f"the sandbox did not start ({exc}); its log:\n{self.log_tail()}") from exc
            self.confinement = [str(c) for c in event.get("confinement", [])]
            self.problems = [str(p) for p in event.get("problems", [])]
            self.ready = True

    def _request(self, message: dict[str, Any], fds: list[int] | None = None, wanted: str | None = None) -> None:
        self.ensure_ready()
        with self.lock:
            assert self.control is not None
            deadline = time.monotonic() + STARTUP_TIMEOUT
            try:
                wire.send(self.control, message, self.message_limit, fds, deadline)
                if wanted is not None:
                    self._event(lambda e: e.get("event") == wanted and e.get("sid") == message["sid"], deadline)
            except (wire.WireError, wire.WireTimeout, wire.WireClosed, OSError) as exc:
                self._kill()
                raise SandboxUnavailable(
                    f"the sandbox pool stopped answering ({exc}); its log:\n{self.log_tail()}"
                ) from exc

    def open(self, submission_root: Path, on_flag: Callable[[str], None] = lambda flag: None) -> Sandbox:
        """A sandbox for one submission: its sanitised copy is made now, its process tree on first
        use (or already forked: the spare, when there is one)."""
        self.prepare()
        with self.lock:
            spare = self.spares.popleft() if self.spares else None
            if spare is None:
                self.counter += 1
        if spare is not None:
            return Sandbox(self.task, submission_root, pool=self, sid=spare.sid, on_flag=on_flag, spare=spare)
        return Sandbox(self.task, submission_root, pool=self, sid=f"s{self.counter}", on_flag=on_flag)

    def make_spare(self) -> None:
        """Fork the next submissions' process trees ahead of them (up to ``SPARES``), each with its
        (empty) copy and scratch folders, cgroups and control channel, so that a grading does not
        wait for namespaces, mounts and Landlock: its files are copied in when it comes, and the
        tree's bind mounts show them. For a grader worker between gradings (it forks each
        grading from this process: the grading's copy of the pool takes the oldest spare, see
        :meth:`retire_spare`); with two, the one a grading takes was forked a grading earlier and
        is ready, not still starting. Nothing runs in a tree until a grading asks; it is confined
        exactly as any other."""
        self.ensure_ready()
        while not self.problems and len(self.spares) < SPARES:
            self._make_one_spare()

    def _make_one_spare(self) -> None:
        with self.lock:
            self.counter += 1
            sid = f"w{self.counter}"
        stage, scratch = self.stage / sid, self.scratch / sid
        stage.mkdir()
        scratch.mkdir(mode=0o777)
        os.chmod(scratch, 0o777)
        (scratch / ".output").mkdir()
        spare = Spare(sid, None, self.tree_cgroups(sid))
        try:
            spare.control = self.open_tree(sid, stage, scratch, spare.cgroups)
        except BaseException:
            self._release(spare)
            raise
        self.spares.append(spare)

    def retire_spare(self) -> None:
        """Forget the spare a grading took (or did not take) from its copy of this pool, the
        oldest: end its tree if the grading did not, and remove its folders and cgroups."""
        if self.spares:
            self._release(self.spares.popleft())

    def retire_spares(self) -> None:
        """End every spare tree (the pool is closing)."""
        while self.spares:
            self.retire_spare()

    def _release(self, spare: Spare) -> None:
        if spare.control is not None:
            spare.control.close()
        self.kill_tree(spare.sid)
        if spare.cgroups is not None:
            spare.cgroups.remove()  # kills (and waits for) what is left first
        shutil.rmtree(self.stage / spare.sid, ignore_errors=True)
        shutil.rmtree(self.scratch / spare.sid, ignore_errors=True)

    def tree_cgroups(self, sid: str) -> SandboxCgroups:
        """The cgroups of one submission's tree (its process count and memory ceiling)."""
        return make_cgroups(
            f"{self.root.name}-{sid}",
            {"pids": self.limits.processes, "memory": self.limits.memory_mb * 1024 * 1024},
        )

    def open_tree(self, sid: str, stage: Path, scratch: Path, cgroups: SandboxCgroups | None) -> socket.socket:
        """Fork one submission's tree, which joins ``cgroups``; the supervisor's end of its
        control channel (the tree says ``ready`` on it once confined)."""
        ours, theirs = socket.socketpair()
        fds: list[int] = []
        try:
            for procs in cgroups.procs if cgroups is not None else []:
                fds.append(os.open(procs, os.O_WRONLY | os.O_CLOEXEC))
            self.events.pop(sid, None)
            self._request(
                {"op": "open", "sid": sid, "stage": str(stage), "scratch": str(scratch)},
                [theirs.fileno(), *fds],
                wanted="opened",
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
            for fd in fds:
                os.close(fd)
        return ours

    def kill_tree(self, sid: str) -> None:
        if self.process is None or not self.ready:
            return
        with contextlib.suppress(SandboxUnavailable):
            self._request({"op": "kill", "sid": sid})

    def _kill(self) -> None:
        process, self.process, self.ready = self.process, None, False
        if self.control is not None:
            self.control.close()
            self.control = None
        if process is None:
            return
        if self.cgroups is not None:
            self.cgroups.kill()
        for _ in range(3):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            try:
                process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        self.retire_spares()
        with self.lock:
            self.closed = True
            if self.process is not None and self.ready and self.control is not None:
                try:
                    wire.send(self.control, {"op": "exit"}, self.message_limit, deadline=time.monotonic() + 2)
                    self.process.wait(timeout=2)
                except (OSError, wire.WireError, subprocess.TimeoutExpired):
                    pass
            self._kill()
        if self.cgroups is not None:
            self.cgroups.remove()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Spare:
    """A process tree forked ahead of its submission (see :meth:`SandboxPool.make_spare`)."""

    sid: str
    control: socket.socket | None
    cgroups: SandboxCgroups | None


class Sandbox:
    """One submission's sandbox. ``start()`` early (the pool warms in the background),
    ``connect()`` per test. Without a ``pool`` it makes a private one (one submission graded)."""

    def __init__(
        self,
        task: Task,
        submission_root: Path,
        *,
        pool: SandboxPool | None = None,
        sid: str = "s0",
        namespaces: bool = True,
        landlock: bool = True,
        on_flag: Callable[[str], None] = lambda flag: None,
        spare: Spare | None = None,
    ) -> None:
        self.own_pool = pool is None
        self.pool = pool if pool is not None else SandboxPool(task, namespaces=namespaces, landlock=landlock)
        self.task = task
        self.sid = sid
        self.limits = task.manifest.limits
        self.message_limit = self.limits.message_mb * 1024 * 1024
        self.output_cap = self.limits.output_mb * 1024 * 1024
        self.submission_root = submission_root
        self.on_flag = on_flag
        self.root = self.pool.root
        self.public_dir = self.pool.public_dir
        self.submission_dir = self.pool.stage / sid
        self.scratch = self.pool.scratch / sid
        self.outputs = self.scratch / ".output"
        self.control: socket.socket | None = None
        self.ready = False
        self.confinement: list[str] = []
        self.exits: dict[int, int] = {}
        self.ended: set[int] = set()  # finished tests' processes: their exits are not kept
        self.cleaning = False  # a clean was sent and its answer not yet read (see clean)
        self.warm_sent = False
        self.counter = 0
        self.prepared = False
        self.copy_error: SubmissionProtocolError | None = None
        self.cgroups: SandboxCgroups | None = None
        self.oom_seen = 0
        # A tree already forked: its control channel answers `ready` once it is confined.
        self.spare = spare is not None
        if spare is not None:
            self.control, self.cgroups = spare.control, spare.cgroups

    # -- preparing and starting ------------------------------------------------------------------

    def prepare(self) -> None:
        if self.prepared:
            return
        self.prepared = True
        self.pool.prepare()
        package = self.task.package
        findings = root_findings(self.submission_root, package) if self.submission_root.is_dir() else []
        self.submission_dir.mkdir(exist_ok=self.spare)
        source = self.submission_root / package
        module = self.submission_root / f"{package}.py"
        try:
            if source.is_symlink() or module.is_symlink():
                findings.append(package)
            elif source.is_dir():
                findings += sanitised_copy(source, self.submission_dir / package)
            elif module.is_file():
                shutil.copyfile(module, self.submission_dir / module.name)
        except SubmissionProtocolError as exc:
            self.copy_error = exc
        except OSError as exc:  # unreadable files, odd names: the submission's problem, not ours
            self.copy_error = SubmissionProtocolError(f"the submission cannot be copied: {exc}")
        if findings:
            self.on_flag("tamper")
        self.scratch.mkdir(mode=0o777, exist_ok=self.spare)
        os.chmod(self.scratch, 0o777)
        self.outputs.mkdir(exist_ok=self.spare)

    def start(self) -> None:
        """Make the copy and start the pool's warm-up (the tree is forked on first use). A tree
        forked ahead is told at once that the copy is in place, so that it warms up beside the
        supervisor's own work before the first test."""
        self.prepare()
        self.pool.start()
        if self.control is not None and self.copy_error is None:
            self._warm()

    def _warm(self) -> None:
        """Tell the tree the copy is in place: it compiles it and forks the first test's process
        (it reads this after saying ``ready``; once is enough)."""
        if self.warm_sent or self.control is None:
            return
        self.warm_sent = True
        with contextlib.suppress(wire.WireError, wire.WireTimeout, OSError):
            wire.send(self.control, {"op": "warm"}, self.message_limit, deadline=time.monotonic() + 2)

    def _open(self) -> None:
        if self.cgroups is None:
            self.cgroups = self.pool.tree_cgroups(self.sid)
        self.control = self.pool.open_tree(self.sid, self.submission_dir, self.scratch, self.cgroups)
        self.exits.clear()
        self.warm_sent = False

    def ensure_ready(self) -> None:
        if self.copy_error is not None:
            self.on_flag(self.copy_error.kind)
            raise SubmissionProtocolError(self.copy_error.message)
        self.prepare()
        self.pool.ensure_ready()
        if self.pool.problems:
            from .errors import TaskError

            raise TaskError("; ".join(self.pool.problems))
        if self.cleaning:
            self._settle_clean()
        if self.ready:
            return
        if self.control is None:
            self._open()
        try:
            event = self._next_event(lambda e: e.get("event") == "ready", time.monotonic() + STARTUP_TIMEOUT)
        except (wire.WireError, wire.WireTimeout, wire.WireClosed, OSError) as exc:
            self.kill()
            raise SandboxUnavailable(
                f"the submission's sandbox did not start ({exc}); the pool's log:\n{self.pool.log_tail()}"
            ) from exc
        self.confinement = [str(c) for c in event.get("confinement", [])]
        self.ready = True
        # The copy is in place: the tree warms up (compiles it, imports the stdlib it names) now,
        # beside this process's own work before the first test asks for a process, not in it.
        self._warm()

    # -- the control channel ---------------------------------------------------------------------

    def _next_event(self, wanted: Callable[[dict[str, Any]], bool], deadline: float) -> dict[str, Any]:
        assert self.control is not None
        while True:
            event = wire.recv(self.control, self.message_limit, deadline)
            if type(event) is not dict:
                raise wire.WireError("an event that is not an object")
            if event.get("event") == "exit":
                pid, status = event.get("pid"), event.get("status")
                if type(pid) is not int or type(status) is not int:
                    raise wire.WireError("a malformed exit event")
                if pid in self.ended:
                    self.ended.discard(pid)
                else:
                    self.exits[pid] = status
            if wanted(event):
                if event.get("event") == "spawned" and type(event.get("pid")) is not int:
                    raise wire.WireError("a malformed spawned event")
                return event

    def _control_call(
        self, message: dict[str, Any], wanted: str, deadline: float, fds: list[int] | None = None
    ) -> dict[str, Any]:
        self._control_send(message, deadline, fds)
        return self._await(wanted, deadline)

    def _control_send(self, message: dict[str, Any], deadline: float, fds: list[int] | None = None) -> None:
        """Send a request to the tree; its answer is read by :meth:`_await`."""
        self.ensure_ready()
        control = self.control
        assert control is not None
        self._with_tree(lambda: wire.send(control, message, self.message_limit, fds, deadline))

    def _await(self, wanted: str, deadline: float) -> dict[str, Any]:
        """The tree's next event called ``wanted`` (the answer to a request sent before)."""
        if self.control is None:
            raise SubmissionCrashed("the sandbox's worker is gone")
        return self._with_tree(lambda: self._next_event(lambda e: e.get("event") == wanted, deadline))

    def _with_tree(self, action: Callable[[], _T]) -> _T:
        """``action()``; a tree that does not answer in time, or is gone: the submission's doing
        (see :meth:`_worker_died`)."""
        try:
            return action()
        except wire.WireTimeout:
            self.kill()
            raise SubmissionTimeout("the sandbox did not answer in the time allowed") from None
        except (wire.WireError, wire.WireClosed, OSError) as exc:
            raise self._worker_died(exc) from None

    def _worker_died(self, exc: BaseException) -> SubmissionCrashed:
        # Once the worker has said `ready`, only submission code has run in the sandbox: a worker
        # that dies after that is the submission's doing (it must not be able to turn its own
        # failure into an infrastructure error, which a trainer would retry instead of punish).
        self.kill()
        return SubmissionCrashed(f"the sandbox's worker died ({exc})")

    def spawn(self, request: dict[str, Any], deadline: float, fds: list[int] | None = None) -> int:
        return int(self._control_call({"op": "spawn", **request}, "spawned", deadline, fds)["pid"])

    def spawned(self, deadline: float) -> int:
        """The pid of the process the last spawn request (sent with :meth:`_control_send`) made."""
        return int(self._await("spawned", deadline)["pid"])

    def wait_exit(self, pid: int, deadline: float) -> int | None:
        """The exit status of a spawned child (negative: killed by that signal); None at the
        deadline. Raises :class:`SubmissionCrashed` when the worker itself is gone."""
        while pid not in self.exits:
            if self.control is None:
                raise SubmissionCrashed("the sandbox's worker is gone")
            try:
                self._next_event(lambda e: e.get("event") == "exit" and e.get("pid") == pid, deadline)
            except wire.WireTimeout:
                return None
            except (wire.WireError, wire.WireClosed, OSError) as exc:
                raise self._worker_died(exc) from None
        return self.exits.pop(pid)

    def clean(self, wait: bool = True) -> None:
        """Kill whatever the last test left running in the sandbox. ``wait=False`` (a test's
        end): send the request and go on; the answer is read before the next request, while the
        supervisor moves on to the next test meanwhile. The tree acts on requests in order, so
        the next test's process is forked only once the last one's are killed; a tree that died
        before it answered is replaced then, as after a clean that failed."""
        if self.control is None or not self.ready:
            return
        if self.cleaning:
            self._settle_clean()
            if self.control is None:
                return
        if not wait:
            try:
                wire.send(self.control, {"op": "clean"}, self.message_limit, deadline=time.monotonic() + 10)
                self.cleaning = True
            except (wire.WireError, wire.WireTimeout, OSError):
                self.kill()
            return
        try:
            self._control_call({"op": "clean"}, "cleaned", time.monotonic() + 10)
        except (SubmissionTimeout, SubmissionCrashed, SandboxUnavailable):
            self.kill()

    def _settle_clean(self) -> None:
        """Read the answer to the clean sent at the last test's end (a dead tree: replaced)."""
        self.cleaning = False
        if self.control is None:
            return
        try:
            self._next_event(lambda e: e.get("event") == "cleaned", time.monotonic() + 10)
        except (wire.WireError, wire.WireTimeout, wire.WireClosed, OSError):
            self.kill()

    def out_of_memory(self) -> bool:
        """Whether the memory ceiling killed something since the last time this was asked."""
        count = self.cgroups.oom_kills() if self.cgroups else 0
        seen, self.oom_seen = self.oom_seen, count
        return count > seen

    def output_paths(self) -> tuple[Path, Path]:
        self.counter += 1
        return self.outputs / f"{self.counter}.out", self.outputs / f"{self.counter}.err"

    def write_input(self, path: Path, data: bytes) -> Path:
        """Write a program's standard input where its sandbox reads it (its own output folder):
        a new file, never through whatever a submission may have left at that name."""
        for _ in range(2):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            except FileExistsError:
                self.on_flag("tamper")  # planted ahead of the supervisor: removed, not followed
                path.unlink()
                continue
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            return path
        raise SubmissionProtocolError(f"cannot write the program's input at {path.name}")

    def check_output(self, *paths: Path) -> None:
        if any(p.exists() and p.stat().st_size >= self.output_cap for p in paths):
            self.on_flag("output_truncated")

    def read_output(self, path: Path) -> str:
        """A captured stdout or stderr; "" when the submission replaced it by anything odd."""
        try:
            return read_beneath(path.parent, path.name, self.output_cap).decode("utf-8", errors="replace")
        except OSError:
            return ""

    def scrub(self, workdir: Path) -> None:
        """Remove links and special files the submission left where the supervisor will look."""
        if scrub(workdir) or scrub(self.outputs):
            self.on_flag("tamper")

    # -- per test ----------------------------------------------------------------------------------

    def new_workdir(self) -> Path:
        self.counter += 1
        workdir = self.scratch / f"test-{self.counter}"
        workdir.mkdir(mode=0o777)
        return workdir

    def connect(self, workdir: Path) -> SandboxConnection:
        return SandboxConnection(self, workdir)

    # -- ending ------------------------------------------------------------------------------------

    def kill(self, wait: bool = True) -> None:
        """Kill this submission's process tree; its next test gets a new one. ``wait=False``:
        for a tree whose cgroups take no other (see ``SandboxCgroups.kill``)."""
        control, self.control, self.ready, self.cleaning = self.control, None, False, False
        if control is not None:
            control.close()
            self.pool.kill_tree(self.sid)
        if self.cgroups is not None:
            self.cgroups.kill(wait)

    def close(self) -> None:
        if self.spare and not self.own_pool:
            # A grader worker's spare: the kill is immediate (the cgroups' kill), and the worker
            # removes the folders and cgroups once the grading's answer is on its way
            # (SandboxPool.retire_spare, which also waits for the killed processes to be
            # gone), not while the trainer waits for it.
            self.kill(wait=False)
            return
        if self.control is not None and self.ready:
            try:
                wire.send(self.control, {"op": "exit"}, self.message_limit, deadline=time.monotonic() + 2)
                with contextlib.suppress(wire.WireError, wire.WireTimeout, wire.WireClosed, OSError):
                    while True:  # until the tree closes its end: it has killed everything it ran
                        wire.recv(self.control, self.message_limit, time.monotonic() + 2)
            except (OSError, wire.WireError):
                pass
        self.kill()
        if self.cgroups is not None:
            self.cgroups.remove()
        if self.own_pool:
            self.pool.close()
        else:
            shutil.rmtree(self.submission_dir, ignore_errors=True)
            shutil.rmtree(self.scratch, ignore_errors=True)


class SandboxConnection:
    """One test's fresh process in the sandbox, started on the first request."""

    def __init__(self, sandbox: Sandbox, workdir: Path) -> None:
        self.sandbox = sandbox
        self.workdir = workdir
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.outputs: tuple[Path, Path] | None = None

    def _start(self, deadline: float, first: bytes) -> socket.socket:
        """Spawn the test's process and send it its first request (``first``, a frame) without
        waiting for the tree's answer in between: the request waits in the channel until the
        process reads it."""
        ours, theirs = socket.socketpair()
        out, err = self.outputs = self.sandbox.output_paths()
        try:
            self.sandbox._control_send(
                {"op": "spawn", "kind": "server", "cwd": str(self.workdir), "stdout": str(out), "stderr": str(err)},
                deadline,
                [theirs.fileno()],
            )
        finally:
            theirs.close()
        self.sock = ours
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            wire.send_frame(ours, first, deadline)  # gone already: the answer's absence says why
        self.pid = self.sandbox.spawned(deadline)
        return ours

    def _crashed(self) -> SubmissionCrashed | SubmissionMemoryError:
        self._drop()
        try:
            status = self.sandbox.wait_exit(self.pid, time.monotonic() + 2) if self.pid is not None else None
        except SubmissionCrashed as exc:
            return exc
        if self.sandbox.out_of_memory():
            return SubmissionMemoryError(
                "the kernel killed the submission for exceeding its memory ceiling "
                f"({self.sandbox.limits.memory_mb} MiB)"
            )
        tail = self.sandbox.read_output(self.outputs[1])[-600:].strip() if self.outputs else ""
        return SubmissionCrashed(describe_status(status) + (f"; its stderr ended with:\n{tail}" if tail else ""))

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.outputs:
            self.sandbox.check_output(*self.outputs)

    def request(self, message: dict[str, Any], deadline: float) -> Any:
        limit = self.sandbox.message_limit
        try:
            frame = wire.dumps(message, limit, binary=True)
            if self.sock is None:
                sock = self._start(deadline, frame)
            else:
                sock = self.sock
                wire.send_frame(sock, frame, deadline)
            answer = wire.recv(sock, limit, deadline)
            if "landlock" not in self.sandbox.confinement:
                self.sandbox.scrub(self.workdir)
            return answer
        except wire.WireTimeout:
            self._drop()
            self.sandbox.kill()
            raise SubmissionTimeout(
                f"no answer from the submission in the time allowed (calls: {self.sandbox.limits.call_timeout:g} s)"
            ) from None
        except (wire.WireClosed, BrokenPipeError, ConnectionResetError):
            raise self._crashed() from None
        except wire.WireError as exc:
            self._drop()
            self.sandbox.clean()
            raise SubmissionProtocolError(str(exc)) from None

    def run_module(
        self,
        module: str,
        argv: list[str],
        deadline: float,
        stdin: bytes | None = None,
        env: dict[str, str] | None = None,
    ) -> CliResult:
        out, err = self.sandbox.output_paths()
        request: dict[str, Any] = {
            "kind": "module",
            "module": module,
            "argv": argv,
            "cwd": str(self.workdir),
            "stdout": str(out),
            "stderr": str(err),
            "env": env or {},
        }
        if stdin is not None:
            request["stdin"] = str(self.sandbox.write_input(out.with_suffix(".in"), stdin))
        pid = self.sandbox.spawn(request, deadline)
        status = self.sandbox.wait_exit(pid, deadline)
        if status is None:
            self.sandbox.kill()
            raise SubmissionTimeout(f"`python -m {module}` did not finish in the time allowed")
        self.sandbox.scrub(self.workdir)
        self.sandbox.check_output(out, err)
        return CliResult(status, self.sandbox.read_output(out), self.sandbox.read_output(err))

    def close(self) -> None:
        # The sandbox's clean kills this test's process with whatever else it left running: it
        # need not be asked to exit and waited for first (a round trip per test, and its exit).
        self._drop()
        if self.pid is not None and self.sandbox.exits.pop(self.pid, None) is None:
            self.sandbox.ended.add(self.pid)  # its exit, when the clean reports it, is not kept
        self.sandbox.clean(wait=False)
