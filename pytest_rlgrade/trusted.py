"""A task's trusted code: loading it by path (its hidden ground truth, its tools, its test
helpers), and remembering what its pure functions computed (:func:`memo`).

Task tests are collected in importlib mode, beside other tasks' tests, so they cannot import a
neighbouring ``helpers.py`` or ``hidden/`` by name, and two tasks may both have a ``tools``
package. :func:`load_trusted` imports such code once, under a name the task chooses. It is for
trusted code only: submission code never enters the supervisor.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# memo's entries: a digest of (function, arguments) -> the pickled result. Bytes only, so that a
# warm grader holding many of them costs the garbage collector nothing.
_ENTRIES: dict[bytes, bytes] = {}
_NEW: dict[bytes, bytes] = {}  # made in this process since the last save_new()
_SIZE = [0]
MEMO_LIMIT = 256 * 1024 * 1024  # bytes of results kept; the oldest go first


def load_trusted(path: str | Path, name: str) -> ModuleType:
    """Import the module file or package folder at ``path`` as ``name`` (once; later calls return
    the same module). A package's submodules are then importable as ``name.submodule``."""
    if name in sys.modules:
        return sys.modules[name]
    path = Path(path)
    locations = None
    if path.is_dir():
        locations = [str(path)]
        path = path / "__init__.py"
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as {name}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def memo(function: F) -> F:
    """Remember ``function``'s results: a trusted, deterministic function of picklable arguments
    (a generator of test data from its config and seed, an oracle's expected answer), whose
    result is returned as a fresh copy each time, so a test may change it freely.

    Within one grading, a second call with equal arguments is a lookup. In a warm grader
    (:class:`~pytest_rlgrade.Grader`), what one grading computed is handed back to its worker and
    inherited by the gradings after it: the rollouts of a training step share a seed, so their
    test data is made once, not once per rollout. Arguments or results that cannot be pickled
    are simply not remembered. Never give it submission code's objects (handles): only plain
    trusted data crosses into it, as into any trusted helper.
    """
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    def remembered(*args: Any, **kwargs: Any) -> Any:
        return recall((name, args, sorted(kwargs.items())), lambda: function(*args, **kwargs))

    return remembered  # type: ignore[return-value]


def recall(key: Any, compute: Callable[[], Any]) -> Any:
    """``compute()``'s result, remembered under ``key`` (picklable, naming what is computed and
    from what) as :func:`memo` remembers: a fresh copy on each call, handed on in a warm grader.
    A key or a result that cannot be pickled is simply not remembered."""
    try:
        digest = hashlib.blake2b(pickle.dumps(key, protocol=5), digest_size=20).digest()
    except Exception:  # noqa: BLE001 - not picklable: computed as if not remembered
        return compute()
    stored = _ENTRIES.get(digest)
    if stored is not None:
        return pickle.loads(stored)
    value = compute()
    try:
        stored = pickle.dumps(value, protocol=5)
    except Exception:  # noqa: BLE001
        return value
    _remember(digest, stored)
    _NEW[digest] = stored
    return value


def _remember(key: bytes, stored: bytes) -> None:
    if key in _ENTRIES or len(stored) > MEMO_LIMIT:
        return
    _ENTRIES[key] = stored
    _SIZE[0] += len(stored)
    while _SIZE[0] > MEMO_LIMIT:
        _SIZE[0] -= len(_ENTRIES.pop(next(iter(_ENTRIES))))


def save_new(path: Path) -> None:
    """Write what :func:`memo` computed in this process since the last call (a grader worker's
    grading, in its fork) for :func:`load_saved` in the worker. Trusted processes only: the
    sandbox can reach neither the file nor this module's entries."""
    if not _NEW:
        return
    temporary = path.with_name(path.name + ".part")
    with open(temporary, "wb") as stream:
        pickle.dump(list(_NEW.items()), stream, protocol=5)
    os.replace(temporary, path)
    _NEW.clear()


def load_saved(path: Path) -> int:
    """Take in what a grading saved with :func:`save_new` (and remove the file); how many
    entries. A file that cannot be read is dropped: the entries are only a cache."""
    try:
        with open(path, "rb") as stream:
            entries = pickle.load(stream)
    except FileNotFoundError:
        return 0
    except Exception:  # noqa: BLE001 - a grading killed mid-write: nothing to take
        entries = []
    finally:
        path.unlink(missing_ok=True)
    for key, stored in entries:
        _remember(key, stored)
    return len(entries)
