"""Horizons and intervals as spans of time, and the time axis of a forecast.

A horizon such as ``"1d"`` is a span of wall-clock time; how many forecast steps it
takes depends on the spacing of the data: 24 steps on hourly data, 1 on daily data. Spans
are written as pandas writes them (``"2d"``, ``"36h"``, ``"90min"``, ``"1w"``, ``"1 days
12:00:00"``) or given as ``datetime.timedelta``, ``pandas.Timedelta`` or ``np.timedelta64``.
"""

from __future__ import annotations

import datetime
import re
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import business_days, months

#: Common named horizons and their length in hours (any span is accepted, see ``as_interval``).
HORIZON_HOURS: Mapping[str, int] = types.MappingProxyType({"1h": 1, "4h": 4, "1d": 24, "7d": 168})

_NS_PER_UNIT: Mapping[str, int] = types.MappingProxyType(
    {
        "w": 7 * 86_400 * 10**9,
        "week": 7 * 86_400 * 10**9,
        "d": 86_400 * 10**9,
        "day": 86_400 * 10**9,
        "h": 3_600 * 10**9,
        "hr": 3_600 * 10**9,
        "hour": 3_600 * 10**9,
        "m": 60 * 10**9,
        "min": 60 * 10**9,
        "minute": 60 * 10**9,
        "s": 10**9,
        "sec": 10**9,
        "second": 10**9,
        "ms": 10**6,
        "us": 10**3,
        "ns": 1,
    }
)
# Months, quarters and years are whole steps of the calendar-month axis (``prep.months``: ``k * MONTH``
# for data dated on a month grid); "1M" reads as a minute to some and a month to others.
_MONTHS_PER_UNIT: Mapping[str, int] = types.MappingProxyType(
    {"mo": 1, "month": 1, "q": 3, "qtr": 3, "quarter": 3, "y": 12, "yr": 12, "year": 12}
)
# Business days are whole steps of the business-day axis (``prep.business_days``: ``k * BUSINESS_DAY``).
_BUSINESS_UNITS = ("b", "bday")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]+)")

# numpy's units of datetime64/timedelta64 as (multiplier, divisor) of a nanosecond count;
# Y and M are calendar units and are handled apart.
_NUMPY_UNIT_NS: Mapping[str, tuple[int, int]] = types.MappingProxyType(
    {
        "W": (7 * 86_400 * 10**9, 1),
        "D": (86_400 * 10**9, 1),
        "h": (3_600 * 10**9, 1),
        "m": (60 * 10**9, 1),
        "s": (10**9, 1),
        "ms": (10**6, 1),
        "us": (10**3, 1),
        "ns": (1, 1),
        "ps": (1, 10**3),
        "fs": (1, 10**6),
        "as": (1, 10**9),
    }
)
_INT64_MAX = int(np.iinfo(np.int64).max)
#: The first and the last time ``datetime64[ns]`` can hold (1677-09-21 and 2262-04-11).
FIRST_TIME = np.datetime64(-_INT64_MAX, "ns")
LAST_TIME = np.datetime64(_INT64_MAX, "ns")
#: The longest span ``timedelta64[ns]`` can hold (about 292 years).
LONGEST_SPAN = np.timedelta64(_INT64_MAX, "ns")


def format_moment(value: np.datetime64) -> str:
    """A timestamp for messages: ``2019-10-16 09:00:00`` (sub-second digits only when there are some)."""
    text = str(np.datetime_as_string(np.asarray(value, "datetime64[ns]"), unit="ns")).replace("T", " ")
    return text.rstrip("0").rstrip(".") if "." in text else text


