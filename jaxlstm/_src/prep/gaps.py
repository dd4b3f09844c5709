"""Gaps in a dated series: steps between consecutive timestamps that are not the series' interval.

Every model here assumes equally spaced steps: a window of 20 prices is 20 intervals of
time, a forecast's step ``k`` lands ``k`` intervals after the last price, and the band
grows per step. A series with holes (an exchange outage, a missing day of a download,
rows lost in a merge) breaks that silently: the step across a 30-hour hole is learned
and forecast as if it were one hour. ``find_gaps`` measures the holes, ``fill_gaps`` puts
the series on its regular grid, and ``GAP_POLICIES`` are the choices of
``Forecaster.fit(gaps=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import horizons

#: Values of ``fit(gaps=...)``: warn and fit as given, refuse, or forward-fill onto the regular grid.
GAP_POLICIES: tuple[str, ...] = ("warn", "raise", "fill")
#: Most rows ``fill_gaps`` may add per row given: beyond that the grid would be mostly invented prices.
MAX_FILL_RATIO = 10


class GapWarning(UserWarning):
    """A dated series was fitted with gaps in its time axis (``fit(gaps="warn")``, the default)."""


class Gaps(NamedTuple):
    """The holes of a dated series at its interval.

    Attributes:
        gap_count: steps longer than the interval.
        missing: grid points inside those steps (whole intervals with no price).
        irregular: steps that are not a whole number of intervals (shorter ones included).
        largest: the longest step (zero for fewer than two timestamps).
        largest_after: the timestamp that the longest step starts from (None for fewer than two).
    """

    gap_count: int
    missing: int
    irregular: int
    largest: np.timedelta64
    largest_after: np.datetime64 | None

    @property
    def regular(self) -> bool:
        """Whether every step is exactly one interval."""
        return self.gap_count == 0 and self.irregular == 0

    def describe(self, interval: np.timedelta64) -> str:
        """One line for messages: how many gaps, how many prices are missing, the largest and where."""
        parts = []
        if self.gap_count:
            where = (
                "" if self.largest_after is None else f" after {np.datetime_as_string(self.largest_after, unit='s')}"
            )
            parts.append(
                f"{self.gap_count} gap(s) longer than its {horizons.format_interval(interval)} interval "
                f"({self.missing} missing price(s); the largest {horizons.format_interval(self.largest)}{where})"
            )
        if self.irregular:
            parts.append(f"{self.irregular} step(s) that are not a whole number of intervals")
        return " and ".join(parts) if parts else "no gaps"


def check_gap_policy(gaps: object) -> str:
    """Returns ``gaps`` if it is one of ``GAP_POLICIES``, else raises ``ValueError``."""
    return validation.check_choice("gaps", gaps, GAP_POLICIES)


def find_gaps(timestamps: np.ndarray, interval: np.timedelta64) -> Gaps:
    """Measures the steps of ``[time]`` increasing timestamps that are not one ``interval``.

    Args:
        timestamps: ``[time]`` strictly increasing ``datetime64`` values.
        interval: the series' spacing, > 0.

    Returns:
        ``Gaps``; ``Gaps.regular`` when every step is one interval.
    """
    stamps = np.asarray(timestamps, "datetime64[ns]").astype(np.int64)
    step = int(np.timedelta64(interval, "ns").astype(np.int64))
    if step <= 0:
        raise ValueError(f"interval must be positive, got {interval}")
    diffs = np.diff(stamps)
    if diffs.size == 0:
        return Gaps(0, 0, 0, np.timedelta64(0, "ns"), None)
    longest = int(np.argmax(diffs))
    if (axis := horizons.calendar_axis(interval)) is not None:
        # Counted in calendar months or business days, each step on the first date's grid.
        k, dates = axis.units, stamps.view("datetime64[ns]")
        spans = np.diff(axis.numbers(dates))
        off = ~axis.on_grid(dates, dates[0])
        irregular = (spans % k != 0) | (spans <= 0) | off[1:] | off[:-1]
        long = (spans > k + axis.holidays) & ~irregular
        # The step of the most units (a weekend is one business day, however long in hours).
        longest = int(np.argmax(np.where(spans == spans.max(), diffs, -1)))
        return Gaps(
            gap_count=int(long.sum()),
            missing=int(np.sum(spans[long] // k - 1)),
            irregular=int(irregular.sum()),
            largest=np.timedelta64(int(diffs[longest]), "ns"),
            largest_after=np.datetime64(int(stamps[longest]), "ns"),
        )
    long = diffs > step
    # ceil(diff / step) - 1 grid points lie strictly inside a step.
    missing = int(np.sum((diffs[long] - 1) // step))
    return Gaps(
        gap_count=int(long.sum()),
        missing=missing,
        irregular=int(np.sum(diffs % step != 0)),
        largest=np.timedelta64(int(diffs[longest]), "ns"),
        largest_after=np.datetime64(int(stamps[longest]), "ns"),
    )


def between_sessions(timestamps: np.ndarray, interval: np.timedelta64) -> bool:
    """Whether the gaps of intraday timestamps are exactly the nights and weekends: bars of trading sessions.

    Equity bars (09:30 to 16:00 on weekdays) have a gap between every two days and none
    inside one; filling them would invent the hours the market was closed.
    """
    stamps = np.asarray(timestamps, "datetime64[ns]")
    if stamps.shape[0] < 3 or np.timedelta64(interval, "ns") >= np.timedelta64(1, "D"):
        return False
    long = np.diff(stamps) > np.timedelta64(interval, "ns")
    new_day = np.diff(stamps.astype("datetime64[D]")) > np.timedelta64(0, "D")
    return bool(long.sum() >= 2 and (long == new_day).all())


def fill_gaps(
    values: np.ndarray,
    timestamps: np.ndarray,
    interval: np.timedelta64,
    columns: Sequence[str] = ("close",),
    name: str = "data",
) -> tuple[np.ndarray, np.ndarray]:
    """Puts a dated series on its regular grid, carrying the last close forward into every hole.

    A missing candle becomes one in which nothing traded: open, high, low and close are
    the previous close and the volume is 0 (the convention of exchanges that publish
    empty candles). Prices are never interpolated, so nothing after a hole leaks into it.

    Args:
        values: ``[time]`` prices, or ``[time, len(columns)]`` candle values.
        timestamps: ``[time]`` strictly increasing timestamps of ``values``.
        interval: the grid's spacing; every step must be a whole number of intervals.
        columns: the names of ``values``' columns (``"close"`` among them) for ``[time, columns]`` values.
        name: the argument's name, for messages.

    Returns:
        ``(values, timestamps)`` on the grid ``timestamps[0] + k * interval`` up to the
        last timestamp; unchanged when the series has no gaps.

    Raises:
        ValueError: a step that is not a whole number of intervals (the grid is ambiguous),
            or a grid more than ``MAX_FILL_RATIO`` times as long as the series.
    """
    found = find_gaps(timestamps, interval)
    if found.irregular:
        raise ValueError(
            f"{name} cannot be filled onto a regular {horizons.format_interval(interval)} grid: it has "
            f"{found.describe(interval)}; resample it first (e.g. pandas .resample(...).last().ffill())"
        )
    stamps = np.asarray(timestamps, "datetime64[ns]")
    if found.gap_count == 0:
        return values, stamps
    step = np.timedelta64(interval, "ns")
    axis = horizons.calendar_axis(step)
    if axis is not None:
        positions = (axis.numbers(stamps) - axis.numbers(stamps[:1])[0]) // axis.units
    else:
        positions = ((stamps - stamps[0]) // step).astype(np.int64)
    length = int(positions[-1]) + 1
    if length > MAX_FILL_RATIO * stamps.shape[0]:
        raise ValueError(
            f"{name} has {found.describe(interval)}: filling would make {length:,} prices of {stamps.shape[0]:,}, "
            f"more than {MAX_FILL_RATIO}x invented; fit on the part after the largest gap instead"
        )
    present = np.full(length, -1, np.int64)
    present[positions] = np.arange(stamps.shape[0])
    source = np.maximum.accumulate(present)  # the row each grid point carries forward
    filled = np.array(values[source], np.float64)
    if filled.ndim == 2:
        columns = tuple(columns)
        close = filled[:, columns.index("close")]
        invented = present < 0
        for j, column in enumerate(columns):
            filled[invented, j] = 0.0 if column == "volume" else close[invented]
    grid = axis.moved(stamps[0], axis.units * np.arange(length)) if axis else stamps[0] + np.arange(length) * step
    return filled, grid
