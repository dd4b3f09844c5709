"""``LSTMForecaster(calendar=...)``: calendar inputs from the data's timestamps, in fits, forecasts, backtests and files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep import calendars

pytestmark = pytest.mark.slow  # every test fits models

SMALL = dict(hidden_size=4, sequence_length=8, epochs=3, batch_size=32, calibration="auto")


def _hourly(n=160, seed=0, start="2024-01-01"):
    """Prices with an hour-of-day rhythm, on a regular hourly grid."""
    index = pd.date_range(start, periods=n, freq="h")
    rng = np.random.default_rng(seed)
    log = 0.03 * np.sin(2 * np.pi * index.hour / 24) + np.cumsum(rng.normal(0, 0.002, n))
    return pd.Series(100 * np.exp(log), index=index)


@pytest.fixture(scope="module")
def direct():
    return jl.LSTMForecaster(**SMALL, direct_steps=4, calendar=("hour",)).fit(_hourly())


@pytest.fixture(scope="module")
def recursive():
    return jl.LSTMForecaster(**SMALL, calendar="auto").fit(_hourly())


def test_calendar_inputs_change_the_model_and_are_recorded(direct, recursive):
    plain = jl.LSTMForecaster(**SMALL, direct_steps=4).fit(_hourly())
    assert direct.calendar_ == ("hour",) and direct.calendar_step_ == 3600
    assert recursive.calendar_ == ("hour", "weekday")
    assert direct.input_columns == ("close", *calendars.CLOCK_COLUMNS)
    assert direct.params_["layers"][0]["w"].shape[0] != plain.params_["layers"][0]["w"].shape[0]
    assert not np.allclose(direct.forecast(steps=4).predicted, plain.forecast(steps=4).predicted)
    fc = recursive.forecast(steps=5)
    assert np.all(np.isfinite(fc.predicted)) and fc.timestamps[0] == np.datetime64("2024-01-07T16:00")


def test_a_recursive_forecast_feeds_the_calendar_of_each_next_step(recursive):
    # The reference: one-step forecasts from windows built by hand, each new row the
    # forecast close and the clock of the next timestamp (from pandas).
    window = np.asarray(recursive.forecast_window(), np.float64)
    stamp = pd.Timestamp(recursive.last_timestamp_)
    expected = []
    for _ in range(5):
        close = float(recursive.predict_multi_step(window, 1)[0])
        stamp += pd.Timedelta("1h")
        row = np.concatenate([[close], calendars.clock(np.array([stamp.to_datetime64()]), 3600)[0]])
        window = np.vstack([window[1:], row])
        expected.append(close)
    np.testing.assert_allclose(recursive.predict_multi_step(recursive.forecast_window(), 5), expected, rtol=1e-6)


def test_save_load_and_json_are_bit_identical(direct, recursive, tmp_path):
    for model in (direct, recursive):
        model.save(tmp_path / model.calendar_[-1])
        for loaded in (
            jl.LSTMForecaster.load(tmp_path / model.calendar_[-1]),
            jl.LSTMForecaster.from_json(model.to_json()),
        ):
            assert loaded.calendar_ == model.calendar_ and loaded.calendar_step_ == 3600
            assert loaded.get_params() == model.get_params()
            np.testing.assert_array_equal(loaded.forecast(steps=4).predicted, model.forecast(steps=4).predicted)
            np.testing.assert_array_equal(loaded.forecast(steps=4).upper, model.forecast(steps=4).upper)


def test_auto_without_timestamps_is_the_model_without_calendar():
    series = _hourly()
    auto = jl.LSTMForecaster(**SMALL, calendar="auto").fit(series.to_numpy(), interval="1h")
    none = jl.LSTMForecaster(**SMALL).fit(series.to_numpy(), interval="1h")
    assert auto.calendar_ == () and auto.input_columns == ("close",)
    np.testing.assert_array_equal(auto.forecast(steps=3).predicted, none.forecast(steps=3).predicted)


def test_bad_input_names_what_calendar_inputs_need(direct):
    series = _hourly()
    with pytest.raises(ValueError, match=r"calendar=\('hour',\) needs timestamps"):
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.to_numpy(), interval="1h")
    with pytest.raises(ValueError, match="regularly spaced timestamps, 3600 s apart"):
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.drop(series.index[40]))
    with pytest.raises(ValueError, match="must have timestamps for a model with calendar inputs"):
        direct.observe(series.to_numpy()[-20:])
    with pytest.raises(ValueError, match="positive prices"):  # the price checks still apply, not to the clock
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.where(series.index != series.index[30], -1.0))
    with pytest.raises(ValueError, match="not supported by global models"):
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit({"a": series, "b": series * 2})


def test_observe_and_update_continue_the_clock(recursive):
    model = jl.LSTMForecaster.from_json(recursive.to_json())
    later = _hourly(n=200)
    model.update(later.iloc[160:], epochs=1)
    assert model.last_timestamp_ == later.index[-1]
    np.testing.assert_array_equal(model.prices_[-1, 1:], calendars.clock(later.index[-1:].to_numpy(), 3600)[0])
    model.observe(later.iloc[-30:])
    assert model.forecast(steps=2).timestamps[0] == later.index[-1] + pd.Timedelta("1h")


def test_backtest_origins_read_their_own_calendar():
    series = _hourly(n=220)
    factories = {
        "calendar": lambda: jl.LSTMForecaster(**SMALL, calendar=("hour",)),
        "plain": lambda: jl.LSTMForecaster(**SMALL),
    }
    result = jl.evaluation.backtest(series, factories, train_size=150, steps=4, stride=30)
    assert np.all(np.isfinite(result["calendar"].predicted))
    assert not np.allclose(result["calendar"].predicted, result["plain"].predicted)
