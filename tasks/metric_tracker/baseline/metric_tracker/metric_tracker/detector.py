"""The seed's scripted baseline: one payload generator per named task, threshold multiplier 2.0.

    easy_single_spike   get_absolute_spike_in_event_count_rows(threshold_multiplier=2.0)
    otherwise           get_median_filter_rows(threshold_multiplier=2.0)

No attribution, no other family: it reports whatever the chosen generator returns.
"""

from __future__ import annotations

from typing import Any

from .investigator import Investigator

THRESHOLD_MULTIPLIER = 2.0


def detect_anomalies(
    daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]], task_id: str | None = None
) -> list[dict[str, Any]]:
    inv = Investigator(daily_rows, hourly_rows)
    if task_id == "easy_single_spike":
        return inv.get_absolute_spike_in_event_count_rows(threshold_multiplier=THRESHOLD_MULTIPLIER)
    return inv.get_median_filter_rows(threshold_multiplier=THRESHOLD_MULTIPLIER)
