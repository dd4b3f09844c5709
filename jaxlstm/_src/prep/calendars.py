"""Calendar inputs as known-future features: the clock a window carries, and the calendar read from it in compiled code.

The calendar of a step (hour of day, day of week, week, month or quarter of year; the
parts of ``seasons.CALENDAR_PERIODS``) is known in advance for every future step. A
window of a series that should read it carries two more columns next to its candles,
the **clock** of each step (``CLOCK_COLUMNS``): the whole days since 1970-01-01 and the
second of that day. Both are integers that float32 holds exactly (days up to 2**24,
about the year 47,900), so the windows, the held-back tail, the calibration origins and
the saved last window all carry their own time, and the calendar of any later step is
the clock plus whole steps of the data's spacing (a static number of seconds).

``calendar_at`` is that reading, pure and jit-able: the sine/cosine pairs of
``seasons.calendar_features`` (same values, same column order) of the step ``offset``
spacings after each clock. A network input row reads the calendar of the step that
follows it (``offset=1``), which is the step it predicts: a recursive head's fed-back
row is given the calendar of the next step at every recursive step, and a direct head's
last row holds the calendar of its first target. Each later target's sine/cosine pair is
that pair rotated by a fixed angle (the spacing is fixed), a linear map, so the linear
output layer of the head can give each target step its own phase.

Host helpers: ``check_calendar`` (the estimator's setting), ``resolve`` (the parts and
spacing a fit uses: ``"auto"`` takes ``seasons.calendar_parts`` of the spacing, or none
without timestamps) and ``clock`` (the two columns of dated data, regular spacing checked).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import horizons, months, seasons

#: The columns a window of a model with calendar inputs carries after its candle columns.
CLOCK_COLUMNS = ("calendar_day", "calendar_second")
#: The column of each step's index in the fitted series, which a seasonal encoding reads its phase from.
POSITION_COLUMN = "season_position"
#: The columns of a window that are not candles (no price checks apply to them).
TIME_COLUMNS = (*CLOCK_COLUMNS, POSITION_COLUMN)
_SECONDS_PER_DAY = 86_400
_SECOND = np.timedelta64(10**9, "ns")


def data_columns(columns: Any) -> tuple[str, ...]:
    """The columns of ``columns`` that are read from data: all but ``TIME_COLUMNS``."""
    return tuple(c for c in columns if c not in TIME_COLUMNS)


def check_calendar(calendar: Any) -> str | tuple[str, ...] | None:
    """The estimator's ``calendar`` setting: None (no calendar inputs), ``"auto"`` or a tuple of parts.

    Raises:
        ValueError: an unknown part, an empty or repeated tuple, another string.
        TypeError: neither None, a string nor a sequence of strings.
    """
    if calendar is None or calendar == "auto":
        return calendar
    if isinstance(calendar, str):
        raise ValueError(
            f"calendar must be None, 'auto' or a tuple of parts from {tuple(seasons.CALENDAR_PERIODS)}, got {calendar!r}"
        )
    try:
        parts = tuple(calendar)
    except TypeError:
        raise TypeError(f"calendar must be None, 'auto' or a tuple of parts, got {type(calendar).__name__}") from None
    if not parts or len(set(parts)) != len(parts):
        raise ValueError(f"calendar must name at least one part, each once, got {parts!r}")
    return tuple(validation.check_choice("calendar", part, tuple(seasons.CALENDAR_PERIODS)) for part in parts)


def step_seconds(interval: Any) -> int | None:
    """The spacing in whole seconds, or None when it is not a whole number of seconds."""
    step = horizons.as_interval(interval)
    if step % _SECOND != np.timedelta64(0, "ns"):
        return None
    return int(step // _SECOND)


def resolve(
    calendar: str | tuple[str, ...] | None, timestamps: np.ndarray | None, interval: Any, name: str = "data"
) -> tuple[tuple[str, ...], int]:
    """The calendar parts and the spacing in seconds a fit on this data uses (``((), 0)``: none).

    ``"auto"`` takes the parts that vary and repeat at the spacing (``seasons.calendar_parts``),
    and none without timestamps, with gaps or with a spacing of a fraction of a second; an
    explicit tuple needs regularly spaced timestamps (``clock`` says so when they are not).

    Raises:
        ValueError: explicit parts and data without timestamps, or a spacing that is not a
            whole number of seconds.
    """
    if calendar is None:
        return (), 0
    if timestamps is None or interval is None:
        if calendar == "auto":
            return (), 0
        raise ValueError(
            f"calendar={calendar!r} needs timestamps: {name} has none (give a pandas Series with a DatetimeIndex, "
            "a frame with a date column or candles; an interval= alone does not say which hour the first price "
            "is), or use calendar='auto', which falls back to no calendar inputs"
        )
    if horizons.calendar_axis(interval) is not None:
        if calendar == "auto":
            return (), 0
        months_axis = months.months_per_step(horizons.as_interval(interval)) is not None
        length, season = ("28 to 31 days", "months") if months_axis else ("a day or more, over weekends", "weekdays")
        raise ValueError(
            f"calendar inputs need a fixed spacing, but {name} is dated every {horizons.format_interval(interval)} "
            f"(steps of {length}): the season of {season} is what season_length={12 if months_axis else 5} "
            "(or 'auto') and encoding='seasonal' model"
        )
    seconds = step_seconds(interval)
    if seconds is None:
        if calendar == "auto":
            return (), 0
        raise ValueError(f"calendar inputs need a spacing of whole seconds, {name} has {interval}")
    parts = seasons.calendar_parts(interval) if calendar == "auto" else calendar
    if calendar == "auto" and parts:
        try:
            clock(timestamps, seconds, name)
        except ValueError:  # gaps: "auto" fits without calendar inputs rather than fail
            return (), 0
    return tuple(parts), seconds if parts else 0


def clock(timestamps: Any, seconds: int, name: str = "data") -> np.ndarray:
    """``[time, 2]`` float64 clock columns (``CLOCK_COLUMNS``) of regularly spaced timestamps.

    Args:
        timestamps: ``[time]`` datetimes, ``seconds`` apart.
        seconds: the spacing.
        name: the argument's name, for messages.

    Raises:
        ValueError: a step that is not ``seconds`` (a gap, a repeated or an earlier time),
            or a timestamp with a fraction of a second.
    """
    times = np.asarray(timestamps, "datetime64[ns]")
    steps = np.diff(times)
    bad = np.flatnonzero(steps != np.timedelta64(seconds, "s"))
    if bad.size:
        first = int(bad[0])
        raise ValueError(
            f"calendar inputs need regularly spaced timestamps, {seconds} s apart: {name} has {bad.size} other "
            f"step(s), the first of {steps[first] / _SECOND:g} s from {times[first]} to {times[first + 1]}; fill "
            "the gaps first (fit(..., gaps='fill'), or regular candles, one per step) or use calendar=None"
        )
    whole = times.astype("datetime64[s]")
    if np.any(whole != times):
        raise ValueError(f"calendar inputs need timestamps of whole seconds, {name} has fractions of a second")
    days = whole.astype("datetime64[D]")
    return np.stack(
        [days.astype(np.int64).astype(np.float64), (whole - days).astype(np.int64).astype(np.float64)], axis=1
    )


def with_clock(series: np.ndarray, timestamps: np.ndarray | None, seconds: int, name: str = "data") -> np.ndarray:
    """``[time, columns + 2]``: a validated ``[time]`` or ``[time, columns]`` series with its clock columns appended.

    Raises:
        ValueError: no timestamps (a model with calendar inputs reads the time of every
            step), or timestamps not ``seconds`` apart (``clock``).
    """
    if timestamps is None:
        raise ValueError(
            f"{name} must have timestamps for a model with calendar inputs (a pandas Series with a DatetimeIndex, "
            "a frame with a date column or candles): its inputs read the calendar of every step"
        )
    values = np.asarray(series, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    return np.concatenate([values, clock(timestamps, seconds, name)], axis=1)


def with_positions(series: np.ndarray) -> np.ndarray:
    """``[time, columns + 1]``: a series with each row's index appended (the positions a seasonal encoding reads)."""
    values = np.asarray(series, np.float64)
    values = values[:, None] if values.ndim == 1 else values
    return np.concatenate([values, np.arange(values.shape[0], dtype=np.float64)[:, None]], axis=1)


