"""Reading what the submission left in its working folder, without falling into its traps.

The supervisor reads and writes the test's working folder after submission code ran there, as a
user the sandbox is not. A symlink there could point it at the task's hidden files or at its own
``/proc/self/environ``; a FIFO could block it for ever. The sandbox cannot create such files where
Landlock is in force; these functions hold where it is not.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path, PurePath

SPECIAL = (stat.S_ISLNK, stat.S_ISFIFO, stat.S_ISSOCK, stat.S_ISCHR, stat.S_ISBLK)


class UnsafeFile(OSError):
    """A path that leaves the folder, goes through a link, or is not a regular file."""


def read_beneath(root: Path, relative: str | PurePath, limit: int) -> bytes:
    """The bytes of ``root/relative`` if it is a regular file reached without following any link
    and without leaving ``root``; at most ``limit`` bytes, else :class:`UnsafeFile`."""
    parts = PurePath(relative).parts
    if not parts or PurePath(relative).is_absolute() or ".." in parts:
        raise UnsafeFile(f"{relative}: must be a path inside {root}")
    nofollow = os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | nofollow)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=fd)
            except OSError as exc:
                raise UnsafeFile(f"{relative}: {part} is not a plain folder ({exc.strerror})") from None
            os.close(fd)
            fd = inner
        try:
            file_fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | nofollow, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the last part is a link
                raise UnsafeFile(f"{relative}: is a link") from None
            raise
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UnsafeFile(f"{relative}: not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnsafeFile(f"{relative}: larger than {limit} bytes")
    return data


def scrub(root: Path) -> list[str]:
    """Remove every link, FIFO, socket and device under ``root``; return their relative paths."""
    found = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        for name in [*dirs, *names]:
            path = os.path.join(folder, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if any(test(mode) for test in SPECIAL):
                found.append(os.path.relpath(path, root))
                with contextlib.suppress(OSError):
                    os.unlink(path)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return sorted(found)
