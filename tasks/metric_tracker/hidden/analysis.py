"""The trusted implementation of the analysis that prompt.md specifies.

The generator uses it to compute the hidden labels' values and to check that every planted anomaly
is cleanly separable; the tests use it for known answers. It never runs in the sandbox.
"""

from __future__ import annotations

import bisect
import statistics
from collections.abc import Iterable, Mapping
from typing import Any

EVENTS: tuple[str, ...] = (
    "app_open",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "payment_successful",
    "order_placed",
)

# name -> (numerator event, denominator event); the funnel steps first, in funnel order.
STEP_METRICS: dict[str, tuple[str, str]] = {
    f"{EVENTS[i - 1]}_to_{EVENTS[i]}": (EVENTS[i], EVENTS[i - 1]) for i in range(1, len(EVENTS))
}
# The conversion metrics are the funnel steps: each step's conversion from the event before it.
CONVERSION_METRICS: dict[str, tuple[str, str]] = dict(STEP_METRICS)
FUNNEL_STEPS: tuple[str, ...] = tuple(STEP_METRICS)
HOURLY_ENTITY = "app_open"

ROW_KEYS: tuple[str, ...] = (
    "date",
    "entity_type",
    "entity_name",
    "anomaly_type",
    "detection_method",
    "baseline_value",
    "observed_value",
    "delta_value",
    "severity",
)
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

# family -> (entity_type, detection_method)
FAMILIES: dict[str, tuple[str, str]] = {
    "rate_drop_from_median": ("conversion_rate", "compare_rate_to_median"),
    "rate_spike_from_median": ("conversion_rate", "compare_rate_to_median"),
    "absolute_drop_in_event_count": ("event_count", "compare_count_to_median"),
    "absolute_spike_in_event_count": ("event_count", "compare_count_to_median"),
    "funnel_break": ("funnel_step", "detect_funnel_break"),
    "hourly_traffic_mix_shift": ("hourly_mix", "compare_hourly_mix_to_median"),
    "instrumentation_data_quality_issue": ("data_quality", "check_impossible_counts"),
}

# Per-family base thresholds; a generator's threshold is base * threshold_multiplier.
RATE_BASE = 0.10
COUNT_BASE = 0.10
BREAK_BASE = 0.40
MIX_BASE = 0.05
DEFAULT_MULTIPLIER = 2.0


def severity(magnitude: float | None) -> str:
    """low < 0.3 <= medium < 0.5 <= high < 0.8 <= critical; None (zero baseline) is critical."""
    if magnitude is None:
        return "critical"
    if magnitude < 0.3:
        return "low"
    if magnitude < 0.5:
        return "medium"
    if magnitude < 0.8:
        return "high"
    return "critical"


def relative_change(baseline: float, observed: float) -> float | None:
    if baseline == 0:
        return None
    return (observed - baseline) / baseline


def _comparison(date: str, entity: str, baseline: float, observed: float) -> dict[str, Any]:
    return {
        "date": date,
        "entity_name": entity,
        "baseline_value": float(baseline),
        "observed_value": float(observed),
        "delta_value": float(observed - baseline),
        "relative_change": relative_change(baseline, observed),
    }


def _row(family: str, comparison: Mapping[str, Any], magnitude: float | None) -> dict[str, Any]:
    entity_type, method = FAMILIES[family]
    return {
        "date": comparison["date"],
        "entity_type": entity_type,
        "entity_name": comparison["entity_name"],
        "anomaly_type": family,
        "detection_method": method,
        "baseline_value": comparison["baseline_value"],
        "observed_value": comparison["observed_value"],
        "delta_value": comparison["delta_value"],
        "severity": severity(magnitude),
    }


def _sorted_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["date"], r["entity_name"], r["anomaly_type"]))


