"""Monthly data with dates: no false gaps, forecast dates on the calendar grid, seasons continued by month."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep import months

# Each test fits models of its own; the month arithmetic itself is tested quickly in tests/prep/test_months.py.
pytestmark = pytest.mark.slow

SMALL = dict(hidden_size=4, epochs=2, batch_size=32, calibration="auto")


def _monthly(n: int = 132, freq: str = "MS") -> pd.Series:
    t = np.arange(n)
    values = 100 * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(0.004 * t)
    return pd.Series(values, index=pd.date_range("2010-01-01", periods=n, freq=freq))


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a regular monthly series has no gaps to warn of
        return jl.LSTMForecaster(**SMALL).fit(_monthly()[:-12])


def test_a_monthly_series_is_fitted_without_gaps_and_forecast_on_its_dates(fitted):
    series = _monthly()
    assert fitted.interval_ == months.MONTH and fitted.season_length_ == 12
    forecast = fitted.forecast(steps=12)
    np.testing.assert_array_equal(forecast.timestamps, series.index[-12:].to_numpy())
    # (Month ends continuing as month ends: tests/prep/test_months.py.)


def test_new_months_continue_the_season_in_observe_update_and_a_saved_model(fitted, tmp_path):
    series = _monthly()
    model = jl.LSTMForecaster.load(fitted.save(tmp_path / "monthly"))
    assert model.interval_ == months.MONTH
    model.observe(series[:-6])  # the overlap, then six new months
    assert model.last_timestamp_ == series.index[-7] and model.forecast_window()[-1, -1] == 125
    model.update(series[-6:], epochs=1)
    assert model.last_timestamp_ == series.index[-1] and model.forecast_window()[-1, -1] == 131
    assert model.forecast(steps=1).timestamps[0] == np.datetime64("2021-01-01")
    with pytest.raises(ValueError, match="off the model's time grid"):
        model.observe(pd.Series([100.0], index=pd.DatetimeIndex(["2021-01-15"])))
    # Undated prices continue by calendar months; the message names an interval= that works.
    with pytest.raises(ValueError, match=r"update\(data, interval='1 month'\)"):
        model.update(np.array([150.0, 151.0]))
    model.update(np.array([150.0, 151.0]), interval="1mo", epochs=1)
    assert model.last_timestamp_ == np.datetime64("2021-02-01")


def test_missing_months_are_gaps_and_calendar_inputs_say_why_they_do_not_apply():
    series = _monthly().drop(pd.Timestamp("2015-06-01"))
    with pytest.warns(jl.data.GapWarning, match=r"1 gap\(s\) longer than its 1 month interval \(1 missing"):
        jl.LSTMForecaster(**SMALL, season_length=None).fit(series)
    assert jl.LSTMForecaster(**SMALL, season_length=None, calendar="auto").fit(_monthly()).calendar_ == ()
    with pytest.raises(ValueError, match="calendar inputs need a fixed spacing, but data is dated every 1 month"):
        jl.LSTMForecaster(**SMALL, calendar=("month",)).fit(_monthly())
