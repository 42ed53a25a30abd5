"""Turning a model's completion into a submission's files.

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

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["CompletionError", "completion_text", "files_from_completion", "read_tree"]

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
