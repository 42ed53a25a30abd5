"""The sandbox side: serves one task's submission to the supervisor. Standard library only.

This file and ``wire.py`` are copied into the sandbox's runtime folder and run there as
``python -I -B -c BOOT CONFIG`` (see ``sandbox.py``). Everything up to ``ready`` is trusted code
running before any submission code is imported:

1. rlimits (address space, CPU, file size, open files, no core; processes when not root);
2. new user, PID, network, IPC and UTS namespaces where the kernel allows (``unshare``), then a
   fork: the child is PID 1 of the new PID namespace, so killing it kills every process the
   submission ever started, double-forked daemons included;
3. Landlock where the kernel has it: reads only the interpreter, its libraries, the submission's
   copy and the task's public files; writes only the scratch folder; no TCP; no signals or
   abstract sockets outside the sandbox; then every capability dropped;
4. ``sys.path`` scrubbed to the interpreter's own folders plus the submission and public roots,
   and the task's ``preload`` modules imported (the warm part).

Then the process is a *zygote*: for each test the supervisor asks it to fork a fresh child that
serves calls (:class:`Server`) over a socket the supervisor passes in, or runs ``python -m
MODULE`` semantics for a command line. ``Server`` is also what in-process mode runs, so both modes
give tests exactly the same answers.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import importlib
import importlib.machinery
import importlib.util
import json
import os
import re
import resource
import runpy
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback
from typing import Any

try:  # In the sandbox the runtime folder is a plain package; in the supervisor it is ours.
    from . import wire
except ImportError:  # pragma: no cover - only when loaded outside a package
    import wire  # type: ignore[import-not-found,no-redef]


# ----------------------------------------------------------------------------------------------
# Serving calls


def _exception_info(exc: BaseException) -> dict[str, Any]:
    names = [
        f"{c.__module__}.{c.__qualname__}" if c.__module__ != "builtins" else c.__qualname__ for c in type(exc).__mro__
    ]
    try:
        message = str(exc)
    except BaseException:  # a submission's __str__ may raise anything
        message = "<str() of the exception raised too>"
    try:
        text = "".join(traceback.format_exception(exc))
    except BaseException:
        text = ""
    return {"type_name": names[0], "type_names": names, "message": message[:10_000], "traceback": text[-20_000:]}


class Server:
    """Answers the supervisor's requests against live objects, by handle.

    Requests: ``{"op": "import", "module"}``, ``{"op": "call", "target", "attr", "args",
    "kwargs"}``, ``{"op": "getattr", "target", "attr"}``, ``{"op": "instance", ...}`` (as call,
    but the result is always a handle), ``{"op": "call_each", "target", "attr", "calls"}`` (one
    call per list of arguments, in order; the results as a list, or the first exception).
    Answers: ``{"ok": value}`` or ``{"raised": info}``.
    """

    def __init__(self) -> None:
        self.objects: dict[int, Any] = {}

    def _handle(self, obj: Any) -> dict[str, Any]:
        ident = id(obj)
        self.objects[ident] = obj
        kind = type(obj)
        name = obj.__name__ if isinstance(obj, type(sys)) else f"{kind.__module__}.{kind.__qualname__}"
        return {wire.HANDLE: ident, "$type": name}

    def _convert(self, obj: Any) -> Any:
        kind = type(obj)
        if isinstance(obj, bool):
            return bool(obj)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj)
        if isinstance(obj, str):
            return str.__str__(obj)
        # Subclasses of the built-in containers (named tuples, OrderedDict, defaultdict...) cross
        # as their base type, as they compare in Python.
        for base in (tuple, list, set, frozenset, bytes, dict):
            if isinstance(obj, base):
                return base(obj)  # type: ignore[arg-type]
        if not isinstance(obj, type) and hasattr(kind, "model_fields") and callable(getattr(obj, "model_dump", None)):
            return obj.model_dump(mode="json")
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return self._handle(obj)

    def _lookup(self, ident: int, type_name: str) -> Any:
        try:
            return self.objects[ident]
        except KeyError:
            raise LookupError(f"no object with handle {ident} ({type_name}) in this process") from None

    def answer(self, request: Any) -> dict[str, Any]:
        try:
            if type(request) is not dict:
                raise TypeError("a request must be an object")
            op = request.get("op")
            if op == "import":
                return {"ok": self._handle(importlib.import_module(str(request["module"])))}
            target = self._lookup(request["target"], "target")
            attr = str(request["attr"])
            if op == "getattr":
                value = getattr(target, attr)
            elif op in ("call", "instance"):
                args = wire.decode(request.get("args", []), self._lookup)
                kwargs = wire.decode(request.get("kwargs", {}), self._lookup)
                value = getattr(target, attr)(*args, **kwargs)
                if op == "instance":
                    return {"ok": self._handle(value)}
            elif op == "call_each":
                calls = wire.decode(request.get("calls", []), self._lookup)
                if type(calls) is not list or not all(type(args) is list for args in calls):
                    raise TypeError("call_each takes a list of argument lists")
                function = getattr(target, attr)
                value = [function(*args) for args in calls]
            else:
                raise ValueError(f"unknown op {op!r}")
            return {"ok": wire.encode(value, self._convert)}
        except BaseException as exc:  # everything the submission raises is reported
            return {"raised": _exception_info(exc)}


def serve(sock: socket.socket, limit: int) -> None:
    """Answer requests on ``sock`` until it closes or ``{"op": "exit"}`` arrives."""
    server = Server()
    while True:
        try:
            request = wire.recv(sock, limit, binary=True)  # the supervisor's requests: it may send marshal
        except (wire.WireClosed, OSError):
            return
        if type(request) is dict and request.get("op") == "exit":
            return
        answer = server.answer(request)
        try:
            wire.send(sock, answer, limit)
        except wire.WireError as exc:
            wire.send(sock, {"raised": _exception_info(exc)}, limit)


def exit_code_of(exc: SystemExit) -> int:
    """What ``python -m`` exits with for a ``SystemExit`` (printing a non-int code to stderr)."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(BaseException):  # str() of the code is the submission's to break
        print(code, file=sys.stderr)
    return 1


