"""Read-only analysis of daily and hourly product-funnel aggregates."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from typing import Any

EVENTS: tuple[str, ...] = (
    "app_open",
    "product_view",
    "add_to_cart",
    "checkout_started",
    "payment_successful",
    "order_placed",
)
# conversion metric -> (numerator event, denominator event): one per funnel step, in funnel order
CONVERSION_METRICS: dict[str, tuple[str, str]] = {
    f"{EVENTS[i - 1]}_to_{EVENTS[i]}": (EVENTS[i], EVENTS[i - 1]) for i in range(1, len(EVENTS))
}
FUNNEL_STEPS: tuple[str, ...] = tuple(CONVERSION_METRICS)
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
# anomaly_type -> (entity_type, detection_method)
FAMILIES: dict[str, tuple[str, str]] = {
    "rate_drop_from_median": ("conversion_rate", "compare_rate_to_median"),
    "rate_spike_from_median": ("conversion_rate", "compare_rate_to_median"),
    "absolute_drop_in_event_count": ("event_count", "compare_count_to_median"),
    "absolute_spike_in_event_count": ("event_count", "compare_count_to_median"),
    "funnel_break": ("funnel_step", "detect_funnel_break"),
    "hourly_traffic_mix_shift": ("hourly_mix", "compare_hourly_mix_to_median"),
    "instrumentation_data_quality_issue": ("data_quality", "check_impossible_counts"),
}
ENTITY_TYPES = frozenset(t for t, _ in FAMILIES.values())
DETECTION_METHODS = frozenset(m for _, m in FAMILIES.values())

# base thresholds; a generator's threshold is base * threshold_multiplier
RATE_BASE = 0.10
COUNT_BASE = 0.10
BREAK_BASE = 0.40
MIX_BASE = 0.05
DEFAULT_MULTIPLIER = 2.0


def severity(magnitude: float | None) -> str:
    if magnitude is None:
        return "critical"
    if magnitude < 0.3:
        return "low"
    if magnitude < 0.5:
        return "medium"
    if magnitude < 0.8:
        return "high"
    return "critical"


def _comparison(date: str, entity: str, baseline: float, observed: float) -> dict[str, Any]:
    baseline, observed = float(baseline), float(observed)
    return {
        "date": date,
        "entity_name": entity,
        "baseline_value": baseline,
        "observed_value": observed,
        "delta_value": observed - baseline,
        "relative_change": None if baseline == 0 else (observed - baseline) / baseline,
    }


def make_row(anomaly_type: str, comparison: Mapping[str, Any], magnitude: float | None) -> dict[str, Any]:
    entity_type, method = FAMILIES[anomaly_type]
    return {
        "date": comparison["date"],
        "entity_type": entity_type,
        "entity_name": comparison["entity_name"],
        "anomaly_type": anomaly_type,
        "detection_method": method,
        "baseline_value": comparison["baseline_value"],
        "observed_value": comparison["observed_value"],
        "delta_value": comparison["delta_value"],
        "severity": severity(magnitude),
    }


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["date"], r["entity_name"], r["anomaly_type"]))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class Investigator:
    """The analysis surface over one dataset: ``Investigator(daily_rows, hourly_rows)``."""

    def __init__(self, daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]]):
        self._daily = {row["date"]: dict(row) for row in daily_rows}
        self._dates = sorted(self._daily)
        self._hourly: dict[str, dict[int, dict[str, Any]]] = {d: {} for d in self._dates}
        for row in hourly_rows:
            self._hourly.setdefault(row["date"], {})[int(row["hour"])] = dict(row)
        self._mix: dict[str, tuple[float, float]] | None = None

    # ---- look-ups -------------------------------------------------------------------------
    def _require_date(self, date: str) -> None:
        if date not in self._daily:
            raise ValueError(f"unknown date {date!r}")

    def _count(self, date: str, event: str) -> int:
        return self._daily[date][event]

    def _rate(self, date: str, metric: str) -> float:
        numerator, denominator = CONVERSION_METRICS[metric]
        den = self._daily[date][denominator]
        return 0.0 if den == 0 else self._daily[date][numerator] / den

    def _median_of_others(self, date: str, value: Callable[[str], float]) -> float:
        return statistics.median(value(d) for d in self._dates if d != date)

    def list_dates(self) -> list[str]:
        return list(self._dates)

    def list_entities(self) -> dict[str, list[str]]:
        return {
            "events": list(EVENTS),
            "conversion_metrics": list(CONVERSION_METRICS),
            "funnel_steps": list(FUNNEL_STEPS),
        }

    def rows_for_date(self, date: str) -> dict[str, Any]:
        self._require_date(date)
        return dict(self._daily[date])

    def hourly_rows_for_date(self, date: str) -> list[dict[str, Any]]:
        self._require_date(date)
        hours = self._hourly.get(date, {})
        return [dict(hours[h]) for h in sorted(hours)]

    # ---- comparisons ----------------------------------------------------------------------
    def compare_count_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        self._require_date(date)
        if entity_name not in EVENTS:
            raise ValueError(f"unknown event {entity_name!r}")
        baseline = self._median_of_others(date, lambda d: self._count(d, entity_name))
        return _comparison(date, entity_name, baseline, self._count(date, entity_name))

    def compare_rate_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        self._require_date(date)
        if entity_name not in CONVERSION_METRICS:
            raise ValueError(f"unknown conversion metric {entity_name!r}")
        baseline = self._median_of_others(date, lambda d: self._rate(d, entity_name))
        return _comparison(date, entity_name, baseline, self._rate(date, entity_name))

    def detect_funnel_break(self, date: str, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[dict[str, Any]]:
        self._require_date(date)
        limit = -BREAK_BASE * threshold_multiplier
        steps = []
        for step in FUNNEL_STEPS:
            c = self.compare_rate_to_median(date, step)
            c["broken"] = c["relative_change"] is not None and c["relative_change"] <= limit
            steps.append(c)
        return steps

    def _shares(self, date: str) -> list[float]:
        hours = self._hourly.get(date, {})
        counts = [hours.get(h, {}).get(HOURLY_ENTITY, 0) for h in range(24)]
        total = sum(counts)
        return [0.0] * 24 if total == 0 else [c / total for c in counts]

    def _mix_shifts(self) -> dict[str, tuple[float, float]]:
        """date -> (median shift of the other dates, this date's shift)."""
        if self._mix is None:
            shares = {d: self._shares(d) for d in self._dates}
            shift = {}
            for i, d in enumerate(self._dates):
                others = [shares[e] for e in self._dates[:i] + self._dates[i + 1 :]]
                profile = [statistics.median(s[h] for s in others) for h in range(24)]
                shift[d] = 0.5 * sum(abs(a - b) for a, b in zip(shares[d], profile, strict=True))
            self._mix = {d: (self._median_of_others(d, shift.__getitem__), shift[d]) for d in self._dates}
        return self._mix

    def compare_hourly_mix_to_median(self, date: str) -> dict[str, Any]:
        self._require_date(date)
        baseline, observed = self._mix_shifts()[date]
        return _comparison(date, HOURLY_ENTITY, baseline, observed)

    def check_impossible_counts(self, date: str | None = None) -> list[dict[str, Any]]:
        if date is not None:
            self._require_date(date)
        issues = []
        for d in self._dates if date is None else [date]:
            hours = self._hourly.get(d, {})
            for event in EVENTS:
                daily = self._daily[d][event]
                hourly_sum = sum(row[event] for row in hours.values())
                negative_hours = sorted(h for h, row in hours.items() if row[event] < 0)
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
    @staticmethod
    def _names(name: str | None, known: Iterable[str], kind: str) -> list[str]:
        if name is None:
            return list(known)
        if name not in known:
            raise ValueError(f"unknown {kind} {name!r}")
        return [name]

    def _threshold_rows(self, anomaly_type, compare, entities, limit, sign) -> list[dict[str, Any]]:
        rows = []
        for d in self._dates:
            for entity in entities:
                c = compare(d, entity)
                rc = c["relative_change"]
                if rc is not None and sign * rc >= limit:
                    rows.append(make_row(anomaly_type, c, abs(rc)))
        return sort_rows(rows)

    def get_rate_spike_from_median_rows(self, metric_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = self._names(metric_name, CONVERSION_METRICS, "conversion metric")
        return self._threshold_rows(
            "rate_spike_from_median", self.compare_rate_to_median, metrics, RATE_BASE * threshold_multiplier, 1
        )

    def get_rate_drop_from_median_rows(self, metric_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = self._names(metric_name, CONVERSION_METRICS, "conversion metric")
        return self._threshold_rows(
            "rate_drop_from_median", self.compare_rate_to_median, metrics, RATE_BASE * threshold_multiplier, -1
        )

    def get_absolute_spike_in_event_count_rows(self, event_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        events = self._names(event_name, EVENTS, "event")
        return self._threshold_rows(
            "absolute_spike_in_event_count", self.compare_count_to_median, events, COUNT_BASE * threshold_multiplier, 1
        )

    def get_absolute_drop_in_event_count_rows(self, event_name=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        events = self._names(event_name, EVENTS, "event")
        return self._threshold_rows(
            "absolute_drop_in_event_count", self.compare_count_to_median, events, COUNT_BASE * threshold_multiplier, -1
        )

    def get_funnel_break_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        return self._threshold_rows(
            "funnel_break", self.compare_rate_to_median, FUNNEL_STEPS, BREAK_BASE * threshold_multiplier, -1
        )

    def get_hourly_traffic_mix_shift_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        rows = []
        for d in self._dates:
            c = self.compare_hourly_mix_to_median(d)
            if c["delta_value"] >= MIX_BASE * threshold_multiplier:
                rows.append(make_row("hourly_traffic_mix_shift", c, abs(c["delta_value"])))
        return sort_rows(rows)

    def get_instrumentation_data_quality_issue_rows(self, threshold_multiplier=DEFAULT_MULTIPLIER):
        rows = []
        for issue in self.check_impossible_counts():
            c = _comparison(issue["date"], issue["event_name"], issue["daily_count"], issue["hourly_sum"])
            rc = c["relative_change"]
            rows.append(make_row("instrumentation_data_quality_issue", c, None if rc is None else abs(rc)))
        return sort_rows(rows)

    def get_median_filter_rows(self, metric_names=None, threshold_multiplier=DEFAULT_MULTIPLIER):
        metrics = list(CONVERSION_METRICS) if metric_names is None else list(metric_names)
        for name in metrics:
            if name not in CONVERSION_METRICS:
                raise ValueError(f"unknown conversion metric {name!r}")
        rows = []
        for name in metrics:
            rows += self.get_rate_spike_from_median_rows(name, threshold_multiplier)
            rows += self.get_rate_drop_from_median_rows(name, threshold_multiplier)
        return sort_rows(rows)

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

    # ---- checking a report -----------------------------------------------------------------
    def preview_submission(self, rows: list[Any]) -> dict[str, Any]:
        issues = []
        seen = set()
        for index, row in enumerate(rows):
            problem = self._row_problem(row)
            if problem is None:
                key = (row["date"], row["entity_name"])
                if key in seen:
                    problem = f"repeats {key}"
                seen.add(key)
            if problem is not None:
                issues.append({"index": index, "problem": problem})
        return {"row_count": len(rows), "valid_rows": len(rows) - len(issues), "issues": issues}

    def _row_problem(self, row: Any) -> str | None:
        if not isinstance(row, dict):
            return "not an object"
        missing = [k for k in ROW_KEYS if k not in row]
        if missing:
            return "missing " + ", ".join(missing)
        for key in ("date", "entity_type", "entity_name", "anomaly_type", "detection_method", "severity"):
            if not isinstance(row[key], str) or not row[key]:
                return f"{key} is not a non-empty string"
        for key in ("baseline_value", "observed_value", "delta_value"):
            if not _is_number(row[key]):
                return f"{key} is not a finite number"
        if row["date"] not in self._daily:
            return f"date {row['date']!r} is not in the data"
        if row["anomaly_type"] not in FAMILIES:
            return f"unknown anomaly_type {row['anomaly_type']!r}"
        if row["entity_type"] not in ENTITY_TYPES:
            return f"unknown entity_type {row['entity_type']!r}"
        if row["detection_method"] not in DETECTION_METHODS:
            return f"unknown detection_method {row['detection_method']!r}"
        if row["severity"] not in SEVERITIES:
            return f"unknown severity {row['severity']!r}"
        return None
