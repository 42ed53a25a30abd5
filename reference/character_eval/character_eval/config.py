"""The shipped ``config.json`` and persona definitions (in the task's public ``data/`` folder)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from tools.simulation import DATA_DIR


@lru_cache(maxsize=1)  # pragma: no mutate
def load_config() -> dict[str, Any]:
    """``data/config.json``: models, characters, scenarios, evaluation sets and evaluators."""
    data: dict[str, Any] = json.loads((Path(DATA_DIR) / "config.json").read_text(encoding="utf-8"))
    return data


@lru_cache(maxsize=1)  # pragma: no mutate
def load_personas() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path(DATA_DIR) / "personas.json").read_text(encoding="utf-8"))
    return data


def persona(name: str, kind: str) -> dict[str, Any]:
    """The ``assistant`` or ``user`` persona called ``name``; a ValueError naming the known ones."""
    table = load_personas()[f"{kind}_personas"]
    if name not in table:
        raise ValueError(f"unknown {kind} persona {name!r}; known: {', '.join(sorted(table))}")
    found: dict[str, Any] = table[name]
    return found