class Analysis:
    """All the read-only analysis of one dataset (daily and hourly funnel aggregates)."""

    def __init__(self, daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]]):
        self.daily = {row["date"]: row for row in daily_rows}
        self.dates = sorted(self.daily)
        self.hourly: dict[str, dict[int, dict[str, Any]]] = {d: {} for d in self.dates}
        for row in hourly_rows:
            self.hourly.setdefault(row["date"], {})[int(row["hour"])] = row
        self._mix_cache: dict[str, tuple[float, float]] | None = None
        self._sorted_values: dict[tuple[str, str], list[float]] = {}

    # ---- plain look-ups -------------------------------------------------------------------
    def _check_date(self, date: str) -> None:
        if date not in self.daily:
            raise ValueError(f"unknown date {date!r}")

    def count(self, date: str, event: str) -> int:
        return self.daily[date][event]

    def rate(self, date: str, metric: str) -> float:
        numerator, denominator = CONVERSION_METRICS[metric]
        den = self.daily[date][denominator]
        return 0.0 if den == 0 else self.daily[date][numerator] / den

    def _others_median(self, date: str, key: tuple[str, str], value_of) -> float:
        """The median of ``value_of`` over every date but ``date``: from the sorted values of all
        dates (computed once per ``key``) less one occurrence of this date's value, which is the
        same multiset, so the same median, as sorting the others afresh for every date."""
        values = self._sorted_values.get(key)
        if values is None:
            values = self._sorted_values[key] = sorted(value_of(d) for d in self.dates)
        if len(values) < 2:
            raise statistics.StatisticsError("no median for empty data")
        drop = bisect.bisect_left(values, value_of(date))
        n = len(values) - 1  # the others

        def at(i: int) -> float:
            return values[i if i < drop else i + 1]

        if n % 2:
            return at(n // 2)
        return (at(n // 2 - 1) + at(n // 2)) / 2

    def list_dates(self) -> list[str]:
        return list(self.dates)

    def list_entities(self) -> dict[str, list[str]]:
        return {
            "events": list(EVENTS),
            "conversion_metrics": list(CONVERSION_METRICS),
            "funnel_steps": list(FUNNEL_STEPS),
        }

    def rows_for_date(self, date: str) -> dict[str, Any]:
        self._check_date(date)
        return dict(self.daily[date])

    def hourly_rows_for_date(self, date: str) -> list[dict[str, Any]]:
        self._check_date(date)
        return [dict(self.hourly[date][h]) for h in sorted(self.hourly.get(date, {}))]

    # ---- comparisons ----------------------------------------------------------------------
    def compare_count_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        self._check_date(date)
        if entity_name not in EVENTS:
            raise ValueError(f"unknown event {entity_name!r}")
        baseline = self._others_median(date, ("count", entity_name), lambda d: self.count(d, entity_name))
        return _comparison(date, entity_name, baseline, self.count(date, entity_name))

    def compare_rate_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        self._check_date(date)
        if entity_name not in CONVERSION_METRICS:
            raise ValueError(f"unknown conversion metric {entity_name!r}")
        baseline = self._others_median(date, ("rate", entity_name), lambda d: self.rate(d, entity_name))
        return _comparison(date, entity_name, baseline, self.rate(date, entity_name))

    def detect_funnel_break(self, date: str, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[dict[str, Any]]:
        self._check_date(date)
        limit = -BREAK_BASE * threshold_multiplier
        steps = []
        for step in FUNNEL_STEPS:
            c = self.compare_rate_to_median(date, step)
            c["broken"] = c["relative_change"] is not None and c["relative_change"] <= limit
            steps.append(c)
        return steps

    def _shares(self, date: str) -> list[float]:
        counts = [self.hourly.get(date, {}).get(h, {}).get(HOURLY_ENTITY, 0) for h in range(24)]
        total = sum(counts)
        return [0.0] * 24 if total == 0 else [c / total for c in counts]

    def _mix(self) -> dict[str, tuple[float, float]]:
        """date -> (baseline mix shift, observed mix shift)."""
        if self._mix_cache is None:
            shares = {d: self._shares(d) for d in self.dates}
            observed = {}
            for d in self.dates:
                others = [shares[e] for e in self.dates if e != d]
                profile = [statistics.median(s[h] for s in others) for h in range(24)]
                observed[d] = 0.5 * sum(abs(a - b) for a, b in zip(shares[d], profile, strict=True))
            self._mix_cache = {
                d: (statistics.median(observed[e] for e in self.dates if e != d), observed[d]) for d in self.dates
            }
        return self._mix_cache

    def compare_hourly_mix_to_median(self, date: str) -> dict[str, Any]:
        self._check_date(date)
        baseline, observed = self._mix()[date]
        return _comparison(date, HOURLY_ENTITY, baseline, observed)

    def check_impossible_counts(self, date: str | None = None) -> list[dict[str, Any]]:
        if date is not None:
            self._check_date(date)
        issues = []
        for d in self.dates if date is None else [date]:
            hours = self.hourly.get(d, {})
            for event in EVENTS:
                daily = self.daily[d][event]
                hourly_sum = sum(hours[h].get(event, 0) for h in hours)
                negative_hours = sorted(h for h in hours if hours[h].get(event, 0) < 0)
                if hourly_sum != daily or daily < 0 or negative_hours:
                    issues.append(
                        {
                            "date": d,
                            "event_name": event,
                            "daily_count": daily,
                            "hourly_sum": hourly_sum,
                            "difference": hourly_sum - daily,
                            "negative_hours": negative_hours,
                            "negative_daily": daily < 0,
                        }
                    )
        return issues

    # ---- per-family row generators ---------------------------------------------------------
    def _threshold_rows(self, family, compare, entities, limit, sign):
        rows = []
        for d in self.dates:
            for entity in entities:
                c = compare(d, entity)
                rc = c["relative_change"]
                if rc is not None and sign * rc >= limit:
                    rows.append(_row(family, c, abs(rc)))
        return _sorted_rows(rows)

    def _metric_list(self, name: str | None, known, kind: str) -> list[str]:
        if name is None:
            return list(known)
        if name not in known:
            raise ValueError(f"unknown {kind} {name!r}")
        return [name]

    def get_rate_spike_from_median_rows(self, metric_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = self._metric_list(metric_name, CONVERSION_METRICS, "conversion metric")
        return self._threshold_rows(
            "rate_spike_from_median", self.compare_rate_to_median, metrics, RATE_BASE * threshold_multiplier, 1
        )

    def get_rate_drop_from_median_rows(self, metric_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = self._metric_list(metric_name, CONVERSION_METRICS, "conversion metric")
        return self._threshold_rows(
            "rate_drop_from_median", self.compare_rate_to_median, metrics, RATE_BASE * threshold_multiplier, -1
        )

    def get_absolute_spike_in_event_count_rows(self, event_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        events = self._metric_list(event_name, EVENTS, "event")
        return self._threshold_rows(
            "absolute_spike_in_event_count", self.compare_count_to_median, events, COUNT_BASE * threshold_multiplier, 1
        )

    def get_absolute_drop_in_event_count_rows(self, event_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        events = self._metric_list(event_name, EVENTS, "event")
        return self._threshold_rows(
            "absolute_drop_in_event_count", self.compare_count_to_median, events, COUNT_BASE * threshold_multiplier, -1
        )

    def get_funnel_break_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        return self._threshold_rows(
            "funnel_break", self.compare_rate_to_median, FUNNEL_STEPS, BREAK_BASE * threshold_multiplier, -1
        )

    def get_hourly_traffic_mix_shift_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        rows = []
        for d in self.dates:
            c = self.compare_hourly_mix_to_median(d)
            if c["delta_value"] >= MIX_BASE * threshold_multiplier:
                rows.append(_row("hourly_traffic_mix_shift", c, abs(c["delta_value"])))
        return _sorted_rows(rows)

    def get_instrumentation_data_quality_issue_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        rows = []
        for issue in self.check_impossible_counts():
            c = _comparison(issue["date"], issue["event_name"], issue["daily_count"], issue["hourly_sum"])
            rc = c["relative_change"]
            rows.append(_row("instrumentation_data_quality_issue", c, None if rc is None else abs(rc)))
        return _sorted_rows(rows)

    def get_median_filter_rows(self, metric_names=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = list(CONVERSION_METRICS) if metric_names is None else list(metric_names)
        for name in metrics:
            if name not in CONVERSION_METRICS:
                raise ValueError(f"unknown conversion metric {name!r}")
        rows = []
        for name in metrics:
            rows += self.get_rate_spike_from_median_rows(name, threshold_multiplier)
            rows += self.get_rate_drop_from_median_rows(name, threshold_multiplier)
        return _sorted_rows(rows)

    def list_suspicious_dates(self, threshold_multiplier=DEFAULT_MULTIPLIER) -> list[str]:
        rows = (
            self.get_median_filter_rows(None, threshold_multiplier)
            + self.get_absolute_spike_in_event_count_rows(None, threshold_multiplier)
            + self.get_absolute_drop_in_event_count_rows(None, threshold_multiplier)
            + self.get_funnel_break_rows(threshold_multiplier)
            + self.get_hourly_traffic_mix_shift_rows(threshold_multiplier)
            + self.get_instrumentation_data_quality_issue_rows(threshold_multiplier)
        )
        return sorted({r["date"] for r in rows})

    # ---- the careful detector --------------------------------------------------------------
    def detect_anomalies(self) -> list[dict[str, Any]]:
        """The final report under the attribution rules of prompt.md (threshold multiplier 2.0)."""
        t = COUNT_BASE * DEFAULT_MULTIPLIER
        break_limit = -BREAK_BASE * DEFAULT_MULTIPLIER
        dq_rows = self.get_instrumentation_data_quality_issue_rows()
        dq_dates = {r["date"] for r in dq_rows}
        rows = list(dq_rows)
        for d in self.dates:
            counts = {e: self.compare_count_to_median(d, e) for e in EVENTS}
            moved = {
                i
                for i, e in enumerate(EVENTS)
                if counts[e]["relative_change"] is not None and abs(counts[e]["relative_change"]) >= t
            }
            # app_open moving is a traffic change (whether or not it carries down the funnel);
            # any other event moving on its own (neither neighbour moved) is an event-count anomaly
            roots = {i for i in moved if i == 0 or (i - 1 not in moved and i + 1 not in moved)}
            explained = set()
            for i in sorted(roots):
                c = counts[EVENTS[i]]
                family = "absolute_spike_in_event_count" if c["relative_change"] > 0 else "absolute_drop_in_event_count"
                rows.append(_row(family, c, abs(c["relative_change"])))
                if i + 1 not in moved:  # the step out of the event moved only because the event did
                    explained.add(i + 1)
                if i > 0:
                    explained.add(i)
            for i, step in enumerate(FUNNEL_STEPS, start=1):
                if i in explained:
                    continue
                c = self.compare_rate_to_median(d, step)
                rc = c["relative_change"]
                if rc is None:
                    continue
                if rc <= break_limit:
                    rows.append(_row("funnel_break", c, abs(rc)))
                elif rc >= t:
                    rows.append(_row("rate_spike_from_median", c, abs(rc)))
                elif rc <= -t:
                    rows.append(_row("rate_drop_from_median", c, abs(rc)))
            if d not in dq_dates:
                c = self.compare_hourly_mix_to_median(d)
                if c["delta_value"] >= MIX_BASE * DEFAULT_MULTIPLIER:
                    rows.append(_row("hourly_traffic_mix_shift", c, abs(c["delta_value"])))
        return _sorted_rows(rows)
