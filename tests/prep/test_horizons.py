"""Tests for jaxlstm._src.prep.horizons: spans of time, horizons in steps of the data's interval."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.prep import months
from jaxlstm._src.prep.horizons import as_interval, format_interval, future_timestamps, horizon_to_steps

NS = np.timedelta64(1, "ns")


@pytest.mark.parametrize(
    "text, hours",
    [
        ("1h", 1),
        ("36h", 36),
        ("2d", 48),
        ("7D", 168),
        ("1w", 168),
        ("2 weeks", 336),
        ("90min", 1.5),
        ("1.5h", 1.5),
        ("1d12h", 36),
        ("3 hours", 3),
        ("1 days 12:00:00", 36),
        ("P1D", 24),
    ],
)
def test_spans_written_as_pandas_writes_them(text, hours):
    assert as_interval(text) == np.timedelta64(int(hours * 3600), "s")


@pytest.mark.parametrize(
    "span", [datetime.timedelta(hours=3), pd.Timedelta("3h"), np.timedelta64(3, "h"), np.timedelta64(180, "m")]
)
def test_spans_as_timedelta_objects(span):
    assert horizon_to_steps(span, "1h") == 3
    assert as_interval(span).dtype == np.dtype("timedelta64[ns]")


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("1M", ValueError, "'M' is a minute to some and a month to others"),
        ("1.5mo", ValueError, "whole number of one unit"),
        ("1mo2d", ValueError, "whole number of one unit"),
        ("0mo", ValueError, "positive"),
        ("90", ValueError, "with a unit"),
        ("", ValueError, "with a unit"),
        ("soon", ValueError, "span of time"),
        ("-1h", ValueError, "positive"),
        ("0h", ValueError, "positive"),
        (np.timedelta64("NaT"), ValueError, "positive"),
        ("3 fortnights", ValueError, "unknown unit"),
        (3600, TypeError, "span of time"),
        (None, TypeError, "span of time"),
        (True, TypeError, "span of time"),
    ],
)
def test_bad_spans_name_the_argument(bad, error, match):
    with pytest.raises(error, match=match):
        as_interval(bad, name="interval")
    with pytest.raises(error, match="interval"):
        as_interval(bad, name="interval")


@pytest.mark.parametrize("text, count", [("1mo", 1), ("3 months", 3), ("1 month", 1), ("1y", 12), ("2 years", 24)])
def test_months_and_years_are_whole_steps_of_the_month_axis(text, count):
    interval = as_interval(text)
    assert interval == count * months.MONTH
    assert as_interval(format_interval(interval)) == interval  # "1 month", "3 months" read back


@pytest.mark.parametrize("text", ["1q", "1Q", "1 quarter", "1qtr"])
def test_a_quarter_is_three_calendar_months(text):
    # "2q" was refused as an unknown unit, so quarterly data had its horizon only as "6mo".
    assert as_interval(text) == 3 * months.MONTH
    assert horizon_to_steps(f"2{text[1:]}" if text[0] == "1" else text, "3mo") == 2
    assert horizon_to_steps("2 quarters", "1mo") == 6 and horizon_to_steps("1y", "1q") == 4
    with pytest.raises(ValueError, match=r"whole number of one unit"):
        as_interval("1.5q")


def test_horizons_in_months_count_steps_of_monthly_data_only():
    assert horizon_to_steps("1y", "1mo") == 12 and horizon_to_steps("2y", "3mo") == 8
    assert (
        as_interval(np.timedelta64(3, "M")) == as_interval("3mo")
        and as_interval(np.timedelta64(1, "Y")) == 12 * months.MONTH
    )
    with pytest.raises(ValueError, match=r"'1mo' is 30.44 steps of the data's interval 1d, not a whole number"):
        horizon_to_steps("1mo", "1d")


def test_one_m_is_a_minute_as_in_pandas_and_ccxt():
    assert as_interval("1m") == np.timedelta64(1, "m")


@pytest.mark.parametrize(
    "horizon, interval, steps",
    [("1d", "1h", 24), ("1d", "1d", 1), ("7d", "1d", 7), ("90min", "15min", 6), ("36h", "4h", 9), ("1h", "1s", 3600)],
)
def test_horizon_to_steps(horizon, interval, steps):
    assert horizon_to_steps(horizon, interval) == steps


@pytest.mark.parametrize("horizon, interval", [("1h", "1d"), ("90min", "1h"), ("1d", "5h"), ("30min", "1h")])
def test_a_horizon_that_is_not_whole_steps_is_an_error(horizon, interval):
    with pytest.raises(ValueError, match=rf"horizon '{horizon}' is .* steps of the data's interval .*not a whole"):
        horizon_to_steps(horizon, interval)


def test_a_number_of_steps_is_pointed_to_steps():
    with pytest.raises(TypeError, match=r"pass steps=24"):
        horizon_to_steps(24, "1h")


@settings(deadline=None)  # a loaded machine can stall any call; the property is what counts
@given(step=st.integers(1, 10**13), k=st.integers(1, 10**4), extra=st.integers(1, 10**6))
def test_whole_multiples_and_nothing_else(step, k, extra):
    interval = step * NS
    assert horizon_to_steps(k * step * NS, interval) == k
    if extra % step:
        with pytest.raises(ValueError, match="not a whole number"):
            horizon_to_steps((k * step + extra % step) * NS, interval)


@pytest.mark.parametrize(
    "interval, text", [("1d", "1d"), ("1h", "1h"), ("15min", "15min"), ("90min", "90min"), ("250ms", "250ms")]
)
def test_format_interval(interval, text):
    assert format_interval(interval) == text


@pytest.mark.parametrize(
    "horizon",
    [
        "41667d",
        "106752d",
        "200000d",
        "1000000000000000000000h",
        datetime.timedelta(days=10**6),
        datetime.timedelta.max,
        np.timedelta64(10**6, "D"),
        np.timedelta64(2**62, "W"),
    ],
)
def test_a_horizon_past_the_step_limit_is_one_message_however_long(horizon):
    # Past 106,751 days a span no longer fits int64 nanoseconds: it must still be counted in
    # steps, not overflow or wrap to a negative span.
    with pytest.raises(ValueError, match=r"is [\d,]+ steps of the data's interval 1h, more than the 1,000,000 steps"):
        horizon_to_steps(horizon, "1h")


def test_a_span_longer_than_nanoseconds_hold_is_not_called_negative():
    with pytest.raises(ValueError, match=r"interval must be at most .*days.*got datetime.timedelta\(days=1000000\)"):
        as_interval(datetime.timedelta(days=10**6))
    with pytest.raises(ValueError, match="interval must be at most"):
        as_interval("200000d")


def test_future_timestamps_up_to_the_last_representable_time():
    stamps = future_timestamps("2262-04-11T20:00", "1h", 3)
    assert stamps[-1] == np.datetime64("2262-04-11T23:00", "ns")
    assert np.all(np.diff(stamps) == np.timedelta64(1, "h"))


@pytest.mark.parametrize("last, steps", [("2262-04-11T20:00", 4), ("2262-04-11T20:00", 10**6), ("2200-01-01", 10**6)])
def test_future_timestamps_past_2262_are_refused_not_wrapped_to_1677(last, steps):
    with pytest.raises(ValueError) as info:
        future_timestamps(last, "1h", steps)
    message = str(info.value)
    assert last[:10] in message and f"{steps:,} steps of 1h" in message and "2262-04-11T23:47:16" in message


@pytest.mark.parametrize(
    "last", ["3000-01-01", np.datetime64("3000-01-01", "s"), pd.Timestamp(np.datetime64("2300-01-01", "s"))]
)
def test_a_last_timestamp_past_2262_is_refused_not_wrapped(last):
    with pytest.raises(ValueError, match="last_timestamp .* after 2262-04-11T23:47:16"):
        future_timestamps(last, "1h", 1)


@pytest.mark.parametrize(
    ("value", "unit", "fits"),
    [
        ("2262-04-11T23:47:16", "s", True),
        ("2262-04-11T23:47:17", "s", False),
        ("1677-09-21T00:12:44", "s", True),
        ("1677-09-21T00:12:43", "s", False),
        ("2262-04-11", "D", True),
        ("2262-04-12", "D", False),
        ("2262", "Y", True),
        ("2263", "Y", False),
        ("3000-01-01T00:00", "m", False),
        ("2262-04-11T23:47:16.854775807", "ns", True),
    ],
)
def test_times_of_any_unit_become_nanoseconds_or_are_refused_never_wrapped(value, unit, fits):
    from jaxlstm._src.prep.horizons import as_datetime64_ns

    times = np.array([value, "NaT"], f"datetime64[{unit}]")
    if fits:
        got = as_datetime64_ns(times, "timestamps")
        assert got.dtype == np.dtype("datetime64[ns]")
        assert got[0] == times[0] and np.isnat(got[1])
    else:
        with pytest.raises(ValueError, match=r"timestamps must lie between 1677-09-21.* and 2262-04-11.*, got"):
            as_datetime64_ns(times, "timestamps")
