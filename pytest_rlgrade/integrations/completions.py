"""What the model sees and what it writes: a task's prompts, and its completions as files.

:func:`read_task` reads what a policy is shown of a task: its prompt (for a dataset task, followed
by the instance's own ``prompt`` field, when its row has one), the starter's files and the
instances; :func:`training_rows` turns that into a trainer's dataset rows
(``{"prompt": ..., "instance": ID}``).

:func:`files_from_completion` is the default ``to_files`` of
:func:`pytest_rlgrade.integrations.trl.reward_function`. The format it reads: every file is one
fenced code block (three or more backticks or tildes) headed by the file's path, relative to the
submission's folder (laid out like ``starter/NAME/``, so the package folder comes first). The path
is written either

- in the fence's info string, after an optional language: ````` ```python metric_tracker/detector.py `````
  (also ``path=metric_tracker/detector.py`` or ``title="..."``), or
- alone on the last non-blank line before the fence, optionally as Markdown: ``metric_tracker/detector.py``,
  ``**metric_tracker/detector.py**``, ``### `metric_tracker/detector.py` ``, ``File: metric_tracker/detector.py:``.

For example (a completion that rewrites one module)::

    Here is the detector.

    ```python metric_tracker/detector.py
    def detect(rows):
        ...
    ```

Code blocks without a path (a usage example, a shell command) are ignored. The completion cannot
be turned into files, and :class:`CompletionError` says why, when no block has a path, a block is
not closed (the completion was cut off), a path is given twice, or a path is absolute, climbs out
with ``..`` or is not a plain relative path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "CompletionError",
    "TaskText",
    "completion_text",
    "files_from_completion",
    "read_task",
    "read_tree",
    "training_rows",
]

# Files larger than this, or not UTF-8 text, are left out of a folder read by read_tree.
MAX_TREE_FILE = 1024 * 1024
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
# A relative path as models write them: folders and a file name, no spaces or shell characters.
_PATH = re.compile(r"/?[A-Za-z0-9_.\-]+(?:/[A-Za-z0-9_.\-]+)*")
_INFO_KEY = re.compile(r"""(?:path|file|filename|title)\s*=\s*["']?([^"'\s]+)["']?""")
_HEADING_DECORATION = re.compile(r"""^(?:#{1,6}\s+|[-*+]\s+)?(?:(?:file(?:name)?|path)\s*:\s*)?""", re.IGNORECASE)


class CompletionError(ValueError):
    """A completion that cannot be turned into files; the message says why (the rollout's fault)."""


def completion_text(completion: Any) -> str:
    """The text of a completion as TRL passes it: a string, or a list of chat messages (the
    assistant messages' ``content``, itself a string or a list of ``{"type": "text"}`` parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence):
        parts: list[str] = []
        for message in completion:
            if not isinstance(message, Mapping):
                raise CompletionError(f"a chat message must be a mapping, not {type(message).__name__}")
            if message.get("role", "assistant") != "assistant":
                continue
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, Sequence):
                parts.extend(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, Mapping) and part.get("type", "text") == "text"
                )
        return "\n".join(parts)
    raise CompletionError(f"a completion must be text or chat messages, not {type(completion).__name__}")


def _is_file_path(candidate: str) -> bool:
    return bool(_PATH.fullmatch(candidate)) and ("/" in candidate or "." in candidate.strip("."))


def _path_in_info(info: str) -> str | None:
    """```python path/to/file.py, ```path/to/file.py, ```python path=path/to/file.py. A bare
    language name ("python", "c++") has no dot or slash, so it is never taken for a path."""
    keyed = _INFO_KEY.search(info)
    if keyed:
        return keyed.group(1)
    return next((word for word in info.split()[:2] if _is_file_path(word)), None)


def _path_in_heading(line: str) -> str | None:
    text = line.strip()
    text = _HEADING_DECORATION.sub("", text)
    text = text.strip().strip("*_").strip().strip("`").strip().rstrip(":").strip().strip("`*_")
    return text if _is_file_path(text) else None


def _checked(path: str) -> str:
    pure = PurePosixPath(path)
    if path.startswith("/") or pure.is_absolute():
        raise CompletionError(f"{path}: an absolute path; paths are relative to the submission's folder")
    if ".." in pure.parts:
        raise CompletionError(f"{path}: climbs out of the submission's folder with '..'")
    normal = pure.as_posix()
    if normal in ("", "."):
        raise CompletionError(f"{path!r} is not a file path")
    return normal.removeprefix("./")


def files_from_completion(completion: Any) -> dict[str, str]:
    """The files of a completion (see the module's docstring for the format), as
    ``{relative path: text}``. Raises :class:`CompletionError` saying why it cannot."""
    lines = completion_text(completion).splitlines()
    files: dict[str, str] = {}
    previous = ""  # the last non-blank line outside a block
    index = 0
    while index < len(lines):
        line = lines[index]
        opening = _FENCE.match(line)
        if opening is None:
            if line.strip():
                previous = line
            index += 1
            continue
        fence, indent = opening.group("fence"), len(opening.group("indent"))
        info = opening.group("info")
        if fence[0] == "`" and "`" in info:  # not a fence (CommonMark): inline code
            previous = line
            index += 1
            continue
        path = _path_in_info(info) or _path_in_heading(previous)
        body: list[str] = []
        index += 1
        closed = False
        while index < len(lines):
            candidate = lines[index]
            stripped = candidate.strip()
            if (
                stripped
                and set(stripped) == {fence[0]}
                and len(stripped) >= len(fence)
                and len(candidate) - len(candidate.lstrip(" ")) <= 3
            ):
                closed = True
                index += 1
                break
            # Content of an indented fence loses up to that much indentation (CommonMark).
            body.append(candidate[min(indent, len(candidate) - len(candidate.lstrip(" "))) :])
            index += 1
        if not closed:
            where = f" for {path}" if path else ""
            raise CompletionError(f"the code block{where} is not closed (was the completion cut off?)")
        previous = ""
        if path is None:
            continue
        path = _checked(path)
        if path in files:
            raise CompletionError(f"{path}: given twice")
        files[path] = "\n".join(body) + ("\n" if body else "")
    if not files:
        raise CompletionError("no fenced code block headed by a file path (```python pkg/module.py)")
    return files


