"""Gaps in a dated series: measured, and filled onto the regular grid by carrying the last close forward."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.io.series import regular_series
from jaxlstm._src.prep import gaps
from jaxlstm._src.prep.gaps import GapWarning

HOUR = np.timedelta64(1, "h")
START = np.datetime64("2024-01-01T00:00", "ns")


def _stamps(steps):
    return START + np.concatenate([[0], np.cumsum(steps)]) * HOUR


def test_a_regular_series_has_no_gaps():
    found = gaps.find_gaps(_stamps([1] * 10), HOUR)
    assert found.regular and found.describe(HOUR) == "no gaps"
    assert gaps.find_gaps(_stamps([]), HOUR).regular


def test_a_30_hour_hole_is_one_gap_of_29_missing_prices():
    found = gaps.find_gaps(_stamps([1, 1, 30, 1]), HOUR)
    assert (found.gap_count, found.missing, found.irregular) == (1, 29, 0)
    assert found.largest == np.timedelta64(30, "h") and found.largest_after == START + 2 * HOUR
    assert "1 gap(s)" in found.describe(HOUR) and "the largest 30h" in found.describe(HOUR)


def test_steps_off_the_grid_are_irregular_and_cannot_be_filled():
    stamps = START + np.array([0, 60, 90, 150], "timedelta64[m]")
    found = gaps.find_gaps(stamps, HOUR)
    assert found.irregular == 1 and found.gap_count == 0  # the 30-minute step
    with pytest.raises(ValueError, match="cannot be filled onto a regular 1h grid"):
        gaps.fill_gaps(np.ones(4), stamps, HOUR)


def test_fill_carries_the_last_close_forward_and_makes_empty_candles():
    stamps = _stamps([1, 3, 1])  # 00:00, 01:00, 04:00, 05:00
    closes = np.array([10.0, 11.0, 12.0, 13.0])
    filled, grid = gaps.fill_gaps(closes, stamps, HOUR)
    np.testing.assert_array_equal(filled, [10, 11, 11, 11, 12, 13])
    np.testing.assert_array_equal(grid, START + np.arange(6) * HOUR)
    candles = np.column_stack([closes, closes + 1, closes * 100])  # close, high, volume
    filled, _ = gaps.fill_gaps(candles, stamps, HOUR, columns=("close", "high", "volume"))
    np.testing.assert_array_equal(filled[2:4], [[11, 11, 0], [11, 11, 0]])
    np.testing.assert_array_equal(filled[[0, 1, 4, 5]], candles)


def test_fill_refuses_a_grid_of_mostly_invented_prices():
    with pytest.raises(ValueError, match="invented"):
        gaps.fill_gaps(np.ones(3), _stamps([1, 500]), HOUR)


def test_the_policy_is_checked_by_the_one_choice_validator():
    assert gaps.check_gap_policy("fill") == "fill"
    with pytest.raises(ValueError, match=r"gaps must be one of \('warn', 'raise', 'fill'\), got 'skip'"):
        gaps.check_gap_policy("skip")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=40))
def test_fill_keeps_every_given_price_at_its_time(steps):
    stamps = _stamps(steps)
    closes = np.arange(1.0, len(stamps) + 1)
    filled, grid = gaps.fill_gaps(closes, stamps, HOUR)
    assert gaps.find_gaps(grid, HOUR).regular and grid[-1] == stamps[-1]
    np.testing.assert_array_equal(filled[np.searchsorted(grid, stamps)], closes)
    assert np.all(np.diff(filled) >= 0)  # carried forward, never ahead of its time
    assert gaps.find_gaps(stamps, HOUR).missing == grid.shape[0] - stamps.shape[0]


def _session_bars(days: int = 10) -> np.ndarray:
    """Seven hourly bars a weekday from 14:30 UTC (New York's session), as equity data comes."""
    dates = pd.bdate_range("2024-01-02", periods=days)
    return np.array([d + pd.Timedelta(hours=14.5 + h) for d in dates for h in range(7)], "datetime64[ns]")


def test_bars_of_trading_sessions_are_told_from_missing_bars():
    hour = np.timedelta64(1, "h")
    bars = _session_bars()
    assert gaps.between_sessions(bars, hour)
    assert not gaps.between_sessions(np.delete(bars, 3), hour)  # a bar missing inside a session too
    every_hour = pd.date_range("2024-01-01", periods=24 * 10, freq="h").to_numpy()
    assert not gaps.between_sessions(np.delete(every_hour, [30, 100]), hour)  # crypto: days run on
    assert not gaps.between_sessions(pd.bdate_range("2024-01-01", periods=30).to_numpy(), np.timedelta64(1, "D"))
    # The warning of such data says what the gaps are and how to count steps in bars.
    values = np.linspace(100.0, 110.0, bars.shape[0])
    with pytest.warns(GapWarning, match=r"every gap is a night or a weekend: bars of trading sessions"):
        regular_series(values, bars, hour, "warn", "data")
