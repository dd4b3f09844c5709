"""Calendar-month time axes (``prep.months``): monthly, quarterly and yearly dates step by months, not by a span."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.prep import gaps, horizons, months
from jaxlstm.data import infer_interval

FREQUENCIES = [("MS", 1), ("ME", 1), ("QS", 3), ("QE", 3), ("YS", 12), ("YE", 12)]


def _dates(freq: str, n: int = 40, start: str = "1999-11-01 06:30") -> np.ndarray:
    return pd.date_range(start, periods=n, freq=freq).to_numpy()


@pytest.mark.parametrize(("freq", "k"), FREQUENCIES)
def test_month_grids_are_found_and_continue_as_pandas_does(freq, k):
    dates = _dates(freq)
    assert months.grid_step(dates) == k and infer_interval(dates) == k * months.MONTH
    interval = infer_interval(dates)
    expected = pd.date_range(dates[-1], periods=15, freq=freq).to_numpy()[1:]
    np.testing.assert_array_equal(horizons.future_timestamps(dates[-1], interval, 14), expected)
    np.testing.assert_array_equal(horizons.past_timestamps(dates[-1], interval, 5), dates[::-1][:5])
    assert gaps.find_gaps(dates, interval).regular
    assert horizons.format_interval(interval) == ("1 month" if k == 1 else f"{k} months")


def test_a_fixed_day_of_the_month_keeps_its_day_and_month_ends_stay_month_ends():
    fifteenth = pd.date_range("2023-11-15", periods=30, freq=pd.DateOffset(months=1)).to_numpy()
    assert months.grid_step(fifteenth) == 1
    np.testing.assert_array_equal(
        months.step_months(np.datetime64("2024-01-31T12:00"), [1, 2, -2]),
        np.array(["2024-02-29T12:00", "2024-03-31T12:00", "2023-11-30T12:00"], "datetime64[ns]"),
    )
    np.testing.assert_array_equal(
        months.step_months(np.datetime64("2024-01-15"), [1, 13]),
        np.array(["2024-02-15", "2025-02-15"], "datetime64[ns]"),
    )


@pytest.mark.parametrize(
    "dates",
    [
        pd.date_range("2024-01-01", periods=60, freq="D").to_numpy(),  # daily
        pd.date_range("2024-01-01", periods=60, freq="W").to_numpy(),  # weekly
        pd.date_range("2024-01-01", periods=60, freq="h").to_numpy(),  # hourly
        np.array(["2024-01-30", "2024-02-29", "2024-03-30"], "datetime64[ns]"),  # the 30th is not every month's
        np.array(["2024-01-01", "2024-02-01T01:00", "2024-03-01"], "datetime64[ns]"),  # another time of day
        np.array(["2024-01-01"], "datetime64[ns]"),
    ],
)
def test_other_spacings_are_not_month_grids(dates):
    assert months.grid_step(dates) is None
    if dates.shape[0] > 1:
        assert months.months_per_step(infer_interval(dates)) is None


def test_missing_months_are_gaps_and_fill_onto_the_calendar_grid():
    full = _dates("MS", 24)
    kept = np.delete(np.arange(24), [5, 6, 17])
    found = gaps.find_gaps(full[kept], months.MONTH)
    assert (found.gap_count, found.missing, found.irregular) == (2, 3, 0)
    values, stamps = gaps.fill_gaps(np.arange(24.0)[kept] + 1, full[kept], months.MONTH)
    np.testing.assert_array_equal(stamps, full)
    np.testing.assert_array_equal(values[[4, 5, 6, 7]], [5.0, 5.0, 5.0, 8.0])  # the last close carried forward
    off = full.copy()
    off[3] = np.datetime64("2000-02-02T06:30", "ns")  # a day off the grid
    assert gaps.find_gaps(off, months.MONTH).irregular == 2


def test_the_mean_month_is_no_fixed_spacing():
    assert np.timedelta64(2_629_746, "s") == months.MONTH
    assert months.months_per_step(np.timedelta64(31, "D")) is None and months.months_per_step(None) is None
    assert months.months_per_step(3 * months.MONTH) == 3
