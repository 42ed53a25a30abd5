"""Render the dashboard headless with Streamlit's ``AppTest`` and print what it shows, as JSON.

    python -m tools.dashboard_probe [--app PATH] [--max-options N]

Without ``--app`` it finds ``character_eval/webapp/app.py`` of the importable ``character_eval``
package. It runs the app in the current directory, picks every option of the sidebar radio
labelled ``View``, and within each view every combination of the options of its select boxes
(at most ``--max-options`` per box, outer boxes first). For each state it records the text of
the titles, headers, markdown, captions, texts, code, metrics, alerts and expanders, and the rows
of the dataframes and tables. The last line of stdout is ``DASHBOARD_PROBE <json>``::

    {"app": PATH, "error": null | "...", "exceptions": [...],
     "views": [{"view": "Contexts", "selections": {"Context file": "a.json"},
                "texts": [...], "tables": [[{column: value}, ...]]}]}
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

MARKER = "DASHBOARD_PROBE "
VIEW_LABEL = "View"
TEXT_ELEMENTS = (
    "title",
    "header",
    "subheader",
    "markdown",
    "caption",
    "text",
    "code",
    "info",
    "warning",
    "error",
    "success",
)


def find_app() -> str:
    spec = importlib.util.find_spec("character_eval.webapp.app")
    if spec is None or not spec.origin:
        raise LookupError("character_eval.webapp.app cannot be found")
    return spec.origin


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "item"):
        return _plain(value.item())
    return str(value)


def _rows(frame: Any) -> list[dict[str, Any]]:
    try:
        records = frame.to_dict("records")
    except Exception:  # not a DataFrame: show it as text
        return [{"value": str(frame)}]
    return [{str(k): _plain(v) for k, v in row.items()} for row in records]


def snapshot(at: Any) -> tuple[list[str], list[list[dict[str, Any]]]]:
    texts: list[str] = []
    for kind in TEXT_ELEMENTS:
        for element in getattr(at, kind, []):
            texts.append(str(element.value))
    for metric in at.metric:
        texts.append(f"{metric.label}: {metric.value}")
    for expander in at.expander:
        texts.append(str(expander.label))
    tables = [_rows(frame.value) for frame in at.dataframe]
    tables += [_rows(table.value) for table in at.table]
    return texts, tables


def _exceptions(at: Any) -> list[str]:
    return [str(e.value) for e in at.exception]


def _radio(at: Any, label: str) -> Any:
    for radio in list(at.sidebar.radio) + list(at.radio):
        if radio.label == label:
            return radio
    return None


def explore(at: Any, max_options: int) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []
    radio = _radio(at, VIEW_LABEL)
    if radio is None:
        raise LookupError(f"no radio labelled {VIEW_LABEL!r} in the sidebar")
    for view_index, view in enumerate(list(radio.options)):
        _radio(at, VIEW_LABEL).set_value(radio.options[view_index]).run()

        def walk(chosen: dict[str, str], view: str = view) -> None:
            boxes = [b for b in at.selectbox if b.label not in chosen]
            if not boxes:
                texts, tables = snapshot(at)
                state = {"view": view, "selections": dict(chosen), "texts": texts, "tables": tables}
                states.append({**state, "exceptions": _exceptions(at)})
                return
            label = boxes[0].label
            for index in range(min(len(boxes[0].options), max_options)):
                box = next(b for b in at.selectbox if b.label == label)
                option = str(box.options[index])
                box.select_index(index).run()
                walk({**chosen, label: option})

        walk({})
    return states


def probe(app: str | None, max_options: int) -> dict[str, Any]:
    # AppTest makes a temporary folder when imported; the sandbox's TMPDIR may not let a process
    # create folders at its top, the working folder always does.
    scratch = os.path.join(os.getcwd(), ".dashboard_probe_tmp")
    os.makedirs(scratch, exist_ok=True)
    tempfile.tempdir = scratch
    from streamlit.testing.v1 import AppTest

    from tools import streamlit_warm  # noqa: F401 - one component scan per process, not per AppTest

    report: dict[str, Any] = {"app": None, "error": None, "exceptions": [], "views": []}
    try:
        path = app or find_app()
        report["app"] = path
        at = AppTest.from_file(path, default_timeout=60)
        at.run()
        report["exceptions"] = _exceptions(at)
        report["views"] = explore(at, max_options)
        for state in report["views"]:
            report["exceptions"] += [e for e in state["exceptions"] if e not in report["exceptions"]]
    except Exception as exc:  # the report says what went wrong; the caller decides
        report["error"] = f"{type(exc).__name__}: {exc}"
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dashboard_probe", description=__doc__)
    parser.add_argument("--app", default=None)
    parser.add_argument("--max-options", type=int, default=12)
    args = parser.parse_args(argv)
    report = probe(args.app, args.max_options)
    sys.stdout.write("\n" + MARKER + json.dumps(report) + "\n")
    return 0 if report["error"] is None and not report["exceptions"] else 1


if __name__ == "__main__":
    sys.exit(main())