def run_module(module: str, argv: list[str]) -> int:
    """``python -m module argv...`` in this process; returns the exit status."""
    sys.argv = [module, *argv]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    except SystemExit as exc:
        return exit_code_of(exc)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):  # a submission may have replaced the streams
                stream.flush()


# ----------------------------------------------------------------------------------------------
# Confinement (trusted, before any submission code)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS, PR_SET_CHILD_SUBREAPER = 1, 4, 38, 36
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_MAKE_CHAR, _FS_MAKE_SOCK, _FS_MAKE_FIFO, _FS_MAKE_BLOCK, _FS_MAKE_SYM = 1 << 6, 1 << 9, 1 << 10, 1 << 11, 1 << 12
_FS_REFER, _FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
# Never allowed, even in scratch: a symlink, FIFO, socket or device there would be a trap for the
# supervisor, which reads and writes the test's working folder after the submission ran.
_FS_SPECIAL = _FS_MAKE_CHAR | _FS_MAKE_SOCK | _FS_MAKE_FIFO | _FS_MAKE_BLOCK | _FS_MAKE_SYM
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def set_limits(limits: dict[str, Any]) -> list[str]:
    mb = 1024 * 1024
    wanted = {
        resource.RLIMIT_AS: limits["memory_mb"] * mb,
        resource.RLIMIT_FSIZE: limits["output_mb"] * mb,
        resource.RLIMIT_NOFILE: limits["open_files"],
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_CPU: int(limits["task_timeout"]) + 5,
    }
    done = ["rlimits"]
    if os.getuid() != 0:  # RLIMIT_NPROC is not enforced for uid 0, even inside a user namespace.
        wanted[resource.RLIMIT_NPROC] = limits["processes"]
        done.append("nproc")
    for which, value in wanted.items():
        _soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(which, (value, value))
    return done


def join_cgroups(procs_files: list[str], controllers: list[str]) -> list[str]:
    """Move this process into the sandbox's cgroups (made by the supervisor) before anything runs."""
    try:
        for path in procs_files:
            with open(path, "w") as f:
                f.write(str(os.getpid()))
    except OSError as exc:
        print(f"cgroups not joined: {exc}", file=sys.stderr)
        return []
    return [f"cgroup:{c}" for c in controllers]


