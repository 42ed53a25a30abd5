"""Helpers of the metric_tracker tests: generated data and tolerant comparisons (trusted)."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from hypothesis import strategies as st
from metric_tracker_hidden import Analysis
from metric_tracker_hidden.analysis import EVENTS, ROW_KEYS, severity

from pytest_rlgrade import memo

COMPARISON_KEYS = {"date", "entity_name", "baseline_value", "observed_value", "delta_value", "relative_change"}
EPS = 1e-9  # a value this close to a threshold may fall on either side


def _split(total: int, rng: random.Random) -> list[int]:
    weights = [rng.random() + 0.05 for _ in range(24)]
    scale = sum(weights)
    raw = [max(total, 0) * w / scale for w in weights]
    parts = [int(x) for x in raw]
    for i in sorted(range(24), key=lambda i: raw[i] - parts[i], reverse=True)[: max(total, 0) - sum(parts)]:
        parts[i] += 1
    return parts


@memo  # deterministic: the rollouts of one seed draw the same recipes, so each is built once
def build_dataset(seed: int, n_dates: int, zeros: bool = False, corrupt: int = 0, gaps: int = 0):
    """Small arbitrary data (counts need not form a funnel): daily and hourly rows; ``gaps``
    hourly rows are left out (a missing hour counts 0)."""
    rng = random.Random(seed)
    start = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
    daily, hourly = [], []
    for i in range(n_dates):
        date = (start + dt.timedelta(days=i)).isoformat()
        counts = {e: rng.randint(1, 5000) for e in EVENTS}
        if zeros and rng.random() < 0.4:
            counts[rng.choice(EVENTS)] = 0
        daily.append({"date": date, **counts})
        split = {e: _split(c, rng) for e, c in counts.items()}
        for h in range(24):
            hourly.append({"date": date, "hour": h, **{e: split[e][h] for e in EVENTS}})
    for _ in range(corrupt):
        row = rng.choice(hourly)
        event = rng.choice(EVENTS)
        kind = rng.choice(("drop", "add", "negative", "negative_same_sum", "negative_daily"))
        if kind == "drop":
            row[event] = 0 if row[event] else 7
        elif kind == "add":
            row[event] += rng.randint(1, 500)
        elif kind == "negative":
            row[event] = -rng.randint(1, 50)
        elif kind == "negative_same_sum":  # the hours still add up to the day: only the sign is wrong
            other = next(r for r in hourly if r["date"] == row["date"] and r["hour"] == (row["hour"] + 1) % 24)
            moved = row[event] + rng.randint(1, 50)
            row[event] -= moved
            other[event] += moved
        else:
            day = next(r for r in daily if r["date"] == row["date"])
            day[event] = -day[event] - 1
    for _ in range(min(gaps, len(hourly) - 1)):
        hourly.pop(rng.randrange(len(hourly)))
    return daily, hourly


# What Hypothesis draws is the recipe, not the rows: a failing example then reads
# `spec={'seed': 3, 'n_dates': 4, ...}` instead of 30 kB of data; build it with build_dataset(**spec).
dataset_specs = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**32 - 1),
        "n_dates": st.integers(3, 12),
        "zeros": st.booleans(),
        "corrupt": st.integers(0, 3),
        "gaps": st.integers(0, 3),
    }
)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def close(got: Any, want: Any) -> bool:
    if want is None:
        return got is None
    return is_number(got) and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12)


def assert_comparison(got: Any, want: dict[str, Any]) -> None:
    assert isinstance(got, dict), f"expected a dict, got {type(got).__name__}"
    assert set(got) >= COMPARISON_KEYS, f"missing keys: {sorted(COMPARISON_KEYS - set(got))}"
    assert got["date"] == want["date"]
    assert got["entity_name"] == want["entity_name"]
    for key in ("baseline_value", "observed_value", "delta_value", "relative_change"):
        where = f"{key} of {want['date']} {want['entity_name']}"
        assert close(got[key], want[key]), f"{where}: {got[key]!r} != {want[key]!r}"


def allowed_severities(row: dict[str, Any]) -> set[str]:
    if row["entity_type"] == "hourly_mix":
        m = abs(row["delta_value"])
    elif row["baseline_value"] == 0:
        return {"critical"}
    else:
        m = abs(row["delta_value"] / row["baseline_value"])
    return {severity(m * (1 - EPS)), severity(m * (1 + EPS))}


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["date"], row["entity_name"], row["anomaly_type"])


def assert_rows(got: Any, sure: list[dict[str, Any]], possible: list[dict[str, Any]], severities: bool = False) -> None:
    """``got`` holds every row of ``sure``, only rows of ``possible``, with their values, sorted.

    Severities are checked only when asked (``test_mt_rules.py`` checks them on their own, so
    that one wrong severity rule costs that test, not every generator's)."""
    assert isinstance(got, list), f"expected a list of rows, got {type(got).__name__}"
    for row in got:
        assert isinstance(row, dict), f"a row must be a dict: {row!r}"
        assert set(row) == set(ROW_KEYS), f"a row must have exactly the keys {ROW_KEYS}: {row!r}"
    keys = [_key(r) for r in got]
    assert keys == sorted(keys), "rows must be sorted by (date, entity_name, anomaly_type)"
    assert len(set(keys)) == len(keys), "a row is repeated"
    allowed = {_key(r): r for r in possible}
    missing = [k for k in (_key(r) for r in sure) if k not in set(keys)]
    assert not missing, f"{len(missing)} expected rows missing, e.g. {missing[0]}"
    unexpected = [k for k in keys if k not in allowed]
    assert not unexpected, f"{len(unexpected)} unexpected rows, e.g. {unexpected[0]}"
    for row in got:
        want = allowed[_key(row)]
        for key in ("entity_type", "detection_method"):
            assert row[key] == want[key], f"{key} of {_key(row)}: {row[key]!r} != {want[key]!r}"
        for key in ("baseline_value", "observed_value", "delta_value"):
            assert close(row[key], want[key]), f"{key} of {_key(row)}: {row[key]!r} != {want[key]!r}"
        assert isinstance(row["severity"], str), f"severity of {_key(row)}: {row['severity']!r}"
        if severities:
            assert row["severity"] in allowed_severities(want), f"severity of {_key(row)}: {row['severity']!r}"


def oracle_rows(analysis: Analysis, method: str, multiplier: float, **kwargs):
    """(sure, possible) rows of a generator: with the threshold nudged up and down."""
    sure = getattr(analysis, method)(threshold_multiplier=multiplier * (1 + EPS), **kwargs)
    possible = getattr(analysis, method)(threshold_multiplier=multiplier * (1 - EPS), **kwargs)
    return sure, possible


CASES = (
    "gap",
    "no_traffic",
    "zero_denominator",
    "zero_baseline",
    "low",
    "medium",
    "high",
    "critical",
    "negative_hour",
    "negative_daily",
)


def edge_dataset(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Arbitrary data holding, by construction, every edge the prompt defines, on dates drawn from
    ``rng``: missing hours, a date without app_open traffic, a zero denominator, a data-quality
    issue on a zero daily count (zero baseline: critical), issues of each severity band (low,
    medium, high, critical by relative change), a negative hour that keeps the sum, a negative
    daily count. Returns (daily, hourly, {case: date, ...})."""
    daily, hourly = build_dataset(rng.randrange(2**32), rng.randint(11, 14))
    dates = [r["date"] for r in daily]
    cases = dict(zip(CASES, rng.sample(dates, len(CASES)), strict=True))
    day = {r["date"]: r for r in daily}
    hours = {(r["date"], r["hour"]): r for r in hourly}

    def set_day(date: str, event: str, total: int) -> None:  # daily count and its hours agree
        day[date][event] = total
        split = _split(total, rng)
        for h in range(24):
            hours[(date, h)][event] = split[h]

    set_day(cases["no_traffic"], "app_open", 0)
    set_day(cases["zero_denominator"], "add_to_cart", 0)
    event = rng.choice(EVENTS)
    set_day(cases["zero_baseline"], event, rng.randint(30, 400))
    day[cases["zero_baseline"]][event] = 0
    bands = {"low": (0.05, 0.25), "medium": (0.33, 0.46), "high": (0.55, 0.75), "critical": (0.85, 2.0)}
    for band, (low, high) in bands.items():
        event = rng.choice(EVENTS)
        date = cases[band]
        base = max(day[date][event], 200)
        set_day(date, event, base)
        hours[(date, rng.randrange(24))][event] += max(1, round(base * rng.uniform(low, high)))
    event = rng.choice(EVENTS)
    date = cases["negative_hour"]
    set_day(date, event, rng.randint(100, 900))
    first, second = rng.sample(range(24), 2)
    moved = hours[(date, first)][event] + rng.randint(1, 30)
    hours[(date, first)][event] -= moved
    hours[(date, second)][event] += moved
    event = rng.choice(EVENTS)
    day[cases["negative_daily"]][event] = -day[cases["negative_daily"]][event] - 1
    gone = rng.sample(range(24), rng.randint(1, 4))
    hourly = [r for r in hourly if not (r["date"] == cases["gap"] and r["hour"] in gone)]
    return daily, hourly, cases