def outside_ns_range(times: np.ndarray) -> np.ndarray:
    """``[...]`` bool: which ``datetime64`` values (of any unit) ``datetime64[ns]`` cannot hold.

    numpy's own cast wraps a time past 2262-04-11 (or before 1677-09-21) around silently, so
    a series indexed in seconds from the year 3000 would become one from 1829: check first.
    """
    times = np.asarray(times)
    unit, count = np.datetime_data(times.dtype)
    if unit in ("Y", "M"):  # calendar units have no fixed length: seconds hold any year up to 10^11
        times = times.astype("datetime64[s]")
        unit, count = "s", 1
    multiplier, divisor = _NUMPY_UNIT_NS[unit]
    if divisor != 1:  # finer than nanoseconds: every value fits
        return np.zeros(times.shape, bool)
    # Compared as counts of the coarser unit: a cast to [ns] (or a comparison with a [ns]
    # bound, which casts first) would wrap before anything could be checked.
    bound = _INT64_MAX // (multiplier * count)
    counts = times.view(np.int64)
    return ~np.isnat(times) & ((counts < -bound) | (counts > bound))


def without_zone(stamps: Any) -> Any:
    """A zone-aware pandas ``DatetimeIndex`` (or datetime Series) as naive times: midnights as dates, the rest in UTC.

    Prices dated by day in a zone (yfinance's daily bars, ``date_range(..., tz=...)``) are
    dated at local midnight: in UTC they are 23 or 25 hours apart where the zone keeps
    summer time, and east of Greenwich each falls on the day before (a Monday's close on
    a Sunday). When every time is a local midnight they are read as their dates; any other
    times are instants, read in UTC. Naive input is returned as it is.
    """
    series = hasattr(stamps, "dt")
    zone = stamps.dt.tz if series else stamps.tz
    if zone is None:
        return stamps
    local = stamps.dt.tz_localize(None) if series else stamps.tz_localize(None)
    dates = local.dt.normalize() if series else local.normalize()
    if bool((local == dates).all()):
        return local
    return stamps.dt.tz_convert(None) if series else stamps.tz_convert(None)


