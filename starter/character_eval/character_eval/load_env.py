"""Environment loading: ``KEY=VALUE`` lines of a ``.env`` file into ``os.environ``."""

from __future__ import annotations

from pathlib import Path


def load_env(path: str | Path = ".env", override: bool = False) -> dict[str, str]:
    """Load ``path`` into ``os.environ``; returns the variables the file defines."""
    # TODO: parse KEY=VALUE lines (comments, `export`, quotes), set os.environ
    raise NotImplementedError("load_env")