def read_tree(folder: Path) -> dict[str, str]:
    """The text files under ``folder`` as ``{relative path: text}``, caches and bytecode left out."""
    files: dict[str, str] = {}
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if (
            path.is_symlink()
            or not path.is_file()
            or SKIPPED_PARTS.intersection(relative.parts)
            or path.name.endswith(SKIPPED_SUFFIXES)
            or path.stat().st_size > MAX_TREE_FILE
        ):
            continue
        try:
            files[relative.as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
    return files


# ---------------------------------------------------------------------------- what the model sees


@dataclass(frozen=True)
class TaskText:
    """What a policy is shown of a task."""

    name: str
    prompt: str
    starter_files: dict[str, str]
    instances: dict[str, dict[str, Any]]
    instances_public: bool

    def prompt_for(self, instance: str | None) -> str:
        """The task's prompt, followed for a dataset instance by its row's ``prompt`` field (the
        problem statement; a task whose prompt ends "the problem follows" expects it there)."""
        row = self.instances.get(instance) if instance is not None else None
        text = row.get("prompt") if row else None
        if isinstance(text, str) and text.strip():
            return self.prompt.rstrip("\n") + "\n\n" + text
        return self.prompt

    def public_row(self, instance: str) -> dict[str, Any] | None:
        """The row of an instance, only where the submission may read the instances file anyway
        (listed in ``public``): a row may hold the expected answers."""
        return dict(self.instances[instance]) if self.instances_public else None


def _read_instances(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("id"), str):
            raise ValueError(f"{path}:{number}: a row must be an object with a string 'id'")
        rows[row["id"]] = row
    return rows


def read_task(name: str, root: Path) -> TaskText:
    """Read a task's prompt, starter and instances under the repository ``root``; raises
    ``ManifestError`` or ``ValueError`` naming the file when the task is not there or broken."""
    from pytest_rlgrade.errors import ManifestError
    from pytest_rlgrade.manifest import discover_tasks, load_task

    found = discover_tasks(root / "tasks")
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise ValueError(f"unknown task {name!r} under {root / 'tasks'} (tasks there: {known})")
    task = load_task(found[name])
    prompt_path = task.folder / task.manifest.prompt
    try:
        prompt = prompt_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(task.manifest_path, "prompt", f"{prompt_path} cannot be read: {error}") from None
    instances: dict[str, dict[str, Any]] = {}
    public = False
    if task.manifest.instances:
        instances_path = task.folder / task.manifest.instances
        try:
            instances = _read_instances(instances_path)
        except (OSError, UnicodeDecodeError, ValueError) as error:  # JSONDecodeError is a ValueError
            raise ManifestError(task.manifest_path, "instances", f"{instances_path}: {error}") from None
        entry = Path(task.manifest.instances)
        public = any(entry == Path(p) or Path(p) in entry.parents for p in task.manifest.public)
    return TaskText(
        name=task.name,
        prompt=prompt,
        starter_files=read_tree(root / "starter" / task.name),
        instances=instances,
        instances_public=public,
    )


def training_rows(task: str, root: str | Path | None = None) -> list[dict[str, str]]:
    """A trainer's dataset for ``task``: one row per instance, ``{"prompt": ..., "instance": ID}``
    (the column :func:`~pytest_rlgrade.integrations.trl.reward_function` reads), or the one row
    ``{"prompt": ...}`` for a task without instances. ``root``: the repository holding ``tasks/``
    (default: the current folder or its nearest parent that has one)."""
    from pytest_rlgrade.engine import find_repository

    text = read_task(task, find_repository(root))
    if not text.instances:
        return [{"prompt": text.prompt}]
    return [{"prompt": text.prompt_for(instance), "instance": instance} for instance in text.instances]