def infer_interval(timestamps: Any) -> np.timedelta64:
    """The median of the positive steps between ``[time]`` datetime64 values (any order, NaT ignored).

    Dates on a grid of calendar months (``months.grid_step``) give ``k * months.MONTH``:
    their steps are ``k`` months of 28 to 31 days each, not a fixed span. Weekday dates a day
    apart with weekends between them (``business_days.grid_step``) give
    ``business_days.BUSINESS_DAY``: their steps are business days.

    Returns:
        ``np.timedelta64`` in ns; one hour when there are fewer than two distinct times.

    Raises:
        TypeError: values that are not datetimes.
        ValueError: not 1-D.
    """
    default = np.timedelta64(1, "h").astype("timedelta64[ns]")
    if timestamps is None:
        return default
    if hasattr(timestamps, "tz"):  # a pandas DatetimeIndex
        timestamps = without_zone(timestamps)
    arr = np.asarray(timestamps)
    if arr.dtype.kind in "biufcm":
        raise TypeError(f"timestamps must be datetime64 values, got an array of dtype {arr.dtype}")
    try:
        arr = arr.astype("datetime64[ns]")
    except (TypeError, ValueError) as err:
        raise TypeError(f"timestamps must be datetime64 values, got dtype {arr.dtype}: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"timestamps must be 1-D [time], got shape {arr.shape}")
    unique = np.unique(arr[~np.isnat(arr)].astype(np.int64))  # int64: numpy sorts datetime64 far slower
    steps = np.diff(unique)
    if steps.size == 0:
        return default
    median = float(np.median(steps))
    # Monthly, quarterly, yearly dates: steps of calendar months (checked only where steps are that long).
    if median >= months.SHORTEST_MONTH_NS and (each := months.grid_step(unique.view("datetime64[ns]"))) is not None:
        return each * months.MONTH
    # Weekday dates a day apart with weekends between: steps of business days.
    if median == 86_400e9 and business_days.grid_step(unique.view("datetime64[ns]")) is not None:
        return business_days.BUSINESS_DAY
    return np.timedelta64(round(median), "ns")


def as_datetime64_ns(times: np.ndarray, name: str) -> np.ndarray:
    """``datetime64`` values of any unit as ``datetime64[ns]``, refusing those it cannot hold.

    Args:
        times: ``[...]`` ``datetime64`` values (NaT passes through).
        name: the argument's name, for the message.

    Returns:
        ``[...]`` ``datetime64[ns]``.

    Raises:
        ValueError: a time outside ``FIRST_TIME .. LAST_TIME`` (see ``outside_ns_range``).
    """
    times = np.asarray(times)
    outside = outside_ns_range(times)
    if outside.any():
        raise ValueError(f"{name} must lie between {FIRST_TIME} and {LAST_TIME}, got {times[outside].flat[0]}")
    return times.astype("datetime64[ns]")


def _numpy_ns(value: np.datetime64 | np.timedelta64) -> int:
    """A numpy time or span as an exact, unbounded count of nanoseconds (since 1970 for a time)."""
    unit, count = np.datetime_data(value.dtype)
    if unit in ("Y", "M"):  # calendar units: only a point in time has a length in days for them
        value = value.astype("datetime64[s]")
        unit, count = "s", 1
    multiplier, divisor = _NUMPY_UNIT_NS[unit]
    return int(value.astype(np.int64)) * count * multiplier // divisor


def _span_ns(span: Any, name: str) -> int:
    """``span`` as an exact count of nanoseconds, a Python int that may exceed int64; TypeError if not a span."""
    if isinstance(span, str):
        return _parse_span(span, name)
    if hasattr(span, "to_timedelta64"):  # pandas.Timedelta, in whichever unit it holds
        span = span.to_timedelta64()
    if isinstance(span, np.timedelta64):
        unit = np.datetime_data(span.dtype)[0]
        if np.isnat(span):
            raise ValueError(f"{name} must be a positive span of time, got {span!r}")
        if unit in ("Y", "M"):  # whole calendar months, as "3mo" and "1y" read
            count = int(span.astype(np.int64)) * (12 if unit == "Y" else 1) * np.datetime_data(span.dtype)[1]
            return count * int(months.MONTH.astype(np.int64))
        if unit == "generic":
            raise TypeError(f"{name} must be a span of time with a unit such as np.timedelta64(1, 'h'), got {span!r}")
        return _numpy_ns(span)
    if isinstance(span, datetime.timedelta):
        return ((span.days * 86_400 + span.seconds) * 10**6 + span.microseconds) * 10**3
    raise TypeError(
        f"{name} must be a span of time such as '1h' or '1d', a np.timedelta64, datetime.timedelta "
        f"or pandas.Timedelta, got {type(span).__name__} {span!r}"
    )


def span_nanoseconds(span: Any, *, name: str = "span") -> int:
    """A positive span of time as an exact count of nanoseconds, however long.

    Unlike ``as_interval`` the count may exceed what ``timedelta64[ns]`` holds (106,751
    days), so that a horizon of any length can be counted in steps.

    Args:
        span: as ``as_interval`` accepts.
        name: argument name used in error messages.

    Returns:
        The span in nanoseconds, a Python int > 0.

    Raises:
        TypeError: a number or another type.
        ValueError: text that is not a span, or a span <= 0.
    """
    ns = _span_ns(span, name)
    if ns <= 0:
        raise ValueError(f"{name} must be a positive span of time, got {span!r}")
    return ns


def _unit_key(unit: str) -> str:
    """A unit as ``_NS_PER_UNIT`` and ``_MONTHS_PER_UNIT`` spell it: lower case, singular ("M" kept)."""
    key = unit if unit == "M" else unit.lower()
    key = key[:-1] if len(key) > 3 and key.endswith("s") else key  # "hours" -> "hour"
    return {"mins": "min", "secs": "sec", "hrs": "hr", "yrs": "yr"}.get(key, key)


def _business_text(text: str) -> str:
    """``text`` stripped, "business day(s)" written as the unit ``bday`` (so ``format_interval``'s form reads back)."""
    return re.sub(r"(?i)business[\s_-]*day", "bday", text.strip())


def _parse_span(text: str, name: str) -> int:
    """A span written as text: ``"90min"``, ``"36h"``, ``"1d12h"``, ``"2 weeks"``, or pandas' forms (``"P1D"``)."""
    hint = f"{name} must be a span of time with a unit such as '90min', '36h', '2d', '1w' or '3mo'"
    stripped = _business_text(text)
    tokens = _TOKEN.findall(stripped)
    if tokens and "".join(f"{n}{u}" for n, u in tokens) == re.sub(r"\s+", "", stripped):
        total = 0
        calendar = [unit for _, unit in tokens if _unit_key(unit) in _MONTHS_PER_UNIT]
        if calendar:
            # Whole calendar months: the step of a month axis, which no fixed span continues.
            if len(tokens) > 1 or "." in tokens[0][0]:
                raise ValueError(
                    f"{name} in months, quarters or years must be a whole number of one unit ('3mo', '2q', '1y'), got {text!r}"
                )
            count = int(tokens[0][0]) * _MONTHS_PER_UNIT[_unit_key(calendar[0])]
            return count * int(months.MONTH.astype(np.int64))
        if any(_unit_key(unit) in _BUSINESS_UNITS for _, unit in tokens):
            # Whole business days: the step of a business-day axis, which no fixed span continues either.
            if len(tokens) > 1 or "." in tokens[0][0]:
                raise ValueError(
                    f"{name} in business days must be a whole number of one unit ('1b', '5 business days'), "
                    f"got {text!r}"
                )
            return int(tokens[0][0]) * int(business_days.BUSINESS_DAY.astype(np.int64))
        for number, unit in tokens:
            key = _unit_key(unit)
            if key == "M":
                raise ValueError(
                    f"{hint}, got {text!r} ('M' is a minute to some and a month to others: write 'min' or 'mo')"
                )
            if key not in _NS_PER_UNIT:
                raise ValueError(f"{hint}, got {text!r} (unknown unit {unit!r})")
            whole, _, fraction = number.partition(".")
            scale = 10 ** len(fraction)
            total += (int(whole) * scale + int(fraction or 0)) * _NS_PER_UNIT[key] // scale
        return total
    if not re.search(r"[A-Za-z:]", stripped):
        raise ValueError(f"{hint}, got {text!r}")
    import pandas as pd  # a dependency; imported here so that importing jaxlstm stays light

    try:
        # ISO 8601 ("P1DT12H") and pandas' own "1 days 12:00:00".
        span = pd.Timedelta(stripped)
    except (ValueError, OverflowError):
        raise ValueError(f"{hint}, got {text!r}") from None
    return _span_ns(span, name)


def as_interval(interval: Any, *, name: str = "interval") -> np.timedelta64:
    """Converts a positive span of time to ``np.timedelta64`` in nanoseconds.

    Args:
        interval: text such as ``"1h"``, ``"1d"``, ``"90min"``, ``"36h"``, ``"1w"``,
            ``"1d12h"`` or ``"2 weeks"`` (units w, d, h, min or m, s, ms, us, ns; a unit is
            required; ISO 8601 and pandas' ``"1 days 12:00:00"`` also work), whole calendar
            months, quarters or years (``"1mo"``, ``"3 months"``, ``"2q"``, ``"1y"``: ``k * prep.months.MONTH``,
            the step of data dated on a month grid, so ``format_interval``'s ``"1 month"``
            reads back; ``"M"`` is refused as ambiguous), or a ``np.timedelta64``,
            ``datetime.timedelta`` or ``pandas.Timedelta``; > 0.
        name: argument name used in error messages.

    Returns:
        The span as ``np.timedelta64[ns]``.

    Raises:
        TypeError: a number or another type (a bare number has no unit).
        ValueError: text that is not a span, a span <= 0, or one longer than ``LONGEST_SPAN``
            (106,751 days, what a nanosecond count holds).
    """
    ns = span_nanoseconds(interval, name=name)
    if ns > _INT64_MAX:
        raise ValueError(
            f"{name} must be at most {_INT64_MAX // (86_400 * 10**9):,} days (the longest span "
            f"timedelta64[ns] holds), got {interval!r}"
        )
    return np.timedelta64(ns, "ns")


_UNITS = (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3))