def enter_namespaces() -> bool:
    """New user, PID, network, IPC and UTS namespaces; False where the kernel refuses."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if _libc.unshare(flags) != 0:
        return False
    for name, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    return True


_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 0x1000, 0x2000, 0x4000, 0x40000


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(_libc.mount(raw(source), raw(target), raw(kind), ctypes.c_ulong(flags), raw(data)), f"mount {target}")


def _bind(path: str, target: str, writable: bool) -> None:
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        open(target, "a").close()  # noqa: SIM115 - an empty mount point
    _mount(path, target, None, _MS_BIND | _MS_REC)
    flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | (0 if writable else _MS_RDONLY)
    with contextlib.suppress(OSError):  # a mount locked by the host keeps its own flags
        _mount(None, target, None, flags)


def private_root(
    newroot: str,
    read: list[str],
    write: list[str],
    devices: list[str],
    hide: tuple[str, ...] = (),
    reveal: tuple[str, ...] = (),
) -> list[str]:
    """A root file system of the sandbox's own: a new mount namespace whose root is a small tmpfs
    holding, at their usual paths, read-only binds of ``read``, writable binds of ``write``, the
    ``devices`` and a /proc of the sandbox's PID namespace; nothing else of the host is there (no
    unix sockets, no other graders' files, no way to even stat the task's hidden files). Folders in
    ``hide`` (site-packages inside a bound tree) are covered by an empty tmpfs, with only the
    ``reveal`` entries bound back in them: few mounts, so each submission's copy of the namespace
    is cheap.

    Returns what was achieved: ``["mountns", "procfs"]``, ``["mountns", "procfs", "private-root"]``, or
    ``[]`` where the kernel refuses a new mount namespace."""
    if _libc.unshare(CLONE_NEWNS) != 0:
        return []
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    done = ["mountns"]
    try:
        _mount("tmpfs", newroot, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=8m,mode=755")
        bound: list[str] = []
        for path, writable in [(p, False) for p in sorted(read)] + [(p, True) for p in write]:
            if path == "/proc" or not os.path.lexists(path):
                continue  # /proc: a new one of the sandbox's PID namespace, below
            if any(path == b or path.startswith(b.rstrip("/") + "/") for b in bound):
                continue
            target = newroot + path
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.islink(path):  # /lib -> usr/lib and the like: the same link, bound target
                os.symlink(os.readlink(path), target)
                continue
            _bind(path, target, writable)
            bound.append(path)
        for folder in sorted(hide):
            if os.path.isdir(newroot + folder):
                _mount("tmpfs", newroot + folder, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
                for path in sorted(p for p in reveal if p.startswith(folder.rstrip("/") + "/")):
                    if os.path.lexists(path) and not os.path.islink(path):
                        _bind(path, newroot + path, False)
        for device in devices:
            if os.path.exists(device):
                os.makedirs(os.path.dirname(newroot + device), exist_ok=True)
                open(newroot + device, "a").close()  # noqa: SIM115
                _mount(device, newroot + device, None, _MS_BIND)
        os.makedirs(newroot + "/proc", exist_ok=True)
        _mount("proc", newroot + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
        done.append("procfs")
        os.chdir(newroot)
        _mount(newroot, "/", None, _MS_MOVE)
        _check(_libc.chroot(b"."), "chroot")
        os.chdir("/")
        done.append("private-root")
    except OSError as exc:
        print(f"private root not made: {exc}", file=sys.stderr)
        if "procfs" not in done:
            with contextlib.suppress(OSError):
                _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
                done.append("procfs")
    return done


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; 0 (or less) where it has none."""
    return int(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def landlock(read: list[str], write: list[str], devices: list[str], listed: tuple[str, ...] = ()) -> bool:
    """Restrict this process and its descendants; False where the kernel has no Landlock.

    ``listed``: folders that may be listed (not read) beneath, where only some entries are in
    ``read`` (the standard library's folder, site-packages): the import system lists a folder
    before it finds a module in it."""
    abi = landlock_abi()
    if abi < 1:
        return False
    handled = (1 << 13) - 1
    if abi >= 2:
        handled |= _FS_REFER
    if abi >= 3:
        handled |= _FS_TRUNCATE
    if abi >= 5:
        handled |= _FS_IOCTL_DEV
    net = 0b11 if abi >= 4 else 0  # bind and connect TCP, with no rule allowing any port
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets and signals
    attr = struct.pack("=QQQ", handled, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _check(
        _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0)),
        "landlock_create_ruleset",
    )
    reading = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
    rules = [(p, reading) for p in read] + [(p, handled & ~_FS_SPECIAL) for p in write]
    rules += [(p, _FS_READ_DIR) for p in listed]
    rules += [(p, reading | _FS_WRITE_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV) for p in devices]
    try:
        for path, access in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            try:
                if not stat.S_ISDIR(os.fstat(fd).st_mode):
                    access &= _FILE_RIGHTS
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access & handled, fd), 12)
                _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, 1, rule, 0), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return True


def submission_read(config: dict[str, Any], stage: str) -> list[str]:
    """What a submission's processes may read: the system's paths and its own staged copy."""
    return [*config["system_read"], stage]


def test_read_paths(read: list[str], scratch_root: str) -> list[str]:
    """What a test's own Landlock layer lets it read: ``read`` (the submission's), coarsened to
    top-level folders where that keeps ``scratch_root`` out, since the layer only narrows the
    submission's precise one. A short list, so a layer costs a test a fraction of a millisecond."""
    coarse = set()
    for path in read:
        top = "/" + path.strip("/").split("/")[0]
        coarse.add(path if _within(scratch_root, [top]) else top)
    return sorted(coarse)


def drop_capabilities() -> None:
    header = struct.pack("=Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = bytes(24)  # effective, permitted, inheritable = 0, twice
    _check(_libc.capset(ctypes.create_string_buffer(header, 8), ctypes.create_string_buffer(data, 24)), "capset")


def _within(path: str, folders: list[str]) -> bool:
    """Whether ``path`` is one of ``folders`` or beneath one."""
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in folders)


