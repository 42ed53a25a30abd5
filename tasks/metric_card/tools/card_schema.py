"""The Metric Card's JSON Schema and the catalogue of metrics and units.

- ``CARD_SCHEMA``: the JSON Schema (draft 2020-12) of a card, from ``data/metric_card.schema.json``;
  ``validator()`` gives a ``jsonschema.Draft202012Validator`` for it.
- ``required_fields()``: the dotted paths of every required field (``metric.value``, ...).
- ``METRICS``: the metrics of ``data/metric_catalog.json``: ``{name: {"label", "units",
  "higher_is_better"}}``; ``units_for(name)`` the units that fit a metric (its usual unit first).
- ``convert(value, from_unit, to_unit)``: ``value`` expressed in another unit (``value * factor``
  for the catalogue's conversions, ``value`` itself for the same unit), or None when the two units
  do not convert.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SCHEMA_PATH = DATA_DIR / "metric_card.schema.json"
CATALOG_PATH = DATA_DIR / "metric_catalog.json"

CARD_SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
_CATALOG: dict[str, Any] = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
METRICS: dict[str, dict[str, Any]] = _CATALOG["metrics"]
CONVERSIONS: dict[tuple[str, str], float] = {(c["from"], c["to"]): float(c["factor"]) for c in _CATALOG["conversions"]}
UNITS: tuple[str, ...] = tuple(CARD_SCHEMA["properties"]["metric"]["properties"]["unit"]["enum"])
DIRECTIONS: tuple[str, ...] = tuple(CARD_SCHEMA["properties"]["trend"]["properties"]["direction"]["enum"])
PERIODS: tuple[str, ...] = tuple(CARD_SCHEMA["properties"]["trend"]["properties"]["period"]["enum"])


@lru_cache(maxsize=1)
def validator() -> Any:
    """A ``jsonschema.Draft202012Validator`` of ``CARD_SCHEMA``."""
    import jsonschema

    return jsonschema.Draft202012Validator(CARD_SCHEMA)


def required_fields(schema: dict[str, Any] | None = None, prefix: str = "") -> list[str]:
    """Dotted paths of the required fields of ``schema`` (default the card's), parents first."""
    schema = CARD_SCHEMA if schema is None else schema
    found = []
    for name in schema.get("required", []):
        path = f"{prefix}{name}"
        found.append(path)
        child = schema.get("properties", {}).get(name, {})
        if child.get("type") == "object":
            found.extend(required_fields(child, f"{path}."))
    return found


def units_for(metric: str) -> list[str]:
    """The units that fit ``metric`` (a catalogue name); raises ``KeyError`` for an unknown one."""
    return list(METRICS[metric]["units"])


def convert(value: float, from_unit: str, to_unit: str) -> float | None:
    """``value`` (in ``from_unit``) in ``to_unit``, or None when the units do not convert."""
    if from_unit == to_unit:
        return value
    factor = CONVERSIONS.get((from_unit, to_unit))
    return None if factor is None else value * factor
