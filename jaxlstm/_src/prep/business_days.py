"""Time axes of business days: equities and indices, dated Monday to Friday.

Such data has five prices a week and none at the weekend, so its steps are one day long
or three (Friday to Monday). Its interval is ``k * BUSINESS_DAY`` (``BUSINESS_DAY`` is
the mean calendar span of a business day, 7/5 days = 33.6 hours, a span no series of
fixed steps has as its median step), and its steps are counted in business days, Monday
to Friday (numpy's ``busday`` functions): ``horizons.infer_interval`` gives it, a gap is a weekday
missing from the grid, forecast timestamps continue on weekdays (Friday, then Monday).

No exchange's holidays are known here. A step over at most ``HOLIDAYS`` missing weekdays
is taken for market holidays (Christmas, or Good Friday and Easter Monday) rather than a
gap: neither warned about nor filled, though the weekdays are counted (a seasonal position
after a holiday is the weekday's own). A longer run of missing weekdays is a gap, and
``fit(gaps="fill")`` then puts the series on the weekday grid, holidays included. A forecast
step may be dated on a future holiday.

A series is on the business-day grid when every timestamp falls on a weekday at the time
of day of the first, at most one a day, a day apart at the median, and a weekend lies
inside it (four days from Monday to Thursday could as well be daily data).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The mean calendar span of a business day (7 / 5 days): the interval of one business day a step.
BUSINESS_DAY = np.timedelta64(120_960, "s").astype("timedelta64[ns]")
_BUSINESS_DAY_NS = int(BUSINESS_DAY.astype(np.int64))
#: The most missing weekdays a step may skip without being a gap: market holidays (two in a row at Easter).
HOLIDAYS = 2
_DAY_NS = 86_400 * 10**9
# A Monday: business days are counted from it (any weekday would do; a Monday keeps the counts plain).
_EPOCH = np.datetime64("1970-01-05", "D")


def days_per_step(interval: Any) -> int | None:
    """``k`` when ``interval`` (a ``np.timedelta64``, or None) is ``k * BUSINESS_DAY`` (a business-day axis), else None.

    Five business days are a week (7 days exactly): ``k`` a multiple of 5 is a fixed span, weekly data.
    """
    if interval is None:
        return None
    ns = int(np.timedelta64(interval, "ns").astype(np.int64))
    k, rest = divmod(ns, _BUSINESS_DAY_NS)
    return k if ns > 0 and rest == 0 and k % 5 else None


def continues(spacing: Any, step: Any) -> bool:
    """Whether new data, inferred to be ``spacing`` apart, may continue a series ``step`` apart.

    Equal spacings, or daily data on a business-day axis: a few weekdays with no weekend
    between them (a week's update) look daily; the grid check that follows finds any weekend.
    """
    return bool(spacing == step) or (days_per_step(step) == 1 and spacing == np.timedelta64(1, "D"))


def _parts(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(date, time of day)`` of ``datetime64[ns]`` values."""
    days = stamps.astype("datetime64[D]")
    return days, stamps - days.astype("datetime64[ns]")


def day_numbers(stamps: np.ndarray) -> np.ndarray:
    """``[time]`` int64: business days since 1970-01-05 of each timestamp (whose differences count the steps of the grid).

    A weekend day counts as the Monday after it (it is off the grid: ``on_grid``).
    """
    days, _ = _parts(np.asarray(stamps, "datetime64[ns]"))
    return np.busday_count(_EPOCH, days).astype(np.int64)


def on_grid(stamps: np.ndarray, anchor: np.datetime64) -> np.ndarray:
    """``[time]`` bool: which timestamps fall on a weekday at the time of day of ``anchor``."""
    days, time = _parts(np.asarray(stamps, "datetime64[ns]"))
    _, anchor_time = _parts(np.asarray([anchor], "datetime64[ns]"))
    return np.is_busday(days) & (time == anchor_time[0])


def grid_step(stamps: np.ndarray) -> int | None:
    """1 when ``[time]`` increasing timestamps lie on the business-day grid (see the module), else None."""
    stamps = np.asarray(stamps, "datetime64[ns]")
    if stamps.shape[0] < 2 or not on_grid(stamps, stamps[0]).all():
        return None
    days, _ = _parts(stamps)
    calendar = np.diff(days).astype(np.int64)
    if (calendar < 1).any() or np.median(calendar) != 1:
        return None
    # A weekend inside: some step spans more calendar days than business days.
    return 1 if (calendar > np.diff(day_numbers(stamps))).any() else None


def step_days(anchor: Any, counts: Any) -> np.ndarray:
    """``[n]`` ``datetime64[ns]``: ``anchor`` moved by each of ``counts`` (int) business days, its time of day kept.

    An anchor at the weekend counts from the Monday after it.
    """
    days, time = _parts(np.asarray([anchor], "datetime64[ns]"))
    moved = np.busday_offset(days[0], np.asarray(counts, np.int64), roll="forward")
    return moved.astype("datetime64[ns]") + time[0]


def last_day(anchor: Any, count: int) -> np.datetime64:
    """The date ``count`` business days after ``anchor``, as ``datetime64[D]`` (which holds any year ``[ns]`` cannot)."""
    days, _ = _parts(np.asarray([anchor], "datetime64[ns]"))
    return np.busday_offset(days[0], count, roll="forward")