def scrub_sys_path(python_dirs: list[str], roots: list[str]) -> None:
    sys.path[:] = [p for p in sys.path if p and _within(os.path.abspath(p), python_dirs)] + roots
    importlib.invalidate_caches()


# ----------------------------------------------------------------------------------------------
# The zygote


def _redirect(cwd: str, stdout: str, stderr: str, stdin: str | None = None) -> None:
    os.chdir(cwd)
    source = os.open(stdin or os.devnull, os.O_RDONLY | (os.O_NOFOLLOW if stdin else 0))
    os.dup2(source, 0)
    os.close(source)
    for target, path in ((1, stdout), (2, stderr)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, target)
        os.close(fd)


class Zygote:
    def __init__(self, control: socket.socket, config: dict[str, Any], stage: str) -> None:
        self.control = control
        self.config = config
        self.stage = stage
        # What a test's own Landlock layer may read (see test_read_paths); None: no Landlock.
        self.test_read: list[str] | None = None
        self.warmed = False
        self.limit = int(config["message_limit"])
        self.children: set[int] = set()
        # A test's process forked ahead, between tests: (pid, the zygote's end of its channel).
        # It has run nothing but this trusted code and waits for its spawn request, so the next
        # test does not wait for the fork (see make_spare).
        self.spare: tuple[int, socket.socket] | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def _fork(self) -> int:
        try:
            pid = os.fork()
        except BlockingIOError:  # the pids ceiling may still count what the last clean killed
            self.reap(until=time.monotonic() + 5)
            pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            os.close(self.wake_r)
            os.close(self.wake_w)
            self.control.close()
            return 0
        self.children.add(pid)
        return pid

    def make_spare(self) -> None:
        """Fork the next test's process ahead (after the warm-up, and after each clean), while
        the supervisor is busy between tests. It waits on a channel of its own for its spawn
        request and the request's descriptors, then does exactly what a process forked for that
        request does. No spare where forking fails: the next spawn forks as before."""
        if self.spare is not None:
            return
        ours, theirs = socket.socketpair()
        try:
            pid = self._fork()
        except OSError:
            ours.close()
            theirs.close()
            return
        if pid == 0:
            ours.close()
            fds: list[int] = []
            try:
                request = wire.recv(theirs, self.limit, fds=fds)
            except BaseException:  # noqa: BLE001 - the zygote closed the channel: never used
                os._exit(0)
            theirs.close()
            self._child(request, socket.socket(fileno=fds[0]) if fds else None)
        theirs.close()
        self.spare = (pid, ours)

    def _drop_spare(self) -> None:
        """The spare is about to be killed: its end is not a test's, so no exit is reported."""
        if self.spare is not None:
            pid, channel = self.spare
            self.spare = None
            channel.close()
            self._kill_child(pid)

    def _kill_child(self, pid: int) -> None:
        """Kill a child not yet reaped (a reaped one's pid may be another process's now), and
        report no exit for it."""
        if pid in self.children:
            self.children.discard(pid)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def warm(self) -> None:
        """Before the first test's process: compile the submission's modules and import the
        standard-library modules they use (the copy is in place by the first spawn, not yet when
        a spare tree starts; the pool did the same for the task's public modules). Only trusted
        code runs. Once: later calls do nothing."""
        if self.warmed:
            return
        self.warmed = True
        try:
            own = {name.removesuffix(".py") for name in os.listdir(self.stage)}
            warm_ahead([self.stage], self.config["stdlib_dirs"], own)
            list_import_folders(self.stage)
        except Exception as exc:  # noqa: BLE001 - a cold start is slower, not wrong
            print(f"warming the submission failed: {exc!r}", file=sys.stderr)
        gc.freeze()  # see main: what warming made is not the collector's concern in a test

    def spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        self.warm()
        pid = self._hand_to_spare(request, fds)
        if pid is None:
            sock = socket.socket(fileno=fds[0]) if fds else None
            pid = self._fork()
            if pid == 0:
                self._child(request, sock)
            if sock is not None:
                sock.close()
        else:
            for fd in fds:
                os.close(fd)
        wire.send(self.control, {"event": "spawned", "pid": pid, "ref": request.get("ref")}, self.limit)

    def _hand_to_spare(self, request: dict[str, Any], fds: list[int]) -> int | None:
        """Give ``request`` (and its descriptors) to the spare; its pid, or None without one."""
        if self.spare is None:
            return None
        pid, channel = self.spare
        self.spare = None
        try:
            wire.send(channel, request, self.limit, fds, deadline=time.monotonic() + 2)
        except (OSError, wire.WireError, wire.WireTimeout):  # it is gone: fork one as before
            self._kill_child(pid)
            return None
        finally:
            channel.close()
        return pid

    def _child(self, request: dict[str, Any], sock: socket.socket | None) -> None:
        """In a test's fresh process: redirect, then serve or run the module; never returns."""
        code = 0
        try:
            _redirect(request["cwd"], request["stdout"], request["stderr"], request.get("stdin"))
            if self.test_read is not None:
                # A layer of the test's own: it writes, and of the submission's scratch sees, only
                # its working folder, not the folders of the tests before it (what they wrote, and
                # what the supervisor put there for them). Its output files are open already.
                try:
                    landlock(self.test_read, [request["cwd"]], self.config["devices"])
                except OSError as exc:  # the tree's own layer still holds: say so, and go on
                    print(f"the test's own landlock layer was not applied: {exc}", file=sys.stderr)
            # Each test's temporary files go to its own working folder (the scratch root
            # above it is not writable to the submission).
            os.environ["TMPDIR"] = request["cwd"]
            os.environ.update({str(k): str(v) for k, v in dict(request.get("env") or {}).items()})
            if "tempfile" in sys.modules:  # a preload may have asked it already
                sys.modules["tempfile"].tempdir = None  # type: ignore[attr-defined]
            if request["kind"] == "server":
                assert sock is not None
                serve(sock, self.limit)
            else:
                code = run_module(request["module"], list(request["argv"]))
        except BaseException:
            code = 70
        os._exit(code)

    def reap(self, until: float | None = None) -> None:
        """Report the children that have ended; with ``until`` (a ``time.monotonic()`` value),
        wait until then for every child to end."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                if until is None or time.monotonic() > until:
                    return
                time.sleep(0.001)
                continue
            if pid in self.children:
                self.children.discard(pid)
                code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
                wire.send(self.control, {"event": "exit", "pid": pid, "status": code}, self.limit)

    def clean(self) -> None:
        """Kill every process of the sandbox but this one (in a PID namespace: all of them)."""
        self._drop_spare()
        if os.getpid() == 1:
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
        else:
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        self.reap()

    def run(self, confinement: list[str]) -> None:
        if "landlock" in confinement:
            self.test_read = test_read_paths(submission_read(self.config, self.stage), self.config["scratch_root"])
        wire.send(self.control, {"event": "ready", "confinement": confinement}, self.limit)
        while True:
            ready, _, _ = select.select([self.control.fileno(), self.wake_r], [], [])
            if self.wake_r in ready:
                try:
                    while os.read(self.wake_r, 512):
                        pass
                except BlockingIOError:
                    pass
                self.reap()
            if self.control.fileno() in ready:
                fds: list[int] = []
                try:
                    request = wire.recv(self.control, self.limit, fds=fds)
                except (wire.WireClosed, OSError):
                    self.clean()
                    os._exit(0)
                op = request.get("op")
                if op == "spawn":
                    self.spawn(request, fds)
                elif op == "clean":
                    self.clean()
                    wire.send(self.control, {"event": "cleaned"}, self.limit)
                    self.make_spare()  # after the answer: the supervisor moves on meanwhile
                elif op == "warm":  # the copy is in place: warm up before the first spawn asks
                    self.warm()
                    self.make_spare()
                else:
                    self.clean()
                    os._exit(0)


# ----------------------------------------------------------------------------------------------
# A submission's warm start: what each test's fresh process would otherwise do again

# Source path -> (size, mtime_ns, code): the submission's modules, compiled once in its zygote
# (compiling runs none of the code) instead of in every test's process. A file that changed, or
# one not compiled ahead, is compiled by the import as usual.
_COMPILED: dict[str, tuple[int, int, Any]] = {}
WARM_SECONDS = 1.0  # at most this much of a submission's first spawn goes to warming it
# Standard-library modules that act when imported (print, open a browser): never imported ahead.
NOT_AHEAD = frozenset({"this", "antigravity", "__hello__", "__phello__", "idlelib", "turtledemo", "test"})
MAX_SOURCE_BYTES = 1 << 20


class CompiledAheadLoader(importlib.machinery.SourceFileLoader):
    """The standard source loader, taking the code compiled ahead for an unchanged file."""

    def get_code(self, fullname: str) -> Any:
        entry = _COMPILED.get(self.path)
        if entry is not None:
            try:
                found = os.stat(self.path)
            except OSError:
                found = None
            if found is not None and (found.st_size, found.st_mtime_ns) == entry[:2]:
                return entry[2]
        return super().get_code(fullname)


def use_compiled_ahead() -> None:
    """Make the file finders load sources through :class:`CompiledAheadLoader` (the same
    finders and loaders as Python's own, but that one)."""
    machinery = importlib.machinery
    hook = machinery.FileFinder.path_hook(
        (CompiledAheadLoader, machinery.SOURCE_SUFFIXES),
        (machinery.ExtensionFileLoader, machinery.EXTENSION_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES),
    )
    sys.path_hooks[:] = [h for h in sys.path_hooks if "FileFinder" not in getattr(h, "__qualname__", "")] + [hook]
    sys.path_importer_cache.clear()


def compile_ahead(root: str, deadline: float) -> list[bytes]:
    """Compile every regular ``.py`` file under ``root`` into the cache, exactly as its import
    would (``SourceFileLoader.source_to_code``); the sources of those that compiled. A file that
    does not compile is left to its import, which raises the same error in the test that imports
    it."""
    sources = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py") or time.monotonic() > deadline:
                continue
            path = os.path.join(folder, name)
            try:
                info = os.lstat(path)
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
                    continue
                with open(path, "rb") as f:
                    source = f.read()
                code = compile(source, path, "exec", dont_inherit=True)
            except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            _COMPILED[path] = (info.st_size, info.st_mtime_ns, code)
            sources.append(source)
    return sources


_IMPORT = re.compile(rb"^[ \t]*(?:import[ \t]+([\w., \t]+)|from[ \t]+(\w[\w.]*)[ \t]+import\b)", re.MULTILINE)


def imported_names(sources: list[bytes]) -> list[str]:
    """The absolute module names that ``import`` and ``from ... import`` lines of the sources name,
    at any indentation (functions included). A hint, not a parse: a name it misses is imported
    by the test that needs it, and one it finds in a string is at most a standard-library module
    imported for nothing."""
    names = set()
    for source in sources:
        for listed, module in _IMPORT.findall(source):
            if module:
                names.add(module.decode("ascii", "replace"))
            for part in listed.split(b","):
                words = part.split()
                if words:
                    names.add(words[0].decode("ascii", "replace"))
    return sorted(name for name in names if name.replace(".", "").replace("_", "").isalnum())


class _Refuse:
    """A meta path finder that fails the import of the given top-level names."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ImportError(f"{name} is not imported ahead")
        return None


def import_stdlib_ahead(names: list[str], stdlib_dirs: list[str], refused: set[str], deadline: float) -> list[str]:
    """Import the standard-library modules among ``names`` that are not imported yet: trusted
    code, which every test of the submission would import again. Nothing else: the submission's
    own modules run only in a test's process, and other libraries (which may read the
    environment at import) only when the task declares them as preloads: an import on the way of
    a top-level name in ``refused`` (the submission's) fails. Returns those imported."""
    done = []
    refuse = _Refuse(refused)
    sys.meta_path.insert(0, refuse)
    try:
        for name in names:
            if name in sys.modules or name.partition(".")[0] in NOT_AHEAD or time.monotonic() > deadline:
                continue
            try:
                spec = importlib.util.find_spec(name.partition(".")[0])
            except (ImportError, ValueError):
                continue
            origin = getattr(spec, "origin", None)
            if spec is None or not origin:
                continue
            if origin not in ("built-in", "frozen") and (
                not _within(origin, stdlib_dirs) or "/site-packages/" in origin or "/dist-packages/" in origin
            ):
                continue
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001,S112 - the test's own import reports it
                continue
            done.append(name)
    finally:
        sys.meta_path.remove(refuse)
    return done


def warm_ahead(roots: list[str], stdlib_dirs: list[str], refused: set[str]) -> None:
    """Compile the modules under ``roots`` and import the standard-library modules they name,
    within ``WARM_SECONDS`` (see :func:`compile_ahead`, :func:`import_stdlib_ahead`)."""
    deadline = time.monotonic() + WARM_SECONDS
    sources = [source for root in roots for source in compile_ahead(root, deadline)]
    import_stdlib_ahead(imported_names(sources), stdlib_dirs, refused, deadline)


def list_import_folders(stage: str) -> None:
    """Have the import system list, once, every folder an import of the submission searches
    (``sys.path``, and the submission's package folders): each test's process then finds a
    module with the listing it inherits (a finder lists a folder again only if its mtime moved)
    instead of reading every folder on the path again. A lookup of a name that cannot exist;
    no module is imported."""
    missing = "rlgrade-no-such-module"  # a hyphen: no file can be imported under this name
    importlib.machinery.PathFinder.find_spec(missing)
    for folder, subfolders, _files in os.walk(stage):
        subfolders[:] = [d for d in subfolders if d.isidentifier()]
        if folder != stage:
            importlib.machinery.PathFinder.find_spec(missing, [folder])


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    text = f.read()
                parents[int(entry)] = int(text[text.rindex(")") + 2 :].split()[1])
            except (OSError, ValueError):
                continue
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return sorted(found)


def _wait_for(pid: int) -> int:
    while True:
        try:
            _pid, status = os.waitpid(pid, 0)
            return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
        except InterruptedError:
            continue


def hide_siblings(root: str, own: str, writable: bool) -> None:
    """In this process's mount namespace, leave only ``own`` (a folder right under ``root``)
    visible in ``root``: a fresh tmpfs covers ``root`` and ``own`` is bound back at its place, so a
    submission cannot even list the other submissions' copies or scratch folders."""
    fd = os.open(own, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _mount("tmpfs", root, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=64k,mode=755")
        os.mkdir(own, 0o755)
        _mount(f"/proc/self/fd/{fd}", own, None, _MS_BIND | _MS_REC)
        flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | (0 if writable else _MS_RDONLY)
        with contextlib.suppress(OSError):
            _mount(None, own, None, flags)
    finally:
        os.close(fd)


def close_ipc() -> list[str]:
    """Allow no System V IPC object and no POSIX message queue in this IPC namespace (the
    submission's own): such an object outlives the process that made it, so one test could leave
    state there for the next. The limits are the namespace's own; what could not be set, for the
    log."""
    problems = []
    for path in (
        "/proc/sys/kernel/shmmni",
        "/proc/sys/kernel/msgmni",
        "/proc/sys/kernel/sem",
        "/proc/sys/fs/mqueue/queues_max",
    ):
        try:
            with open(path) as f:
                fields = f.read().split()
            # One number each, but ``sem``: SEMMSL SEMMNS SEMOPM SEMMNI, the last the count of sets.
            with open(path, "w") as f:
                f.write(" ".join([*fields[:-1], "0"]))
        except OSError as exc:
            problems.append(f"{path} not set: {exc}")
    return problems


def enter_submission(
    config: dict[str, Any], request: dict[str, Any], cgroup_fds: list[int], isolated: bool
) -> list[str]:
    """Confine this process to one submission, before any of its code runs (trusted).

    Called in a fresh child of the pool, in new PID, mount, IPC, network and UTS namespaces where
    ``isolated``: joins the submission's own cgroups, starts its CPU clock, hides every other
    submission's copy and scratch, mounts a /proc of its own PID namespace, adds a Landlock layer
    (the only one: the pool has none, since Landlock forbids mounting) that reads only its own
    copy and writes only its own scratch, and keeps its signals and abstract sockets from reaching
    the pool or a sibling; drops every capability. Returns what is in
    force for this submission."""
    pool = config["pool_confinement"]
    confinement = [c for c in pool if not c.startswith("cgroup:")]
    joined = []
    for fd, controller in zip(cgroup_fds, config["cgroup_controllers"], strict=False):
        try:
            os.write(fd, b"0")  # 0: the writing process
            joined.append(f"cgroup:{controller}")
        except OSError as exc:
            print(f"cgroup {controller} not joined: {exc}", file=sys.stderr)
        finally:
            os.close(fd)
    confinement += joined
    cpu = int(config["limits"]["task_timeout"]) + 5
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu if hard == resource.RLIM_INFINITY else min(cpu, hard)))
    stage, scratch = request["stage"], request["scratch"]
    if isolated and "private-root" in pool:
        hide_siblings(config["stage_root"], stage, writable=False)
        hide_siblings(config["scratch_root"], scratch, writable=True)
        _mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    elif not isolated:
        confinement = [c for c in confinement if c not in ("pidns", "procfs", "private-root")]
    if isolated:  # an IPC namespace of its own (see Pool.open)
        for problem in close_ipc():
            print(problem, file=sys.stderr)
    if "landlock" in pool:
        try:
            if not landlock(submission_read(config, stage), [scratch], config["devices"], tuple(config["python_dirs"])):
                confinement.remove("landlock")
        except OSError as exc:
            print(f"landlock not applied: {exc}", file=sys.stderr)
            confinement.remove("landlock")
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if "userns" in pool:
        try:
            drop_capabilities()
        except OSError as exc:
            print(f"capabilities not dropped: {exc}", file=sys.stderr)
    os.environ["TMPDIR"] = scratch
    sys.path[:] = [p for p in sys.path if p not in config["roots"]] + [stage, *config["roots"]]
    importlib.invalidate_caches()
    return confinement


class Pool:
    """The warm process submissions fork from: it has imported the task's preloads and never runs
    submission code. ``open`` forks a fresh process tree for one submission (see
    :func:`enter_submission`), which then serves as that submission's :class:`Zygote` on a control
    socket of its own; ``kill`` ends one submission's tree; ``exit`` ends them all."""

    def __init__(self, control: socket.socket, config: dict[str, Any]) -> None:
        self.control = control
        self.config = config
        self.limit = int(config["message_limit"])
        self.submissions: dict[int, str] = {}  # pid of each submission's tree -> its id
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def open(self, request: dict[str, Any], fds: list[int]) -> None:
        sid = str(request["sid"])
        pool_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_DFL)
                os.close(self.wake_r)
                os.close(self.wake_w)
                self.control.close()
                _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                if os.getppid() != pool_pid:
                    os._exit(1)
                control = socket.socket(fileno=fds[0])
                flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS
                isolated = "userns" in self.config["pool_confinement"] and _libc.unshare(flags) == 0
                if isolated:
                    tree = os.fork()
                    if tree != 0:  # stays as the tree's parent: killing it kills the tree
                        control.close()
                        for fd in fds[1:]:
                            os.close(fd)
                        os._exit(_wait_for(tree))
                    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                else:
                    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
                confinement = enter_submission(self.config, request, fds[1:], isolated)
                Zygote(control, self.config, request["stage"]).run(confinement)
                code = 0
            except BaseException as exc:  # trusted code failed: say so in the log, not silently
                with contextlib.suppress(BaseException):
                    print(f"opening submission {sid} failed: {exc!r}", file=sys.stderr)
            os._exit(code)
        for fd in fds:
            os.close(fd)
        self.submissions[pid] = sid
        wire.send(self.control, {"event": "opened", "sid": sid}, self.limit)

    def kill(self, sid: str) -> None:
        for pid, other in list(self.submissions.items()):
            if other == sid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def reap(self) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            sid = self.submissions.pop(pid, None)
            if sid is not None:
                wire.send(self.control, {"event": "gone", "sid": sid}, self.limit)

    def run(self, confinement: list[str], problems: list[str]) -> None:
        wire.send(self.control, {"event": "ready", "confinement": confinement, "problems": problems}, self.limit)
        while True:
            ready, _, _ = select.select([self.control.fileno(), self.wake_r], [], [])
            if self.wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_r, 512):
                        pass
                self.reap()
            if self.control.fileno() in ready:
                fds: list[int] = []
                try:
                    request = wire.recv(self.control, self.limit, fds=fds)
                except (wire.WireClosed, OSError):
                    request = {"op": "exit"}
                op = request.get("op") if type(request) is dict else None
                if op == "open":
                    self.open(request, fds)
                elif op == "kill":
                    self.kill(str(request.get("sid")))
                else:
                    for pid in list(self.submissions):
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
                    os._exit(0)


