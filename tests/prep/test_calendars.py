"""Calendar inputs: the clock of dated data, the calendar read from it in compiled code, the setting and its checks.

The reference is pandas' own calendar (``DatetimeIndex.hour``, ``dayofweek``, ``month``...),
computed independently of ``prep/calendars.py`` and ``seasons.calendar_features``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.prep import calendars
from jaxlstm._src.prep import inputs as inputs_lib

PARTS = ("hour", "weekday", "week", "month", "quarter")


def _reference(index: pd.DatetimeIndex, parts=PARTS) -> np.ndarray:
    """``[time, 2 * len(parts)]`` sine/cosine pairs from pandas' calendar fields."""
    position = {
        "hour": (index.hour + index.minute / 60 + index.second / 3600, 24),
        "weekday": (index.day_of_week, 7),
        "week": ((index.day_of_year - 1) // 7, 53),
        "month": (index.month - 1, 12),
        "quarter": (index.quarter - 1, 4),
    }
    columns = []
    for part in parts:
        value, period = position[part]
        angle = 2 * np.pi * np.asarray(value, np.float64) / period
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1)


def _clock(index: pd.DatetimeIndex) -> np.ndarray:
    """Clock columns from pandas: whole days since 1970 and the second of the day."""
    days = (index.normalize() - pd.Timestamp("1970-01-01")).days
    seconds = (index - index.normalize()).total_seconds()
    return np.stack([np.asarray(days, np.float64), np.asarray(seconds, np.float64)], axis=1)


@pytest.mark.slow  # compiles the calendar's jnp programs
def test_the_calendar_read_from_the_clock_is_pandas_calendar():
    # Random instants over four centuries (leap years, 1900 and 2000, dates before 1970).
    rng = np.random.default_rng(0)
    lo, hi = pd.Timestamp("1850-01-01").value // 10**9, pd.Timestamp("2250-01-01").value // 10**9
    index = pd.DatetimeIndex(pd.to_datetime(rng.integers(lo, hi, 3000), unit="s"))
    clock = _clock(index)
    got = np.asarray(calendars.calendar_at(clock.astype(np.float32), PARTS, 3600, 0))
    np.testing.assert_allclose(got, _reference(index), atol=2e-6)


@pytest.mark.slow  # compiles the calendar's jnp programs
@pytest.mark.parametrize("interval", ["15min", "1h", "4h", "1D", "7D", "36h"])
def test_future_steps_are_the_calendar_of_the_future_timestamps(interval):
    start = pd.date_range("2023-12-30 21:00", periods=5, freq="13h")
    step = pd.Timedelta(interval)
    offsets = np.arange(1, 60)
    future = pd.DatetimeIndex([t + k * step for t in start for k in offsets])
    got = calendars.calendar_at(_clock(start)[:, None, :], PARTS, int(step.total_seconds()), offsets[None, :])
    np.testing.assert_allclose(np.asarray(got).reshape(-1, 10), _reference(future), atol=2e-6)
    # What a recursive forecast feeds back: the clock one step on, k times.
    clock = _clock(start).astype(np.float32)
    for _ in range(3):
        clock = np.asarray(calendars.advance(clock, int(step.total_seconds())))
    np.testing.assert_array_equal(clock, _clock(start + 3 * step))


def test_the_clock_of_regular_timestamps_and_its_refusals():
    index = pd.date_range("2024-02-28 22:00", periods=6, freq="h")
    np.testing.assert_array_equal(calendars.clock(index.to_numpy(), 3600), _clock(index))
    with pytest.raises(ValueError, match="regularly spaced.*3600 s apart.*1 other step.*7200 s"):
        calendars.clock(index.delete(3).to_numpy(), 3600)
    with pytest.raises(ValueError, match="whole seconds"):
        calendars.clock((index + pd.Timedelta("1ms")).to_numpy(), 3600)
    with pytest.raises(ValueError, match="must have timestamps"):
        calendars.with_clock(np.ones(6), None, 3600)
    np.testing.assert_array_equal(calendars.with_clock(np.ones(6), index.to_numpy(), 3600)[:, 1:], _clock(index))


def test_resolve_auto_explicit_and_missing_timestamps():
    hourly = pd.date_range("2024-01-01", periods=10, freq="h").to_numpy()
    assert calendars.resolve(None, hourly, "1h") == ((), 0)
    assert calendars.resolve("auto", hourly, "1h") == (("hour", "weekday"), 3600)
    assert calendars.resolve("auto", None, "1h") == ((), 0)  # no timestamps: none, silently
    assert calendars.resolve("auto", np.delete(hourly, 4), "1h") == ((), 0)  # gaps: none
    assert calendars.resolve("auto", hourly[::24], "1D") == (("weekday",), 86_400)
    assert calendars.resolve(("month",), hourly, "1h") == (("month",), 3600)
    with pytest.raises(ValueError, match="needs timestamps"):
        calendars.resolve(("hour",), None, "1h")


@pytest.mark.parametrize("bad", ["hourly", (), ("hour", "hour"), ("minute",), 3])
def test_bad_calendar_settings_are_refused(bad):
    with pytest.raises((TypeError, ValueError), match="calendar"):
        calendars.check_calendar(bad)


@pytest.mark.slow  # compiles the calendar's jnp programs
def test_each_input_row_reads_the_calendar_of_the_step_it_precedes():
    index = pd.date_range("2024-03-01 20:00", periods=8, freq="h")
    raw = np.column_stack([np.linspace(100, 107, 8), _clock(index)]).astype(np.float32)
    inputs = inputs_lib.ModelInputs(("close",), inputs_lib.encodings.get_encoding("relative"), 5, ("hour",), 3600)
    assert inputs.columns == ("close", *calendars.CLOCK_COLUMNS) and inputs.width == 3
    state = inputs.device_state({"log_return_std": 0.01}, {})
    x = np.asarray(inputs.encode(state, raw))
    np.testing.assert_allclose(x[:, 1:], _reference(index[-5:] + pd.Timedelta("1h"), ("hour",)), atol=2e-6)
    row = np.asarray(inputs.next_row(raw, np.float32(108.0)))
    np.testing.assert_array_equal(row, np.concatenate([[108.0], _clock(index[-1:] + pd.Timedelta("1h"))[0]]))
