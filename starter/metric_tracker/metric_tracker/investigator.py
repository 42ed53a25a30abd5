"""Read-only analysis of daily and hourly product-funnel aggregates.

See the task statement for what every method returns. Values cross as plain data: dicts, lists,
str, int, float, bool and None.
"""

from __future__ import annotations

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
DEFAULT_MULTIPLIER = 2.0


class Investigator:
    """The analysis surface over one dataset: ``Investigator(daily_rows, hourly_rows)``."""

    def __init__(self, daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]]):
        self.daily_rows = daily_rows
        self.hourly_rows = hourly_rows

    # ---- look-ups -------------------------------------------------------------------------
    def list_dates(self) -> list[str]:
        raise NotImplementedError("TODO: the dataset's dates, sorted")

    def list_entities(self) -> dict[str, list[str]]:
        raise NotImplementedError("TODO: events, conversion_metrics, funnel_steps")

    def rows_for_date(self, date: str) -> dict[str, Any]:
        raise NotImplementedError("TODO")

    def hourly_rows_for_date(self, date: str) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    # ---- comparisons ----------------------------------------------------------------------
    def compare_count_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        raise NotImplementedError("TODO: an event's count against the median of the other dates")

    def compare_rate_to_median(self, date: str, entity_name: str) -> dict[str, Any]:
        raise NotImplementedError("TODO: a conversion rate against the median of the other dates")

    def compare_hourly_mix_to_median(self, date: str) -> dict[str, Any]:
        raise NotImplementedError("TODO: the hourly traffic mix shift against the median shift")

    def detect_funnel_break(self, date: str, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO: every funnel step of the date, with `broken`")

    def check_impossible_counts(self, date: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO: hourly counts that do not add up, negative counts")

    def list_suspicious_dates(self, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[str]:
        raise NotImplementedError("TODO")

    # ---- per-family row generators ---------------------------------------------------------
    def get_median_filter_rows(
        self, metric_names: list[str] | None = None, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_rate_spike_from_median_rows(
        self, metric_name: str | None = None, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_rate_drop_from_median_rows(
        self, metric_name: str | None = None, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_absolute_spike_in_event_count_rows(
        self, event_name: str | None = None, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_absolute_drop_in_event_count_rows(
        self, event_name: str | None = None, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_funnel_break_rows(self, threshold_multiplier: float = DEFAULT_MULTIPLIER) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_hourly_traffic_mix_shift_rows(
        self, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    def get_instrumentation_data_quality_issue_rows(
        self, threshold_multiplier: float = DEFAULT_MULTIPLIER
    ) -> list[dict[str, Any]]:
        raise NotImplementedError("TODO")

    # ---- checking a report -----------------------------------------------------------------
    def preview_submission(self, rows: list[Any]) -> dict[str, Any]:
        raise NotImplementedError("TODO")
