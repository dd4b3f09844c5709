"""Named forecast horizons and the time axis of a forecast.

A horizon such as ``"1d"`` is a span of wall-clock time; how many forecast steps it
takes depends on the spacing of the data: 24 steps on hourly data, 1 on daily data.
"""

from __future__ import annotations

import datetime
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxlstm._src import validation

#: Named horizons and their length in hours.
HORIZON_HOURS: Mapping[str, int] = types.MappingProxyType({"1h": 1, "4h": 4, "1d": 24, "7d": 168})

_HOUR = np.timedelta64(1, "h").astype("timedelta64[ns]")
_EPOCH = np.datetime64(0, "ns")


def as_interval(interval: Any, *, name: str = "interval") -> np.timedelta64:
    """Converts a positive time step to ``np.timedelta64`` in nanoseconds.

    Args:
        interval: ``np.timedelta64``, ``datetime.timedelta`` or ``pandas.Timedelta``, > 0.
        name: argument name used in error messages.

    Returns:
        The step as ``np.timedelta64[ns]``.
    """
    if isinstance(interval, (datetime.timedelta, np.timedelta64)):
        # pandas.Timedelta subclasses datetime.timedelta; NaT converts to NaT and fails below.
        step = np.timedelta64(interval).astype("timedelta64[ns]")
    else:
        raise TypeError(
            f"{name} must be a np.timedelta64, datetime.timedelta or pandas.Timedelta, "
            f"got {type(interval).__name__} {interval!r}"
        )
    if np.isnat(step) or step <= np.timedelta64(0, "ns"):
        raise ValueError(f"{name} must be a positive time step, got {interval!r}")
    return step


def horizon_to_steps(horizon: str, interval: Any) -> int:
    """Number of forecast steps of length ``interval`` that cover a named horizon.

    The horizon is rounded up to whole steps and is at least one step, so ``"1h"`` on
    daily data is 1 step and ``"7d"`` on 5-hourly data is 34 steps (170 hours).

    Args:
        horizon: one of ``"1h"``, ``"4h"``, ``"1d"``, ``"7d"`` (1, 4, 24 and 168 hours).
        interval: spacing of the data (see ``as_interval``).

    Returns:
        ``ceil(hours / interval)``, >= 1.
    """
    if not isinstance(horizon, str) or horizon not in HORIZON_HOURS:
        valid = ", ".join(repr(h) for h in HORIZON_HOURS)
        raise ValueError(f"horizon must be one of {valid}, got {horizon!r}")
    step_ns = int(as_interval(interval).astype(np.int64))
    span_ns = int((HORIZON_HOURS[horizon] * _HOUR).astype(np.int64))
    # Ceiling division on integer nanoseconds is exact; float division can land a hair above a whole number.
    return check_horizon_steps(horizon, interval, max(1, -(-span_ns // step_ns)))


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

    Data without timestamps is treated as ending at the unix epoch
    (1970-01-01T00:00), so its forecast steps fall at ``epoch + k * interval``.

    Args:
        last_timestamp: time of the last observed point (anything ``np.datetime64``
            reads, e.g. a ``pandas.Timestamp``), or ``None`` for data without timestamps.
        interval: spacing of the data (see ``as_interval``).
        steps: number of future points, >= 1.

    Returns:
        ``[steps]`` ``datetime64[ns]``: ``last_timestamp + k * interval`` for ``k = 1..steps``.
    """
    steps = validation.check_steps(steps)
    step = as_interval(interval)
    if last_timestamp is None:
        start = _EPOCH
    else:
        try:
            start = np.datetime64(last_timestamp, "ns")
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"last_timestamp must be a datetime (np.datetime64, pandas.Timestamp, ISO string) or None, "
                f"got {type(last_timestamp).__name__} {last_timestamp!r}: {err}"
            ) from None
        if np.isnat(start):
            raise ValueError("last_timestamp must be a valid time, got NaT")
    return start + step * np.arange(1, steps + 1)


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
