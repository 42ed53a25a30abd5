"""What of the grading environment's Python the sandbox may read: the interpreter, the standard
library, and the distributions a task declares (with what they depend on), nothing else.

The grading environment's site-packages holds more than submissions may see: the grader itself,
pytest, and possibly a benchmark package with the very answers (issue #8: a HumanEval "solution"
imported the canonical one from the installed benchmark). A task lists its third-party needs in
``task.yaml`` as ``dependencies`` (pip names); :func:`python_view` turns them into the files to
expose.
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import os
import re
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

# Never exposed to a submission, even when a task declares them or a dependency pulls them in:
# the harness itself (its plugin would let a submission read how it is graded).
NEVER = frozenset({"pytest-rlgrade"})
_SITE_NAMES = frozenset({"site-packages", "dist-packages"})


class UnknownDistribution(LookupError):
    """A declared dependency is not installed where the grader runs."""


@dataclass(frozen=True)
class PythonView:
    """``read``: the paths the sandbox may read; ``python_dirs``: the folders whose ``sys.path``
    entries stay; ``site_dirs``: the site-packages folders (where only declared entries show)."""

    read: tuple[str, ...]
    python_dirs: tuple[str, ...]
    site_dirs: tuple[str, ...]
    distributions: tuple[str, ...]
    mounts: tuple[str, ...] = ()  # the same reach in few, whole folders (site dirs inside hidden)
    stdlib_dirs: tuple[str, ...] = ()  # the standard library's folders (site dirs inside them aside)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def site_dirs() -> list[str]:
    found = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    found += [p for p in sys.path if Path(p).name in _SITE_NAMES]
    return sorted({str(Path(p)) for p in found if Path(p).is_dir()})


@functools.cache
def _installed() -> dict[str, metadata.Distribution]:
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist)
    return found


def _requirements(dist: metadata.Distribution) -> list[str]:
    """The names of what ``dist`` needs in this environment (markers evaluated, no extras)."""
    from packaging.requirements import InvalidRequirement, Requirement

    names = []
    for text in dist.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        names.append(canonical(requirement.name))
    return names


def closure(declared: list[str]) -> list[str]:
    """The declared distributions and everything they need, by canonical name; raises
    :class:`UnknownDistribution` for a declared one that is not installed."""
    installed = _installed()
    missing = [name for name in declared if canonical(name) not in installed]
    if missing:
        raise UnknownDistribution(", ".join(missing))
    seen: set[str] = set()
    todo = [canonical(name) for name in declared]
    while todo:
        name = todo.pop()
        if name in seen or name in NEVER or name not in installed:
            continue  # a dependency that is not installed: pip would have said so
        seen.add(name)
        todo.extend(_requirements(installed[name]))
    return sorted(seen)


def _entries(dist: metadata.Distribution, sites: list[str]) -> set[str]:
    """The top-level entries of site-packages that belong to ``dist`` (its packages, modules,
    extension files and metadata folder)."""
    entries = set()
    for file in dist.files or []:
        path = Path(os.path.normpath(str(dist.locate_file(file))))
        for site in sites:
            if path.is_relative_to(site) and path != Path(site):
                top = Path(site) / path.relative_to(site).parts[0]
                # A .pth would run code or widen sys.path; the shared __pycache__ holds other
                # top-level modules' bytecode.
                if not top.name.endswith(".pth") and top.name != "__pycache__":
                    entries.add(str(top))
    return entries


def stdlib_dirs() -> list[str]:
    return [sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib")]


@functools.cache
def _stdlib_entries() -> tuple[str, ...]:
    entries: set[str] = set()
    for name in stdlib_dirs():
        folder = Path(name)
        if folder.is_dir():
            entries.update(str(p) for p in folder.iterdir() if p.name not in _SITE_NAMES)
    return tuple(sorted(entries))


def _interpreter_files() -> list[str]:
    files = {sys.executable, str(Path(sys.executable).resolve())}
    for prefix in {sys.prefix, sys.base_prefix}:
        cfg = Path(prefix) / "pyvenv.cfg"
        if cfg.exists():
            files.add(str(cfg))
    libdir, library = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("LDLIBRARY")
    if libdir and library:
        for candidate in Path(libdir).glob(f"{library}*"):
            files.add(str(candidate))
            files.add(str(candidate.resolve()))
    return sorted(p for p in files if os.path.lexists(p))


def python_view(declared: list[str]) -> PythonView:
    """What the sandbox of a task declaring ``declared`` may read of this environment's Python."""
    sites = site_dirs()
    names = closure(declared)
    installed = _installed()
    entries: set[str] = set()
    for name in names:
        entries |= _entries(installed[name], sites)
    stdlib = stdlib_dirs()
    python_dirs = sorted({*stdlib, *sites})
    read = sorted({*_stdlib_entries(), *_interpreter_files(), *entries})
    mounts = sorted({*(d for d in stdlib if Path(d).is_dir()), *_interpreter_files(), *entries})
    return PythonView(tuple(read), tuple(python_dirs), tuple(sites), tuple(names), tuple(mounts), tuple(stdlib))
