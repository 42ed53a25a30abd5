"""Control groups for a sandbox: a process count and a memory ceiling for the whole tree.

rlimits cannot bound the number of processes when the sandbox runs as uid 0 (``RLIMIT_NPROC`` is
not enforced for root, even inside a user namespace), and ``RLIMIT_AS`` bounds each process, not
the tree. Where the supervisor may create cgroups (root, cgroup v1 or a delegated v2 subtree), each
sandbox gets its own group under the supervisor's, with ``pids`` and ``memory`` limits; the worker
moves itself in before it starts anything. Where it may not, grading goes on without, and the
report's confinement list says so.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

# controller -> (v1 limit file, v2 limit file)
LIMIT_FILES = {"pids": ("pids.max", "pids.max"), "memory": ("memory.limit_in_bytes", "memory.max")}


def _mounts(mountinfo: str) -> tuple[dict[str, Path], Path | None]:
    """The v1 mount point of each controller, and the v2 (unified) mount point."""
    v1: dict[str, Path] = {}
    v2 = None
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        point = Path(fields[4])
        if tail[0] == "cgroup2":
            v2 = point
        elif tail[0] == "cgroup":
            for option in tail[2].split(","):
                if option in LIMIT_FILES:
                    v1[option] = point
    return v1, v2


def _memberships(proc_cgroup: str) -> tuple[dict[str, str], str | None]:
    v1: dict[str, str] = {}
    v2 = None
    for line in proc_cgroup.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and controllers == "":
            v2 = path
        for controller in controllers.split(","):
            if controller in LIMIT_FILES:
                v1[controller] = path
    return v1, v2


@dataclass
class SandboxCgroups:
    """The groups made for one sandbox; ``procs`` are the files the worker writes its pid to."""

    folders: list[Path] = field(default_factory=list)
    controllers: list[str] = field(default_factory=list)

    @property
    def procs(self) -> list[str]:
        return [str(folder / "cgroup.procs") for folder in self.folders]

    def oom_kills(self) -> int:
        """How many processes the kernel killed for exceeding the memory ceiling so far."""
        total = 0
        for folder in self.folders:
            for name in ("memory.events", "memory.oom_control"):
                try:
                    text = (folder / name).read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip().isdigit():
                        total += int(value)
        return total

    def kill(self, wait: bool = True) -> None:
        """SIGKILL every process still in the groups (v2 has cgroup.kill; v1 needs a loop) and
        wait until they have left them. ``wait=False``: signal them and return at once, without
        waiting for them to leave (the processes cannot run again; they still count against the
        pids ceiling until the kernel has reaped them, so the groups must not take a new tree
        before a waiting kill). On v1 that is one pass over the groups' processes: one forked
        during the pass is left to the waiting kill that must follow (a grader worker's, once the
        answer is sent; in a PID namespace the tree's end has killed it already)."""
        for folder in self.folders:
            kill_file = folder / "cgroup.kill"
            if kill_file.exists():
                try:
                    kill_file.write_text("1")
                    if not wait:
                        continue
                except OSError:
                    pass
            for _ in range(50 if wait else 1):
                try:
                    pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(OSError):
                        os.kill(pid, 9)

    def remove(self) -> None:
        self.kill()
        for folder in self.folders:
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    import time

                    time.sleep(0.01)


def make_cgroups(
    name: str, limits: dict[str, int], *, mountinfo: str | None = None, proc_cgroup: str | None = None
) -> SandboxCgroups:
    """Create ``name`` under this process's group for each controller in ``limits`` (controller
    -> limit value) that can be managed here; controllers that cannot are left out."""
    made = SandboxCgroups()
    try:
        mountinfo = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
        proc_cgroup = proc_cgroup if proc_cgroup is not None else Path("/proc/self/cgroup").read_text()
    except OSError:
        return made
    v1_mounts, v2_mount = _mounts(mountinfo)
    v1_paths, v2_path = _memberships(proc_cgroup)
    for controller, value in limits.items():
        v1_file, v2_file = LIMIT_FILES[controller]
        if controller in v1_mounts and controller in v1_paths:
            parent, limit_file = v1_mounts[controller] / v1_paths[controller].lstrip("/"), v1_file
        elif v2_mount is not None and v2_path is not None:
            parent, limit_file = v2_mount / v2_path.lstrip("/"), v2_file
            try:
                if controller not in (parent / "cgroup.subtree_control").read_text().split():
                    continue
            except OSError:
                continue
        else:
            continue
        folder = parent / name
        try:
            folder.mkdir(exist_ok=True)
            (folder / limit_file).write_text(str(value))
        except OSError:
            with contextlib.suppress(OSError):
                folder.rmdir()
            continue
        if folder not in made.folders:
            made.folders.append(folder)
        made.controllers.append(controller)
    return made
