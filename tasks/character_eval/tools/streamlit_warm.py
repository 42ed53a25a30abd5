"""Streamlit's scan for installed components, made once per process instead of once per AppTest.

Every ``AppTest`` run first scans the metadata of every installed distribution for Streamlit
components (0.2 to 0.6 s here, most of a small dashboard's probe). The installed distributions
do not change while a process lives, so the first scan's result serves the rest. The task lists
this module as a preload: the warm process that each test's process is forked from scans once,
and every dashboard probe forked from it starts with the result. ``tools.dashboard_probe``
imports it too, so that a probe outside the warm process (``--isolation none``) scans once.
"""

from __future__ import annotations

from typing import Any

from streamlit.components.v2 import manifest_scanner

_FOUND = manifest_scanner.scan_component_manifests()


def scan_once(max_workers: int | None = None) -> list[Any]:
    """What the first scan found (a new list: callers may add to it)."""
    return list(_FOUND)


manifest_scanner.scan_component_manifests = scan_once