def main(config_path: str) -> None:
    """Start the pool: confine this process as far as every submission of the task will be, import
    the preloads, then serve ``open`` requests (see :class:`Pool`)."""
    with open(config_path) as f:
        config = json.load(f)
    control = socket.socket(fileno=int(config["control_fd"]))
    confinement = set_limits(config["limits"])
    confinement += join_cgroups(config["cgroup_procs"], config["pool_cgroup_controllers"])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the file-size cap: EFBIG, not death
    if config["namespaces"] and enter_namespaces():
        confinement += ["userns", "pidns", "netns"]
        pool_pid = os.fork()
        if pool_pid != 0:
            control.close()
            os._exit(_wait_for(pool_pid))
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if config["private_root"]:
            confinement += private_root(
                config["private_root"],
                config["mount_paths"],
                config["write_paths"],
                config["devices"],
                tuple(config["hide_paths"]),
                tuple(config["read_paths"]),
            )
    else:
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # Landlock forbids mounting once applied, and each submission's process builds mounts of its
    # own: so each submission applies it for itself (see enter_submission); the pool only checks
    # that the kernel has it. The pool runs no submission code.
    if config["landlock"] and landlock_abi() >= 1:
        confinement.append("landlock")
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no ptrace of the pool by the submissions it forks
    # Capabilities stay (in the pool's own user namespace only) until each submission's process
    # has built its mounts: it drops them before any submission code runs.
    scrub_sys_path(config["python_dirs"], config["roots"])
    problems = []
    for name in config["preload"]:
        try:
            importlib.import_module(name)
        except Exception as exc:  # the task's mistake: the supervisor makes it a task error
            problems.append(f"preload {name!r} does not import in the sandbox: {type(exc).__name__}: {exc}")
    # The task's public modules, compiled and their standard-library imports made once for every
    # submission's tree (each tree does the same for its submission at its first test).
    use_compiled_ahead()
    try:
        warm_ahead(config["roots"], config["stdlib_dirs"], set())
    except Exception as exc:  # noqa: BLE001 - a cold start is slower, not wrong
        print(f"warming the public modules failed: {exc!r}", file=sys.stderr)
    # Every test's process is a fork of a fork of this one. Frozen, the objects the preloads made
    # are never walked by a child's collector, which would spend time on them and touch (so copy)
    # their pages: a metric_card grading takes 17% fewer page faults. Trusted objects only: the
    # pool runs no submission code, and what a test makes is collected as before.
    gc.freeze()
    config["pool_confinement"] = confinement
    Pool(control, config).run(confinement, problems)


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1])
