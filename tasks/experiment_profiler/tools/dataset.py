"""Loading dialogue datasets.

A dataset is a JSON file ``{"dialogues": [{"id", "prompt", "expected_facts", "tags"}, ...]}``;
``data/dialogues.json`` is the shipped one. ``load_dialogues(path)`` returns the dialogues in file
order and raises ``DatasetError`` (a ``ValueError``) naming the file when it is missing or malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DATASET = DATA_DIR / "dialogues.json"


class DatasetError(ValueError):
    """A dataset file is missing or malformed."""


@dataclass(frozen=True)
class Dialogue:
    """One single-turn dialogue: the user's prompt and the facts a good answer mentions."""

    id: str
    prompt: str
    expected_facts: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())

    def messages(self) -> list[dict[str, str]]:
        """The Messages API ``messages`` list for this dialogue."""
        return [{"role": "user", "content": self.prompt}]


def _strings(value: object, what: str, source: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetError(f"{source}: {what} must be a list of strings")
    return tuple(value)


def load_dialogues(path: str | Path | None = None) -> list[Dialogue]:
    """Read the dialogues of a dataset file (default: the shipped ``data/dialogues.json``)."""
    source = Path(path) if path is not None else DEFAULT_DATASET
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"dataset file not found: {source}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{source}: cannot read dataset: {exc}") from None
    items = data.get("dialogues") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DatasetError(f"{source}: expected an object with a 'dialogues' list")
    dialogues: list[Dialogue] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DatasetError(f"{source}: dialogues[{index}] must be an object")
        ident, prompt = item.get("id"), item.get("prompt")
        if not isinstance(ident, str) or not ident:
            raise DatasetError(f"{source}: dialogues[{index}].id must be a non-empty string")
        if not isinstance(prompt, str) or not prompt:
            raise DatasetError(f"{source}: dialogue {ident!r} needs a non-empty 'prompt'")
        if ident in seen:
            raise DatasetError(f"{source}: duplicate dialogue id {ident!r}")
        seen.add(ident)
        facts = _strings(item.get("expected_facts", []), f"dialogue {ident!r} expected_facts", source)
        tags = _strings(item.get("tags", []), f"dialogue {ident!r} tags", source)
        dialogues.append(Dialogue(id=ident, prompt=prompt, expected_facts=facts, tags=tags))
    return dialogues