def format_interval(interval: Any) -> str:
    """A time step as a short string in its largest whole unit: ``"1h"``, ``"15min"``, ``"1d"``, ``"250ms"``.

    Args:
        interval: a positive step (see ``as_interval``).

    Returns:
        ``"<n><unit>"`` with unit ``d``, ``h``, ``min``, ``s``, ``ms``, ``us`` or ``ns``;
        ``"1 month"``, ``"3 months"`` for a calendar-month axis (``prep.months``),
        ``"1 business day"`` for a business-day axis (``prep.business_days``).
    """
    ns = int(as_interval(interval).astype(np.int64))
    if (k := months.months_per_step(np.timedelta64(ns, "ns"))) is not None:
        return "1 month" if k == 1 else f"{k} months"
    if (k := business_days.days_per_step(np.timedelta64(ns, "ns"))) is not None:
        return "1 business day" if k == 1 else f"{k} business days"
    for unit, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def horizon_nanoseconds(horizon: Any) -> int:
    """A forecast horizon's span in nanoseconds: its form checked before any data's spacing is read.

    Raises:
        TypeError: a number (a number of steps goes to ``steps=``) or another type.
        ValueError: text that is not a span of time, or a span <= 0.
    """
    if isinstance(horizon, (int, float, np.number)) and not isinstance(horizon, (bool, np.timedelta64)):
        raise TypeError(f"horizon must be a span of time such as '1d'; for {horizon!r} steps pass steps={horizon!r}")
    return span_nanoseconds(horizon, name="horizon")


