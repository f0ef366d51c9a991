"""Dates as int64 day numbers (days since 1970-01-01): cheap arithmetic, vectorised ISO formatting."""

from __future__ import annotations

import datetime as dt

import numpy as np

_UNIX = dt.date(1970, 1, 1)


def day(d: dt.date) -> int:
    return (d - _UNIX).days


def to_date(n: int) -> dt.date:
    return _UNIX + dt.timedelta(days=int(n))


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d64 = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    months = d64.astype("datetime64[M]")
    y = months.astype(np.int64) // 12 + 1970
    m = months.astype(np.int64) % 12 + 1
    dd = (d64 - months.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, dd


def from_ymd(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Day numbers from year, month, day (day clipped to the month's length, so Feb 29 -> Feb 28)."""
    y = np.asarray(y, dtype=np.int64)
    m = np.asarray(m, dtype=np.int64)
    first = ((y - 1970) * 12 + (m - 1)).astype("datetime64[M]")
    nxt = first + np.timedelta64(1, "M")
    length = (nxt.astype("datetime64[D]") - first.astype("datetime64[D]")).astype(np.int64)
    return first.astype("datetime64[D]").astype(np.int64) + np.minimum(np.asarray(d, dtype=np.int64), length) - 1


def age_years(dob: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whole years from dob to at, as PostgreSQL's extract(year from age(at, dob))."""
    y1, m1, d1 = ymd(dob)
    y2, m2, d2 = ymd(at)
    before = (m2 < m1) | ((m2 == m1) & (d2 < d1))
    return y2 - y1 - before.astype(np.int64)


def add_years(days: np.ndarray, years: np.ndarray | int) -> np.ndarray:
    y, m, d = ymd(days)
    return from_ymd(y + years, m, d)


def iso(days: np.ndarray) -> np.ndarray:
    """ISO YYYY-MM-DD strings (object array)."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D").astype(object)
