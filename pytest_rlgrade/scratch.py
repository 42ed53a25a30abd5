"""Where a grading's transient files live: one place for every folder the harness makes.

A grading makes and removes many small files: the submission's sanitised copy, each test's
working folder and captured output, the report a grader worker hands back. On a disk file system
each of those costs a tenth of a millisecond or more (more on one mounted with ``discard``, where
every removal is also sent to the device), and a grading of one small instance makes dozens of
them. In memory (``tmpfs``) they cost a few microseconds, so the harness puts its folders there
when the machine has a roomy one:

* ``RLGRADE_TMPDIR``, when set, is used as given (it must be a writable folder);
* otherwise ``/dev/shm`` when it is a writable tmpfs with at least :data:`MIN_FREE` bytes free
  (a container's default 64 MiB one is not: a task's files would not fit);
* otherwise the system's temporary folder (``TMPDIR``, then ``/tmp``), as :mod:`tempfile` picks.

Nothing here is visible to submissions: the sandbox sees only its own copy and scratch, wherever
they are. What a sandboxed process writes to a tmpfs is charged to its memory cgroup, so its files
count against the task's ``memory_mb`` there (they are capped by ``output_mb`` each either way).
"""

from __future__ import annotations

import os
import tempfile
from functools import cache
from pathlib import Path

from .errors import RlgradeError

ENV = "RLGRADE_TMPDIR"
SHM = "/dev/shm"
MIN_FREE = 1 << 30  # 1 GiB


class ScratchError(RlgradeError):
    """``RLGRADE_TMPDIR`` names no folder the harness can use."""


def _is_tmpfs(path: str) -> bool:
    """Whether ``path`` is a mount point of a tmpfs (the last mount there wins, as in the kernel)."""
    kind = None
    try:
        with open("/proc/self/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) > 2 and fields[1] == path:
                    kind = fields[2]
    except OSError:
        return False
    return kind == "tmpfs"


@cache
def _shm_base() -> str | None:
    if not os.path.isdir(SHM) or not os.access(SHM, os.W_OK | os.X_OK) or not _is_tmpfs(SHM):
        return None
    try:
        stats = os.statvfs(SHM)
    except OSError:
        return None
    return SHM if stats.f_bavail * stats.f_frsize >= MIN_FREE else None


def base() -> str | None:
    """The folder the harness's scratch folders go in (None: the system's temporary folder)."""
    chosen = os.environ.get(ENV)
    if chosen:
        if not os.path.isdir(chosen) or not os.access(chosen, os.W_OK | os.X_OK):
            raise ScratchError(f"{ENV}={chosen}: not a folder this process can write to")
        return chosen
    return _shm_base()


def make(prefix: str) -> Path:
    """A new private folder (mode 0700) for the harness's transient files."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base()))