def horizon_to_steps(horizon: Any, interval: Any) -> int:
    """Number of forecast steps of length ``interval`` that make up ``horizon``.

    ``"1d"`` is 24 steps of hourly data and 1 step of daily data; ``"90min"`` is 6 steps
    of 15-minute data. A horizon that is not a whole number of steps (``"1h"`` of daily
    data, ``"90min"`` of hourly data) is an error rather than silently rounded. On
    business-day data (``prep.business_days``) a horizon counts business days: ``"1d"`` is
    one step, ``"7d"`` seven and ``"1w"`` five (a week of trading).

    Args:
        horizon: a span of time (see ``as_interval``): ``"1h"``, ``"36h"``, ``"2d"``,
            ``"90min"``, a ``datetime.timedelta``, ``pandas.Timedelta`` or ``np.timedelta64``.
        interval: spacing of the data (see ``as_interval``).

    Returns:
        ``horizon / interval``, a whole number >= 1.

    Raises:
        TypeError: a horizon that is not a span of time (a number of steps goes to ``steps=``).
        ValueError: a horizon that is not a positive whole number of steps, or more than
            ``validation.MAX_STEPS`` steps (however long: spans past what ``timedelta64[ns]``
            holds are counted exactly, not overflowed).
    """
    span_ns = horizon_nanoseconds(horizon)
    step_ns = int(as_interval(interval).astype(np.int64))
    if (k := business_days.days_per_step(np.timedelta64(step_ns, "ns"))) is not None:
        return _business_steps(horizon, span_ns, interval, k)
    # Integer nanoseconds: float division can land a hair off a whole number.
    steps, rest = divmod(span_ns, step_ns)
    check_horizon_steps(horizon, interval, steps)
    if rest or steps < 1:
        spacing = format_interval(step_ns * np.timedelta64(1, "ns"))
        raise ValueError(
            f"horizon {horizon!r} is {span_ns / step_ns:.4g} steps of the data's interval {spacing}, "
            f"not a whole number: choose a multiple of {spacing} (or give a number of steps)"
        )
    return steps