def _civil(days: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(month 0..11, day of the year 0..365)`` of whole days since 1970-01-01 (proleptic Gregorian, int32).

    Howard Hinnant's ``civil_from_days``: the year counted from March, so that the leap
    day is its last day, in 400-year eras of 146,097 days.
    """
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # 0 = March 1st
    mp = (5 * doy + 2) // 153
    month = jnp.where(mp < 10, mp + 2, mp - 10)  # 0 = January
    year = yoe + era * 400 + (month <= 1)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    # March 1st is day 59 of a common year, 60 of a leap one; January and February close the March year.
    day_of_year = jnp.where(mp >= 10, doy - 306, doy + 59 + leap)
    return month, day_of_year


def calendar_at(clock_: jax.Array, parts: tuple[str, ...], seconds: int, offset: Any = 1) -> jax.Array:
    """The sine/cosine calendar of the step ``offset`` spacings after each clock (pure, jit-able).

    Args:
        clock_: ``[..., 2]`` clock columns (whole days since 1970-01-01, second of the day),
            any float or integer dtype holding whole numbers.
        parts: calendar parts (``seasons.CALENDAR_PERIODS``). Static.
        seconds: the spacing in seconds. Static.
        offset: whole steps after the clock (an int or an int array broadcasting with ``[...]``).

    Returns:
        ``[..., 2 * len(parts)]`` float32, in ``seasons.calendar_features`` order
        (``part_sin, part_cos`` per part).
    """
    c = jnp.asarray(clock_)
    day = jnp.round(c[..., 0]).astype(jnp.int32)
    # Steps of a day or more move whole days; shorter ones whole seconds (no int32 overflow).
    ahead_days, ahead_seconds = divmod(int(seconds), _SECONDS_PER_DAY)
    k = jnp.asarray(offset, jnp.int32)
    second = jnp.round(c[..., 1]).astype(jnp.int32) + k * ahead_seconds
    day = day + k * ahead_days + second // _SECONDS_PER_DAY
    second = second % _SECONDS_PER_DAY
    month, day_of_year = _civil(day)
    values = {
        "hour": second.astype(jnp.float32) / 3_600.0,
        "weekday": ((day + 3) % 7).astype(jnp.float32),  # 1970-01-01 was a Thursday: Monday is 0
        "month": month.astype(jnp.float32),
        "quarter": (month // 3).astype(jnp.float32),
        "week": (day_of_year // 7).astype(jnp.float32),
    }
    columns = []
    for part in parts:
        angle = 2 * jnp.pi * values[part] / seasons.CALENDAR_PERIODS[part]
        columns += [jnp.sin(angle), jnp.cos(angle)]
    return jnp.stack(columns, axis=-1).astype(jnp.float32)


def advance(clock_: jax.Array, seconds: int) -> jax.Array:
    """``[..., 2]`` the clock one spacing later (same dtype): what a recursive forecast's fed-back row carries."""
    ahead_days, ahead_seconds = divmod(int(seconds), _SECONDS_PER_DAY)
    second = clock_[..., 1] + ahead_seconds
    carry = jnp.floor(second / _SECONDS_PER_DAY)
    return jnp.stack([clock_[..., 0] + ahead_days + carry, second - carry * _SECONDS_PER_DAY], axis=-1).astype(
        clock_.dtype
    )
