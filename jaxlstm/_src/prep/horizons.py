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
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlstm._src import validation

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
# Months and years have no fixed length, and "1M" reads as a minute to some and a month to others.
_CALENDAR = ("M", "mo", "month", "y", "year")
_TOKEN = re.compile(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]+)")


def _parse_span(text: str, name: str) -> np.timedelta64:
    """A span written as text: ``"90min"``, ``"36h"``, ``"1d12h"``, ``"2 weeks"``, or pandas' forms (``"P1D"``)."""
    hint = f"{name} must be a span of time with a unit such as '90min', '36h', '2d' or '1w'"
    stripped = text.strip()
    tokens = _TOKEN.findall(stripped)
    if tokens and "".join(f"{n}{u}" for n, u in tokens) == re.sub(r"\s+", "", stripped):
        total = 0
        for number, unit in tokens:
            key = unit if unit == "M" else unit.lower()
            key = key[:-1] if len(key) > 3 and key.endswith("s") else key  # "hours" -> "hour"
            key = {"mins": "min", "secs": "sec", "hrs": "hr"}.get(key, key)
            if key in _CALENDAR:
                raise ValueError(f"{hint} (months and years have no fixed length), got {text!r}")
            if key not in _NS_PER_UNIT:
                raise ValueError(f"{hint}, got {text!r} (unknown unit {unit!r})")
            whole, _, fraction = number.partition(".")
            scale = 10 ** len(fraction)
            total += (int(whole) * scale + int(fraction or 0)) * _NS_PER_UNIT[key] // scale
        return np.timedelta64(total, "ns")
    if not re.search(r"[A-Za-z:]", stripped):
        raise ValueError(f"{hint}, got {text!r}")
    import pandas as pd  # a dependency; imported here so that importing jaxlstm stays light

    try:
        # ISO 8601 ("P1DT12H") and pandas' own "1 days 12:00:00".
        span = pd.Timedelta(stripped)
    except ValueError:
        raise ValueError(f"{hint}, got {text!r}") from None
    return np.timedelta64(span.value, "ns")


def as_interval(interval: Any, *, name: str = "interval") -> np.timedelta64:
    """Converts a positive span of time to ``np.timedelta64`` in nanoseconds.

    Args:
        interval: text such as ``"1h"``, ``"1d"``, ``"90min"``, ``"36h"``, ``"1w"``,
            ``"1d12h"`` or ``"2 weeks"`` (units w, d, h, min or m, s, ms, us, ns; a unit is
            required, months and years are refused; ISO 8601 and pandas' ``"1 days
            12:00:00"`` also work), or a ``np.timedelta64``, ``datetime.timedelta`` or
            ``pandas.Timedelta``; > 0.
        name: argument name used in error messages.

    Returns:
        The span as ``np.timedelta64[ns]``.

    Raises:
        TypeError: a number or another type (a bare number has no unit).
        ValueError: text that is not a span, or a span <= 0.
    """
    if isinstance(interval, str):
        step = _parse_span(interval, name)
    elif isinstance(interval, (datetime.timedelta, np.timedelta64)):
        # pandas.Timedelta subclasses datetime.timedelta; NaT converts to NaT and fails below.
        try:
            step = np.timedelta64(interval).astype("timedelta64[ns]")
        except (OverflowError, ValueError):
            raise ValueError(f"{name} must be a span of time a nanosecond count can hold, got {interval!r}") from None
    else:
        raise TypeError(
            f"{name} must be a span of time such as '1h' or '1d', a np.timedelta64, datetime.timedelta "
            f"or pandas.Timedelta, got {type(interval).__name__} {interval!r}"
        )
    if np.isnat(step) or step <= np.timedelta64(0, "ns"):
        raise ValueError(f"{name} must be a positive span of time, got {interval!r}")
    return step


_UNITS = (("d", 86_400 * 10**9), ("h", 3_600 * 10**9), ("min", 60 * 10**9), ("s", 10**9), ("ms", 10**6), ("us", 10**3))


def format_interval(interval: Any) -> str:
    """A time step as a short string in its largest whole unit: ``"1h"``, ``"15min"``, ``"1d"``, ``"250ms"``.

    Args:
        interval: a positive step (see ``as_interval``).

    Returns:
        ``"<n><unit>"`` with unit ``d``, ``h``, ``min``, ``s``, ``ms``, ``us`` or ``ns``.
    """
    ns = int(as_interval(interval).astype(np.int64))
    for unit, size in _UNITS:
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def horizon_to_steps(horizon: Any, interval: Any) -> int:
    """Number of forecast steps of length ``interval`` that make up ``horizon``.

    ``"1d"`` is 24 steps of hourly data and 1 step of daily data; ``"90min"`` is 6 steps
    of 15-minute data. A horizon that is not a whole number of steps (``"1h"`` of daily
    data, ``"90min"`` of hourly data) is an error rather than silently rounded.

    Args:
        horizon: a span of time (see ``as_interval``): ``"1h"``, ``"36h"``, ``"2d"``,
            ``"90min"``, a ``datetime.timedelta``, ``pandas.Timedelta`` or ``np.timedelta64``.
        interval: spacing of the data (see ``as_interval``).

    Returns:
        ``horizon / interval``, a whole number >= 1.

    Raises:
        TypeError: a horizon that is not a span of time (a number of steps goes to ``steps=``).
        ValueError: a horizon that is not a positive whole number of steps.
    """
    if isinstance(horizon, (int, float, np.number)) and not isinstance(horizon, (bool, np.timedelta64)):
        raise TypeError(f"horizon must be a span of time such as '1d'; for {horizon!r} steps pass steps={horizon!r}")
    span_ns = int(as_interval(horizon, name="horizon").astype(np.int64))
    step_ns = int(as_interval(interval).astype(np.int64))
    # Integer nanoseconds: float division can land a hair off a whole number.
    steps, rest = divmod(span_ns, step_ns)
    if rest or steps < 1:
        spacing = format_interval(step_ns * np.timedelta64(1, "ns"))
        raise ValueError(
            f"horizon {horizon!r} is {span_ns / step_ns:.4g} steps of the data's interval {spacing}, "
            f"not a whole number: choose a multiple of {spacing} (or give a number of steps)"
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
            "steps a forecast may have: choose a shorter horizon, pass steps=, or resample the data"
        )
    return steps


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
        ``[steps]`` ``datetime64[ns]``: ``last_timestamp + k * interval`` for ``k = 1..steps``.
    """
    steps = validation.check_steps(steps)
    step = as_interval(interval)
    if last_timestamp is None:
        raise TypeError("last_timestamp must be a datetime: data without timestamps has no future timestamps")
    try:
        start = np.datetime64(last_timestamp, "ns")
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"last_timestamp must be a datetime (np.datetime64, pandas.Timestamp, ISO string), "
            f"got {type(last_timestamp).__name__} {last_timestamp!r}: {err}"
        ) from None
    if np.isnat(start):
        raise ValueError("last_timestamp must be a valid time, got NaT")
    return start + step * np.arange(1, steps + 1)