def _business_steps(horizon: Any, span_ns: int, interval: Any, per_step: int) -> int:
    """``horizon_to_steps`` on a business-day axis: a day of the horizon is a business day, a week written as one is five.

    Text counts its units (``"1d"`` 1, ``"7d"`` 7, ``"1w"`` 5, ``"5b"`` 5); a span object
    (or text such as ``"P1D"``) counts its whole days, else its whole business days.
    """
    tokens = _TOKEN.findall(_business_text(horizon)) if isinstance(horizon, str) else []
    keys = [_unit_key(unit) for _, unit in tokens]
    days: int | None = None
    if tokens and all(key in ("w", "week", "d", "day", *_BUSINESS_UNITS) for key in keys):
        if all("." not in number for number, _ in tokens):
            days = sum(int(n) * (5 if key in ("w", "week") else 1) for (n, _), key in zip(tokens, keys, strict=True))
    elif span_ns % (86_400 * 10**9) == 0:
        days = span_ns // (86_400 * 10**9)
    elif span_ns % int(business_days.BUSINESS_DAY.astype(np.int64)) == 0:
        days = span_ns // int(business_days.BUSINESS_DAY.astype(np.int64))
    steps, rest = divmod(days or 0, per_step)
    if days is None or rest or steps < 1:
        raise ValueError(
            f"horizon {horizon!r} is not a whole number of steps of the data's interval {format_interval(interval)}: "
            "on business-day data a horizon counts business days ('1d' is the next one, '7d' seven, '5b' five) "
            "and weeks ('1w' is five business days), or give a number of steps"
        )
    return check_horizon_steps(horizon, interval, steps)


def check_horizon_steps(horizon: Any, interval: Any, steps: int) -> int:
    """``steps``, the horizon in steps of ``interval``, if at most ``validation.MAX_STEPS``; else ValueError.

    Data spaced a microsecond apart makes ``"1h"`` 3.6e9 steps, which would overflow
    ``lax.scan``; the message names the horizon and the data's spacing.
    """
    if steps > validation.MAX_STEPS:
        raise ValueError(
            f"horizon {horizon!r} is {steps:,} steps of the data's interval {format_interval(interval)}, "
            f"more than the {validation.MAX_STEPS:,} "
            "steps a forecast may have: choose a shorter horizon or resample the data"
        )
    return steps


class CalendarAxis(NamedTuple):
    """A time axis whose steps are whole calendar units of unequal length: months or business days.

    Attributes:
        units: calendar units a step (``k`` of ``k * MONTH`` or ``k * BUSINESS_DAY``).
        numbers: ``[time]`` timestamps -> ``[time]`` int64 unit numbers, whose differences count units.
        on_grid: ``([time] timestamps, anchor)`` -> ``[time]`` bool: which lie on the anchor's grid.
        moved: ``(anchor, [n] int counts)`` -> ``[n]`` ``datetime64[ns]``: the anchor moved by whole units.
        first_day: ``(anchor, count)`` -> ``datetime64[D]``: the day (the month's first, for months)
            ``count`` units after the anchor, in a unit that holds any year ``[ns]`` cannot.
        holidays: units a step may skip without being a gap (business days: market holidays).
    """

    units: int
    numbers: Callable[[np.ndarray], np.ndarray]
    on_grid: Callable[[np.ndarray, np.datetime64], np.ndarray]
    moved: Callable[[Any, Any], np.ndarray]
    first_day: Callable[[Any, int], np.datetime64]
    holidays: int = 0


def _month_first_day(anchor: Any, count: int) -> np.datetime64:
    return np.datetime64(int(months.month_numbers(np.asarray([anchor]))[0]) + count, "M").astype("datetime64[D]")


def calendar_axis(interval: Any) -> CalendarAxis | None:
    """The calendar axis of ``interval`` (``k * MONTH``: ``prep.months``; ``k * BUSINESS_DAY``: ``prep.business_days``), else None."""
    if interval is None:
        return None
    step = as_interval(interval)
    if (k := months.months_per_step(step)) is not None:
        return CalendarAxis(k, months.month_numbers, months.on_grid, months.step_months, _month_first_day)
    if (k := business_days.days_per_step(step)) is not None:
        return CalendarAxis(
            k,
            business_days.day_numbers,
            business_days.on_grid,
            business_days.step_days,
            business_days.last_day,
            business_days.HOLIDAYS,
        )
    return None


