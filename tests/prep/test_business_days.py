"""Business-day time axes (``prep.business_days``): weekday dates step by business days, weekends are no gaps."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxlstm._src.prep import business_days, gaps, horizons, seasons
from jaxlstm.data import as_price_series, infer_interval, split_long

DAY = business_days.BUSINESS_DAY


def _weekdays(n: int = 60, start: str = "2024-01-03 16:00") -> np.ndarray:
    return pd.bdate_range(start, periods=n).to_numpy()


def test_weekday_dates_are_a_business_day_grid_that_continues_as_pandas_bday_does():
    dates = _weekdays()
    assert business_days.grid_step(dates) == 1 and infer_interval(dates) == DAY
    # pandas' business-day offset is the independent reference, from a Friday over the weekend.
    friday = np.datetime64("2024-03-08T16:00", "ns")
    expected = pd.date_range(friday, periods=13, freq="B").to_numpy()[1:]
    np.testing.assert_array_equal(horizons.future_timestamps(friday, DAY, 12), expected)
    np.testing.assert_array_equal(horizons.past_timestamps(dates[-1], DAY, 7), dates[::-1][:7])
    assert gaps.find_gaps(dates, DAY).regular
    assert horizons.format_interval(DAY) == "1 business day"
    assert horizons.format_interval(3 * DAY) == "3 business days"
    # Business days since a Monday: the differences count steps across weekends.
    numbers = business_days.day_numbers(np.array(["2024-03-08", "2024-03-09", "2024-03-11"], "datetime64[ns]"))
    assert list(np.diff(numbers)) == [1, 0]


@pytest.mark.parametrize(
    "dates",
    [
        pd.date_range("2024-01-01", periods=60, freq="D").to_numpy(),  # every day: weekends have prices
        pd.date_range("2024-01-05", periods=30, freq="W-FRI").to_numpy(),  # every Friday: weekly
        pd.date_range("2024-01-01", periods=4, freq="D").to_numpy(),  # Monday to Thursday: no weekend inside
        pd.bdate_range("2024-01-01", periods=60, freq="h").to_numpy(),  # hourly
        np.array(["2024-01-04", "2024-01-05T01:00", "2024-01-08"], "datetime64[ns]"),  # another time of day
        np.array(["2024-01-05"], "datetime64[ns]"),
    ],
)
def test_other_spacings_are_not_business_day_grids(dates):
    assert business_days.grid_step(dates) is None
    if dates.shape[0] > 1:
        assert business_days.days_per_step(infer_interval(dates)) is None


def test_market_holidays_are_no_gaps_and_longer_runs_fill_onto_the_weekday_grid():
    full = _weekdays(30)  # from Wednesday 2024-01-03
    # One weekday missing (a holiday), or two in a row (Good Friday and Easter Monday): no gap.
    for holidays in ([5], [7, 8], [5, 12, 13]):
        assert gaps.find_gaps(np.delete(full, holidays), DAY).regular
    # Three weekdays in a row are a gap: missing data, not a holiday.
    kept = np.delete(np.arange(30), [4, 5, 6, 20])  # Tuesday to Thursday, and a lone holiday
    found = gaps.find_gaps(full[kept], DAY)
    assert (found.gap_count, found.missing, found.irregular) == (1, 3, 0)
    assert found.largest_after == full[3] and found.largest == np.timedelta64(4, "D")  # Monday to Friday
    values, stamps = gaps.fill_gaps(np.arange(30.0)[kept] + 1, full[kept], DAY)
    np.testing.assert_array_equal(stamps, full)  # the weekday grid, the holiday included
    np.testing.assert_array_equal(values[[3, 4, 5, 6, 7, 20]], [4.0, 4.0, 4.0, 4.0, 8.0, 20.0])
    weekend = full.copy()
    weekend[3] = np.datetime64("2024-01-06T16:00", "ns")  # a Saturday
    assert gaps.find_gaps(np.sort(weekend), DAY).irregular == 2


def test_the_mean_business_day_is_no_fixed_spacing_and_reads_back_as_text():
    assert np.timedelta64(7 * 86_400, "s") / 5 == DAY
    assert business_days.days_per_step(np.timedelta64(1, "D")) is None and business_days.days_per_step(None) is None
    assert business_days.days_per_step(2 * DAY) == 2
    # Five business days are a calendar week: weekly data keeps its fixed 7-day step.
    assert business_days.days_per_step(5 * DAY) is None and horizons.as_interval("5b") == np.timedelta64(7, "D")
    assert horizons.format_interval(np.timedelta64(7, "D")) == "7d"
    for text in ("1b", "1B", "1 bday", "1 business day", "1 Business Day"):
        assert horizons.as_interval(text) == DAY
    assert horizons.as_interval("5 business days") == 5 * DAY
    with pytest.raises(ValueError, match="whole number of one unit"):
        horizons.as_interval("1b2h")
    assert seasons.calendar_seasons(DAY) == (5,)


@pytest.mark.parametrize(
    ("horizon", "steps"),
    [("1d", 1), ("7d", 7), ("1w", 5), ("2 weeks", 10), ("1w2d", 7), ("5b", 5), ("P3D", 3)],
)
def test_a_horizon_on_business_days_counts_business_days_and_weeks_of_five(horizon, steps):
    assert horizons.horizon_to_steps(horizon, DAY) == steps
    assert horizons.horizon_to_steps(horizon, 1 * DAY) == steps


def test_horizons_that_are_not_whole_business_days_are_refused_saying_how_they_count():
    assert horizons.horizon_to_steps(datetime.timedelta(days=3), DAY) == 3
    assert horizons.horizon_to_steps("4d", 2 * DAY) == 2
    for horizon in ("36h", "1mo", "1.5d", "3d"):
        interval = 2 * DAY if horizon == "3d" else DAY
        with pytest.raises(ValueError, match=r"'1d' is the next one.*'1w' is five business days"):
            horizons.horizon_to_steps(horizon, interval)
    # On a calendar axis a business day is 33.6 hours: no whole number of hourly steps.
    with pytest.raises(ValueError, match="not a whole number"):
        horizons.horizon_to_steps("1b", "1h")


def test_forecast_dates_past_the_last_time_numpy_holds_are_refused():
    with pytest.raises(ValueError, match="after 2262"):
        horizons.future_timestamps(np.datetime64("2262-03-28"), DAY, 20)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Tokyo", "Europe/Berlin"])
def test_daily_prices_dated_at_local_midnight_in_a_zone_are_read_as_their_dates(zone):
    # yfinance's daily bars: midnights in the exchange's zone. In UTC, New York's are 23 or
    # 25 hours apart across summer time, and Tokyo's Mondays fall on Sundays.
    dates = pd.bdate_range("2023-01-02", periods=300)
    series = pd.Series(np.linspace(100.0, 130.0, 300), index=dates.tz_localize(zone))
    prices, stamps = as_price_series(series)
    np.testing.assert_array_equal(stamps, dates.to_numpy())
    assert infer_interval(series.index) == DAY
    frame = pd.DataFrame({"date": series.index, "close": prices})
    np.testing.assert_array_equal(as_price_series(frame)[1], dates.to_numpy())
    long = pd.DataFrame({"unique_id": "A", "ds": series.index, "y": prices})
    np.testing.assert_array_equal(split_long(long)["A"].index.to_numpy(), dates.to_numpy())


def test_other_times_in_a_zone_are_instants_read_in_utc():
    hours = pd.date_range("2023-03-10 22:00", periods=72, freq="h", tz="America/New_York")
    np.testing.assert_array_equal(horizons.without_zone(hours), hours.tz_convert(None))
    assert horizons.without_zone(hours).tz is None and infer_interval(hours) == np.timedelta64(1, "h")
    # A zone's midnights mixed with other times are instants too; naive times pass as they are.
    mixed = pd.DatetimeIndex(["2024-01-02 00:00", "2024-01-02 12:00"]).tz_localize("Asia/Tokyo")
    np.testing.assert_array_equal(horizons.without_zone(mixed), mixed.tz_convert(None))
    naive = pd.date_range("2024-01-01", periods=3)
    assert horizons.without_zone(naive) is naive
    np.testing.assert_array_equal(horizons.without_zone(pd.Series(mixed)), mixed.tz_convert(None))


@settings(max_examples=60, deadline=None)
@given(
    day=st.integers(0, 30_000),
    counts=st.lists(st.integers(-400, 400), min_size=1, max_size=8),
    minutes=st.integers(0, 24 * 60 - 1),
)
def test_steps_of_business_days_are_pandas_bday_offsets_and_count_back_to_themselves(day, counts, minutes):
    anchor = pd.bdate_range(pd.Timestamp("1970-01-01") + pd.Timedelta(days=day), periods=1)[0]
    anchor += pd.Timedelta(minutes=minutes)
    moved = business_days.step_days(np.datetime64(anchor, "ns"), counts)
    expected = np.array([anchor + pd.offsets.BDay(c) for c in counts], "datetime64[ns]")
    np.testing.assert_array_equal(moved, expected)
    # The numbers of the moved days are the anchor's plus the counts, and every one is on the grid.
    numbers = business_days.day_numbers(np.concatenate([[np.datetime64(anchor, "ns")], moved]))
    np.testing.assert_array_equal(numbers[1:] - numbers[0], counts)
    assert business_days.on_grid(moved, np.datetime64(anchor, "ns")).all()
