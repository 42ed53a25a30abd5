"""Evaluation contexts: what a metric card is asked to show.

A context is a JSON object:

- ``id``: a unique non-empty string;
- ``model``, ``benchmark``: non-empty strings;
- ``metric``: a metric of the catalogue (``tools.card_schema.METRICS``);
- ``value``: the metric's current value, a number in ``unit``;
- ``unit``: one of the units that fit the metric;
- ``previous``: the value one ``period`` earlier, in the same unit;
- ``period``: one of ``day``, ``week``, ``month``, ``quarter``, ``year``;
- ``baseline`` (optional): ``{"label": str, "value": number}``, a reference to compare with, in
  the same unit.

``load_contexts(path=None)`` reads a file ``{"contexts": [...]}`` (default ``data/contexts.json``)
and returns the contexts as dicts, in file order; ``check_context(context, where)`` validates one.
Both raise ``ContextError`` (a ``ValueError``) naming the file, the context and the field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .card_schema import METRICS, PERIODS, units_for

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
CONTEXTS_PATH = DATA_DIR / "contexts.json"
FIELDS = ("id", "model", "benchmark", "metric", "value", "unit", "previous", "period", "baseline")


class ContextError(ValueError):
    """A context file or context that cannot be used."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_context(context: Any, where: str = "context") -> dict[str, Any]:
    """``context`` itself when it is a valid context; else ``ContextError`` naming ``where`` and the field."""
    if not isinstance(context, dict):
        raise ContextError(f"{where}: a context must be an object, got {type(context).__name__}")
    unknown = sorted(set(context) - set(FIELDS))
    if unknown:
        raise ContextError(f"{where}: unknown field {unknown[0]!r}")
    for key in ("id", "model", "benchmark", "metric", "unit", "period"):
        if not isinstance(context.get(key), str) or not context[key].strip():
            raise ContextError(f"{where}: field {key!r} must be a non-empty string")
    if context["metric"] not in METRICS:
        raise ContextError(f"{where}: metric {context['metric']!r} is not in the catalogue ({', '.join(METRICS)})")
    if context["unit"] not in units_for(context["metric"]):
        raise ContextError(
            f"{where}: unit {context['unit']!r} does not fit {context['metric']} "
            f"({', '.join(units_for(context['metric']))})"
        )
    if context["period"] not in PERIODS:
        raise ContextError(f"{where}: period {context['period']!r} is not one of {', '.join(PERIODS)}")
    for key in ("value", "previous"):
        if not _is_number(context.get(key)):
            raise ContextError(f"{where}: field {key!r} must be a finite number")
    baseline = context.get("baseline")
    if baseline is not None and (
        not isinstance(baseline, dict)
        or set(baseline) != {"label", "value"}
        or not isinstance(baseline["label"], str)
        or not baseline["label"]
        or not _is_number(baseline["value"])
    ):
        raise ContextError(f"{where}: field 'baseline' must be {{'label': str, 'value': number}}")
    return context


def load_contexts(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The contexts of ``path`` (default ``data/contexts.json``), validated, in file order."""
    path = Path(path) if path is not None else CONTEXTS_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContextError(f"{path}: no such contexts file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ContextError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("contexts"), list):
        raise ContextError(f"{path}: expected an object with a list 'contexts'")
    seen: set[str] = set()
    for number, context in enumerate(data["contexts"]):
        check_context(context, f"{path}: contexts[{number}]")
        if context["id"] in seen:
            raise ContextError(f"{path}: contexts[{number}]: duplicate id {context['id']!r}")
        seen.add(context["id"])
    if not data["contexts"]:
        raise ContextError(f"{path}: 'contexts' is empty")
    return list(data["contexts"])