def past_timestamps(last_timestamp: np.datetime64, interval: Any, count: int) -> np.ndarray:
    """``[count]`` ``datetime64[ns]``: ``last_timestamp`` and the grid's times before it, newest first (``k * interval`` back)."""
    step = as_interval(interval)
    last = np.asarray(last_timestamp, "datetime64[ns]")
    if (axis := calendar_axis(step)) is not None:
        return axis.moved(last, -axis.units * np.arange(count))
    return last - np.arange(count) * step


def future_timestamps(last_timestamp: Any, interval: Any, steps: int) -> np.ndarray:
    """Timestamps of the ``steps`` points that follow ``last_timestamp``.

    Data without timestamps has no future timestamps (a ``Forecast`` of it has
    ``timestamps=None``); nothing is invented here.

    Args:
        last_timestamp: time of the last observed point (anything ``np.datetime64``
            reads, e.g. a ``pandas.Timestamp``).
        interval: spacing of the data (see ``as_interval``).
        steps: number of future points, >= 1.

    Returns:
        ``[steps]`` ``datetime64[ns]``: ``last_timestamp + k * interval`` for ``k = 1..steps``
        (on a calendar-month axis, ``k`` steps of months on the last date's grid: ``prep.months``;
        on a business-day axis, ``k`` business days: ``prep.business_days``).

    Raises:
        ValueError: ``last_timestamp`` is NaT or outside ``FIRST_TIME .. LAST_TIME``, or the
            last future point would fall after ``LAST_TIME`` (2262-04-11T23:47:16), where
            ``datetime64[ns]`` wraps around to 1677; the message names the last timestamp,
            the horizon and the limit.
    """
    steps = validation.check_steps(steps)
    step = as_interval(interval)
    if last_timestamp is None:
        raise TypeError("last_timestamp must be a datetime: data without timestamps has no future timestamps")
    try:
        # In its own unit first: converting a time past 2262 to nanoseconds wraps silently.
        last = np.datetime64(last_timestamp)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"last_timestamp must be a datetime (np.datetime64, pandas.Timestamp, ISO string), "
            f"got {type(last_timestamp).__name__} {last_timestamp!r}: {err}"
        ) from None
    if np.isnat(last):
        raise ValueError("last_timestamp must be a valid time, got NaT")
    last_ns = _numpy_ns(last)
    if not -_INT64_MAX <= last_ns <= _INT64_MAX:
        side, limit = ("after", f"{LAST_TIME}, the last") if last_ns > 0 else ("before", f"{FIRST_TIME}, the first")
        raise ValueError(f"last_timestamp {last} is {side} {limit} time datetime64[ns] holds")
    step_ns = int(step.astype(np.int64))
    if (axis := calendar_axis(step)) is not None:
        # Calendar months or business days: the grid of the last date (its day, or month ends) continues.
        anchor = np.datetime64(last_ns, "ns")
        if axis.first_day(anchor, axis.units * steps) >= LAST_TIME.astype("datetime64[M]").astype("datetime64[D]"):
            raise ValueError(
                f"the last timestamp {last} plus a horizon of {steps:,} steps of {format_interval(step)} is after "
                f"{LAST_TIME}, the last time datetime64[ns] holds (later times would wrap around to 1677)"
            )
        return axis.moved(anchor, axis.units * np.arange(1, steps + 1))
    if last_ns + steps * step_ns > _INT64_MAX:
        fits = (_INT64_MAX - last_ns) // step_ns
        raise ValueError(
            f"the last timestamp {last} plus a horizon of {steps:,} steps of {format_interval(step)} is after "
            f"{LAST_TIME}, the last time datetime64[ns] holds (later times would wrap around to 1677): "
            f"forecast at most {fits:,} steps"
        )
    return np.datetime64(last_ns, "ns") + step * np.arange(1, steps + 1)
