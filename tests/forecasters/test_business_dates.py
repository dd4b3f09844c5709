"""Business-day data with dates: no weekend gaps, forecasts dated on weekdays, the trading week as its season."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep import business_days

# Each test fits models of its own; the business-day arithmetic is tested quickly in tests/prep/test_business_days.py.
pytestmark = pytest.mark.slow

SMALL = dict(hidden_size=4, epochs=2, batch_size=32, calibration="auto")


def _weekdays(n: int = 300) -> pd.Series:
    t = np.arange(n)
    values = 100 * (1 + 0.05 * np.sin(2 * np.pi * t / 5)) * np.exp(0.001 * t)  # a trading-week cycle
    return pd.Series(values, index=pd.bdate_range("2023-01-02 16:00", periods=n, normalize=False))


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # weekends are no gaps of business-day data
        return jl.LSTMForecaster(**SMALL).fit(_weekdays()[:-10])


def test_weekday_prices_are_fitted_without_gaps_and_forecast_on_weekdays(fitted):
    series = _weekdays()
    assert fitted.interval_ == business_days.BUSINESS_DAY and fitted.season_length_ == 5
    forecast = fitted.forecast("2w")  # ten business days
    np.testing.assert_array_equal(forecast.timestamps, series.index[-10:].to_numpy())
    assert fitted.forecast("1d").timestamps.shape == (1,) and fitted.forecast("7d").timestamps.shape == (7,)
    assert fitted.trained_on_.describe().startswith("290 business-day prices 2023-01-02 16:00")


def test_new_weekdays_continue_the_season_in_observe_update_and_a_saved_model(fitted, tmp_path):
    series = _weekdays()
    model = jl.LSTMForecaster.load(fitted.save(tmp_path / "weekdays"))
    assert model.interval_ == business_days.BUSINESS_DAY
    model.observe(series[:-5])  # the overlap, then five new weekdays
    assert model.last_timestamp_ == series.index[-6] and model.forecast_window()[-1, -1] == 294
    model.update(series[-5:], epochs=1)
    assert model.last_timestamp_ == series.index[-1] and model.forecast_window()[-1, -1] == 299
    with pytest.raises(ValueError, match="off the model's time grid"):
        model.observe(pd.Series([100.0], index=pd.DatetimeIndex(["2024-02-24 16:00"])))  # a Saturday
    # Undated prices continue by business days; the message names an interval= that works.
    with pytest.raises(ValueError, match=r"update\(data, interval='1 business day'\)"):
        model.update(np.array([150.0, 151.0]))
    model.update(np.array([150.0, 151.0]), interval="1b", epochs=1)
    assert model.last_timestamp_ == np.datetime64("2024-02-27T16:00")  # Friday 23rd, then Monday and Tuesday


def test_holidays_are_no_gaps_missing_weeks_are_and_interval_1d_keeps_the_calendar_day_axis():
    holiday = _weekdays().drop(pd.Timestamp("2023-07-04 16:00"))  # a market holiday
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jl.LSTMForecaster(**SMALL, season_length=None).fit(holiday)
    series = holiday.drop(pd.bdate_range("2023-08-07 16:00", periods=5, normalize=False))  # a week of no data
    with pytest.warns(jl.data.GapWarning, match=r"1 gap\(s\) longer than its 1 business day interval \(5 missing"):
        jl.LSTMForecaster(**SMALL, season_length=None).fit(series)
    filled = jl.LSTMForecaster(**SMALL, season_length=None).fit(series, gaps="fill")
    assert filled.prices_.shape[0] == 300  # the weekday grid, the holiday included
    # The axis before business days: every weekend a gap, forecasts on every calendar day.
    with pytest.warns(jl.data.GapWarning, match="longer than its 1d interval"):
        daily = jl.LSTMForecaster(**SMALL, season_length=None).fit(_weekdays(), interval="1d")
    assert daily.interval_ == np.timedelta64(1, "D")
    assert daily.forecast("2d").timestamps[-1] == np.datetime64("2024-02-25T16:00")  # a Sunday
    assert jl.LSTMForecaster(**SMALL, season_length=None, calendar="auto").fit(_weekdays()).calendar_ == ()
    with pytest.raises(ValueError, match="calendar inputs need a fixed spacing, but data is dated every 1 business"):
        jl.LSTMForecaster(**SMALL, calendar=("weekday",)).fit(_weekdays())


def test_yfinance_daily_bars_in_the_exchanges_zone_fit_on_their_weekdays():
    # Daily bars at midnight in New York, as yfinance gives them: read as their dates.
    series = _weekdays(200)
    series.index = series.index.normalize().tz_localize("America/New_York")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither weekends nor summer time are gaps
        model = jl.LSTMForecaster(**SMALL).fit(series)
    assert model.interval_ == business_days.BUSINESS_DAY
    assert model.last_timestamp_ == np.datetime64("2023-10-06")  # a Friday
    np.testing.assert_array_equal(
        model.forecast("1d").timestamps, np.array(["2023-10-09"], "datetime64[ns]")
    )  # the Monday after
