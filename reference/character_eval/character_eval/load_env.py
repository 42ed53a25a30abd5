"""Environment loading: ``KEY=VALUE`` lines of a ``.env`` file into ``os.environ``."""

from __future__ import annotations

import os
import re
from pathlib import Path

_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


class EnvFileError(ValueError):
    """A line of an env file that is not ``KEY=VALUE``."""


def parse_env(text: str, source: str = ".env") -> dict[str, str]:
    """The variables of an env file's text: blank lines and ``#`` comments skipped, an optional
    ``export`` prefix, values optionally in single or double quotes."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise EnvFileError(f"{source}: line {number} is not KEY=VALUE: {raw!r}")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":  # pragma: no mutate
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()  # pragma: no mutate
        values[key] = value
    return values


def load_env(path: str | Path = ".env", override: bool = False) -> dict[str, str]:
    """Load ``path`` into ``os.environ`` (existing variables win unless ``override``); returns the
    variables the file defines. A missing file loads nothing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    values = parse_env(text, str(path))
    for key, value in values.items():
        if override or key not in os.environ:
            os.environ[key] = value
    return values
