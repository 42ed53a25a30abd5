"""The final anomaly report: the analysis surface plus the attribution rules of the task."""

from __future__ import annotations

from typing import Any

from .investigator import (
    BREAK_BASE,
    COUNT_BASE,
    DEFAULT_MULTIPLIER,
    EVENTS,
    FUNNEL_STEPS,
    MIX_BASE,
    Investigator,
    make_row,
    sort_rows,
)


def report(inv: Investigator, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[dict[str, Any]]:
    """One row per anomaly, each change in the funnel explained once, at its root."""
    moved_at = COUNT_BASE * threshold_multiplier
    break_at = -BREAK_BASE * threshold_multiplier
    quality = inv.get_instrumentation_data_quality_issue_rows()
    unreliable_hours = {row["date"] for row in quality}
    rows = list(quality)
    for date in inv.list_dates():
        counts = [inv.compare_count_to_median(date, event) for event in EVENTS]
        moved = {
            i
            for i, c in enumerate(counts)
            if c["relative_change"] is not None and abs(c["relative_change"]) >= moved_at
        }
        # Step i (1-based) converts event i-1 into event i. A move of app_open is a traffic change;
        # a move of a later event that neither neighbour shares is that event's own count anomaly.
        explained: set[int] = set()
        roots = [i for i in sorted(moved) if i == 0 or (i - 1 not in moved and i + 1 not in moved)]
        for i in roots:
            c = counts[i]
            kind = "absolute_spike_in_event_count" if c["relative_change"] > 0 else "absolute_drop_in_event_count"
            rows.append(make_row(kind, c, abs(c["relative_change"])))
            if i > 0:
                explained.add(i)
            if i + 1 not in moved:
                explained.add(i + 1)
        for step in (step for i, step in enumerate(FUNNEL_STEPS, start=1) if i not in explained):
            c = inv.compare_rate_to_median(date, step)
            rc = c["relative_change"]
            if rc is not None and rc <= break_at:
                rows.append(make_row("funnel_break", c, abs(rc)))
            elif rc is not None and rc >= moved_at:
                rows.append(make_row("rate_spike_from_median", c, abs(rc)))
            elif rc is not None and rc <= -moved_at:
                rows.append(make_row("rate_drop_from_median", c, abs(rc)))
        if date not in unreliable_hours:
            c = inv.compare_hourly_mix_to_median(date)
            if c["delta_value"] >= MIX_BASE * threshold_multiplier:
                rows.append(make_row("hourly_traffic_mix_shift", c, abs(c["delta_value"])))
    return sort_rows(rows)


def detect_anomalies(
    daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]], task_id: str | None = None
) -> list[dict[str, Any]]:
    """The final anomaly rows for a dataset (``task_id`` is a hint this detector does not need)."""
    return report(Investigator(daily_rows, hourly_rows))
