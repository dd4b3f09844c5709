"""``LSTMForecaster(calendar=...)`` and ``encoding="seasonal"``: inputs that know where each step is in time.

Calendar inputs come from the data's timestamps; the seasonal encoding's phases from each
window's positions in the fitted series. Both in fits, forecasts, backtests and files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep import calendars, encodings

# Every test but the settings' fits models.
slow = pytest.mark.slow

# No season: the calendar's tests see the clock alone (the default would find the daily rhythm of _hourly).
SMALL = dict(hidden_size=4, sequence_length=8, epochs=3, batch_size=32, calibration="auto", season_length=None)


def _hourly(n=160, seed=0, start="2024-01-01"):
    """Prices with an hour-of-day rhythm, on a regular hourly grid."""
    index = pd.date_range(start, periods=n, freq="h")
    rng = np.random.default_rng(seed)
    log = 0.03 * np.sin(2 * np.pi * index.hour / 24) + np.cumsum(rng.normal(0, 0.002, n))
    return pd.Series(100 * np.exp(log), index=index)


def test_settings_are_checked_and_recorded():
    assert jl.LSTMForecaster().calendar is None and jl.LSTMForecaster().calendar_ == ()
    assert jl.LSTMForecaster(calendar=["hour", "month"]).calendar == ("hour", "month")
    assert jl.LSTMForecaster(calendar=("hour",)).model_config.input_size == 3
    with pytest.raises(ValueError, match="calendar"):
        jl.LSTMForecaster(calendar="hourly")
    # The seasonal encoding with no season is the relative encoding, its windows plain prices.
    plain = jl.LSTMForecaster(encoding="seasonal", season_length=None)
    assert plain.model_inputs.encoding == encodings.RelativeEncoding() and plain.input_columns == ("close",)
    m = jl.LSTMForecaster(encoding="seasonal", season_length=12)
    assert m.input_columns == ("close", calendars.POSITION_COLUMN)
    assert m.model_inputs.encoding == encodings.SeasonalEncoding(encodings.RelativeEncoding(), 12)


@pytest.fixture(scope="module")
def direct():
    return jl.LSTMForecaster(**SMALL, direct_steps=4, calendar=("hour",)).fit(_hourly())


@pytest.fixture(scope="module")
def recursive():
    return jl.LSTMForecaster(**SMALL, calendar="auto").fit(_hourly())


@slow
def test_calendar_inputs_change_the_model_and_are_recorded(direct, recursive):
    plain = jl.LSTMForecaster(**SMALL, direct_steps=4).fit(_hourly())
    assert direct.calendar_ == ("hour",) and direct.calendar_step_ == 3600
    assert recursive.calendar_ == ("hour", "weekday")
    assert direct.input_columns == ("close", *calendars.CLOCK_COLUMNS)
    assert direct.params_["layers"][0]["w"].shape[0] != plain.params_["layers"][0]["w"].shape[0]
    assert not np.allclose(direct.forecast(steps=4).predicted, plain.forecast(steps=4).predicted)
    fc = recursive.forecast(steps=5)
    assert np.all(np.isfinite(fc.predicted)) and fc.timestamps[0] == np.datetime64("2024-01-07T16:00")


@slow
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


@slow
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


@slow
def test_auto_without_timestamps_is_the_model_without_calendar():
    series = _hourly()
    auto = jl.LSTMForecaster(**SMALL, calendar="auto").fit(series.to_numpy(), interval="1h")
    none = jl.LSTMForecaster(**SMALL).fit(series.to_numpy(), interval="1h")
    assert auto.calendar_ == () and auto.input_columns == ("close",)
    np.testing.assert_array_equal(auto.forecast(steps=3).predicted, none.forecast(steps=3).predicted)


@slow
def test_bad_input_names_what_calendar_inputs_need(direct):
    series = _hourly()
    with pytest.raises(ValueError, match=r"calendar=\('hour',\) needs timestamps"):
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.to_numpy(), interval="1h")
    # The gap is warned of first (as for any model), then the clock refuses it, naming the fill.
    with (
        pytest.warns(jl.data.GapWarning, match="1 gap"),
        pytest.raises(ValueError, match=r"regularly spaced timestamps, 3600 s apart.*fit\(\.\.\., gaps='fill'\)"),
    ):
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.drop(series.index[40]))
    with pytest.raises(ValueError, match="must have timestamps for a model with calendar inputs"):
        direct.observe(series.to_numpy()[-20:])
    with pytest.raises(ValueError, match="positive prices"):  # the price checks still apply, not to the clock
        jl.LSTMForecaster(**SMALL, calendar=("hour",)).fit(series.where(series.index != series.index[30], -1.0))


@slow
def test_observe_and_update_continue_the_clock(recursive):
    model = jl.LSTMForecaster.from_json(recursive.to_json())
    later = _hourly(n=200)
    model.update(later.iloc[160:], epochs=1)
    assert model.last_timestamp_ == later.index[-1]
    np.testing.assert_array_equal(model.prices_[-1, 1:], calendars.clock(later.index[-1:].to_numpy(), 3600)[0])
    model.observe(later.iloc[-30:])
    assert model.forecast(steps=2).timestamps[0] == later.index[-1] + pd.Timedelta("1h")


@slow
def test_backtest_origins_read_their_own_calendar():
    series = _hourly(n=220)
    factories = {
        "calendar": lambda: jl.LSTMForecaster(**SMALL, calendar=("hour",)),
        "plain": lambda: jl.LSTMForecaster(**SMALL),
    }
    result = jl.evaluation.backtest(series, factories, train_size=150, steps=4, stride=30)
    assert np.all(np.isfinite(result["calendar"].predicted))
    assert not np.allclose(result["calendar"].predicted, result["plain"].predicted)


def _monthly(n=144, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (100 + 0.3 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.01, n))


@slow
def test_the_seasonal_encoding_follows_the_season_and_round_trips(tmp_path):
    prices = _monthly()
    options = dict(hidden_size=8, sequence_length=12, epochs=20, season_length=12)
    seasonal = jl.LSTMForecaster(**options, encoding="seasonal").fit(prices[:-12])
    plain = jl.LSTMForecaster(**options, encoding="relative").fit(prices[:-12])
    errors = [np.mean(np.abs(m.forecast(steps=12).predicted - prices[-12:])) for m in (seasonal, plain)]
    assert errors[0] < 0.5 * errors[1]
    seasonal.save(tmp_path / "m")
    loaded = jl.LSTMForecaster.load(tmp_path / "m")
    assert loaded.model_inputs.encoding == seasonal.model_inputs.encoding
    np.testing.assert_array_equal(loaded.forecast(steps=12).predicted, seasonal.forecast(steps=12).predicted)
    np.testing.assert_array_equal(loaded.encoding_state_["season_3"], seasonal.encoding_state_["season_3"])
    with pytest.raises(ValueError, match="position of each price in its season"):
        loaded.observe(prices[-40:])


@slow
def test_a_refit_that_is_refused_leaves_the_calendar_and_season_of_the_fit_before():
    # fit reads its data as an unfitted model does (the calendar and an "auto" season are
    # reset first); a refused refit puts back what the fitted model had.
    series = _hourly(300)
    model = jl.LSTMForecaster(**{**SMALL, "season_length": "auto"}, calendar="auto").fit(series)
    before = (model.season_length_, model.calendar_, model.calendar_step_, model.input_columns)
    assert before[1] == ("hour", "weekday") and before[2] == 3600
    predicted = model.forecast(steps=3).predicted
    for bad in (series.where(series.index != series.index[40], -1.0), series[:5]):
        with pytest.raises(ValueError):
            model.fit(bad)
        assert (model.season_length_, model.calendar_, model.calendar_step_, model.input_columns) == before
        np.testing.assert_array_equal(model.forecast(steps=3).predicted, predicted)
