"""Time axes of calendar months: monthly, quarterly and yearly data, whose steps vary in length.

A month is 28 to 31 days, so data dated on the first (or the last) day of every month,
quarter or year has no fixed spacing in time. Its interval is ``k * MONTH`` (``k``
months a step; ``MONTH`` is the mean Gregorian month, 30.436875 days, a span no series of
fixed steps has as its median step), and its steps are counted in calendar months:
``horizons.infer_interval`` gives it, gaps are months missing from the grid, forecast timestamps
continue the grid (2025-02-01 after 2025-01-01, 2025-02-28 after 2025-01-31).

A series is on a month grid when every timestamp has the same time of day and either the
same day of the month (1 to 28) or the last day of its month. Which of the two a single
timestamp continues is read from it: the last day of a month continues as month ends (so
a series dated on the 28th that ends on 28 February continues as month ends: the one
ambiguity, and the reason days 29-31 are only month ends).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The mean Gregorian month (365.2425 / 12 days): the interval of one calendar month a step.
MONTH = np.timedelta64(2_629_746, "s").astype("timedelta64[ns]")
_MONTH_NS = int(MONTH.astype(np.int64))
#: The shortest month in nanoseconds: a median step below it is no month grid.
SHORTEST_MONTH_NS = 28 * 86_400 * 10**9
#: The latest day of the month a grid of fixed days may use (every month has it).
LAST_FIXED_DAY = 28


def months_per_step(interval: Any) -> int | None:
    """``k`` when ``interval`` (a ``np.timedelta64``, or None) is ``k * MONTH`` (a calendar-month axis), else None."""
    if interval is None:
        return None
    ns = int(np.timedelta64(interval, "ns").astype(np.int64))
    return ns // _MONTH_NS if ns > 0 and ns % _MONTH_NS == 0 else None


def _parts(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(month number, day of month 1-31, is the month's last day, time of day)`` of ``datetime64[ns]`` values."""
    months = stamps.astype("datetime64[M]")
    days = stamps.astype("datetime64[D]")
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    last_day = (months + 1).astype("datetime64[D]") - days == np.timedelta64(1, "D")
    return months.astype(np.int64), day, last_day, stamps - days.astype("datetime64[ns]")


def on_grid(stamps: np.ndarray, anchor: np.datetime64) -> np.ndarray:
    """``[time]`` bool: which timestamps fall on the month grid of ``anchor`` (its day or month end, its time of day)."""
    stamps = np.asarray(stamps, "datetime64[ns]")
    _, day, last_day, time = _parts(stamps)
    _, anchor_day, anchor_end, anchor_time = _parts(np.asarray([anchor], "datetime64[ns]"))
    same_day = last_day if anchor_end[0] else day == anchor_day[0]
    return same_day & (time == anchor_time[0])


def month_numbers(stamps: np.ndarray) -> np.ndarray:
    """``[time]`` int64: months since 1970-01 of each timestamp (whose differences count the steps of a month grid)."""
    return np.asarray(stamps, "datetime64[ns]").astype("datetime64[M]").astype(np.int64)


def grid_step(stamps: np.ndarray) -> int | None:
    """``k`` when ``[time]`` increasing timestamps lie on a grid of ``k`` calendar months (the median step), else None.

    Every timestamp must have the time of day of the first, and either all the same day
    of the month (at most ``LAST_FIXED_DAY``) or each the last day of its month; steps of
    less than a month, or two timestamps in one month, are not such a grid.
    """
    stamps = np.asarray(stamps, "datetime64[ns]")
    if stamps.shape[0] < 2:
        return None
    months, day, last_day, time = _parts(stamps)
    if not (time == time[0]).all():
        return None
    if not (last_day.all() or ((day == day[0]).all() and day[0] <= LAST_FIXED_DAY)):
        return None
    steps = np.diff(months)
    if (steps < 1).any():
        return None
    return int(np.median(steps))


def step_months(anchor: Any, months: Any) -> np.ndarray:
    """``[n]`` ``datetime64[ns]``: ``anchor`` moved by each of ``months`` (int) on its month grid.

    A month end stays a month end; another day keeps its day of the month; the time of day
    is kept.
    """
    anchors = np.asarray([anchor], "datetime64[ns]")
    base, day, last_day, time = _parts(anchors)
    target = (base[0] + np.asarray(months, np.int64)).astype("datetime64[M]")
    if last_day[0]:
        dates = (target + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
    else:
        dates = target.astype("datetime64[D]") + np.timedelta64(int(day[0]) - 1, "D")
    return dates.astype("datetime64[ns]") + time[0]
