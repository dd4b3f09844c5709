"""``encoding="seasonal"`` and calendar inputs after the fit: new data, ``fit_many`` and the model cache.

A seasonal model's windows carry each price's position in the fitted series, from which the
encoding reads its phase. New prices continue that numbering from the model's last price
(``time_columns.continued_positions``, ``continuation.read_update``): the phases and encoded
windows of an ``update`` or ``observe`` are those of a fit on the longer series, checked here
against positions counted from the timestamps and a NumPy encoding written out.
"""

from __future__ import annotations

import datetime
import types

import jax
import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.forecasters import continuation, time_columns
from jaxlstm._src.prep import calendars

slow = pytest.mark.slow

M = 12
SMALL = dict(hidden_size=4, sequence_length=8, epochs=3, encoding="seasonal", season_length=M)
START = pd.Timestamp("2024-01-01")


def _series(n=220, seed=0):
    """Hourly-dated prices with a strong multiplicative season of ``M`` steps and a trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    prices = (100 + 0.2 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / M)) * np.exp(rng.normal(0, 0.005, n))
    return pd.Series(prices, index=pd.date_range(START, periods=n, freq="h"))


def _index(stamps) -> np.ndarray:
    """The position of each timestamp in the full series (the reference, from the clock alone)."""
    return ((pd.DatetimeIndex(stamps) - START) // pd.Timedelta("1h")).to_numpy().astype(np.float64)


def _encoded(model, closes: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The network inputs of one window written out in NumPy: deseasonalised, then log relative to the last price."""
    state = model.encoding_state_
    indices = np.array([state[f"season_{j}"] for j in range(M)])
    adjusted = closes / indices[positions.astype(int) % M]
    return np.log(adjusted / adjusted[-1]) / state["log_return_std"]


def _fake(last_position=149.0, last="2024-01-07 05:00", interval="1h"):
    """What ``continued_positions`` reads of a fitted model: its last window's last row, last timestamp and interval."""
    prices = np.array([[100.0, last_position - 1], [101.0, last_position]])
    stamp = None if last is None else np.datetime64(last, "ns")
    step = None if interval is None else np.timedelta64(pd.Timedelta(interval))
    return types.SimpleNamespace(prices_=prices, last_timestamp_=stamp, interval_=step)


# ----------------------------------------------------------------------------- positions (no model)


def test_dated_data_takes_its_positions_from_the_steps_since_the_models_last_price():
    model = _fake()
    stamps = pd.date_range(START + pd.Timedelta("140h"), periods=20, freq="h")
    found = time_columns.continued_positions(model, np.ones(20), stamps.to_numpy(), None, "data", False)
    np.testing.assert_array_equal(found[:, 1], _index(stamps))  # the overlap gets the positions the model holds
    later = pd.date_range(START + pd.Timedelta("300h"), periods=3, freq="h")  # after a gap: its own steps
    found = time_columns.continued_positions(model, np.ones(3), later.to_numpy(), None, "data", False)
    np.testing.assert_array_equal(found[:, 1], [300, 301, 302])
    # Undated prices that continue right after the last (update's rule): one step each.
    found = time_columns.continued_positions(model, np.ones((3, 1)), None, None, "data", True)
    np.testing.assert_array_equal(found, [[1, 150], [1, 151], [1, 152]])
    undated = _fake(last=None, interval=None)
    found = time_columns.continued_positions(undated, np.ones(2), later.to_numpy(), None, "data", True)
    np.testing.assert_array_equal(found[:, 1], [150, 151])


def test_data_that_does_not_say_its_place_in_the_season_is_refused():
    model = _fake()
    with pytest.raises(ValueError, match="undated data does not say: give dated prices"):
        time_columns.continued_positions(model, np.ones(3), None, None, "data", False)
    with pytest.raises(ValueError, match="a model fitted on undated prices cannot count"):
        stamps = pd.date_range(START, periods=3, freq="h").to_numpy()
        time_columns.continued_positions(_fake(last=None), np.ones(3), stamps, None, "data", False)
    with pytest.raises(ValueError, match="interval 1d is not the model's 1h"):
        stamps = pd.date_range(START, periods=3, freq="D").to_numpy()
        time_columns.continued_positions(model, np.ones(3), stamps, np.timedelta64(1, "D"), "window", False)
    with pytest.raises(ValueError, match="2024-01-01 00:30:00, off the model's time grid"):
        stamps = pd.date_range(START + pd.Timedelta("30min"), periods=3, freq="h").to_numpy()
        time_columns.continued_positions(model, np.ones(3), stamps, None, "data", True)


def test_a_fingerprint_records_only_the_columns_read_from_data():
    series = _series(40)
    plain = jl.data.fingerprint(series)
    assert jl.data.fingerprint(series, columns=("close", calendars.POSITION_COLUMN)) == plain
    assert jl.data.fingerprint(series, columns=("close", *calendars.CLOCK_COLUMNS)) == plain


# ----------------------------------------------------------------------------- update and observe


@pytest.fixture(scope="module")
def fitted():
    return jl.LSTMForecaster(**SMALL).fit(_series()[:150])


@slow
def test_update_gives_the_phases_and_windows_of_a_fit_on_the_longer_series(fitted):
    series = _series()
    new = series[140:175]  # ten prices the model saw, then 25 new ones
    with pytest.warns(UserWarning, match="dropped the first 10"):
        found = continuation.read_update(fitted, new, "data", None, False)
    window = fitted.window_length
    np.testing.assert_array_equal(found.series[:, 0], series.to_numpy()[150 - window : 175])
    np.testing.assert_array_equal(found.series[:, 1], _index(series.index[150 - window : 175]))
    # One training window per new price, each encoded as the same window of the longer series.
    assert found.n_windows == 25
    xs = np.asarray(found.data.xs)[: found.n_windows, :, 0]
    for k in range(found.n_windows):
        rows = found.series[k : k + window]
        np.testing.assert_allclose(xs[k], _encoded(fitted, rows[:, 0], rows[:, 1]), rtol=1e-4, atol=1e-4)
    model = jl.LSTMForecaster.from_json(fitted.to_json())
    with pytest.warns(UserWarning, match="dropped"):
        model.update(new, epochs=1)
    np.testing.assert_array_equal(model.prices_, found.series)
    # A later update continues from there.
    model.update(series[175:190], epochs=1)
    np.testing.assert_array_equal(model.prices_[-15:, 1], _index(series.index[175:190]))
    assert model.last_timestamp_ == series.index[189]


@slow
def test_forecasts_after_update_follow_the_season_and_save_load_changes_nothing(fitted, tmp_path):
    series = _series()
    before = jl.LSTMForecaster.from_json(fitted.to_json())
    fitted.save(tmp_path / "m")
    loaded = jl.LSTMForecaster.load(tmp_path / "m")
    for model in (before, loaded):
        model.update(series[150:180], epochs=2)
    np.testing.assert_array_equal(loaded.prices_, before.prices_)
    for leaf, other in zip(jax.tree.leaves(loaded.params_), jax.tree.leaves(before.params_), strict=True):
        np.testing.assert_array_equal(leaf, other)
    fc = before.forecast(steps=2 * M)
    np.testing.assert_array_equal(loaded.forecast(steps=2 * M).predicted, fc.predicted)
    assert np.all(np.isfinite(fc.predicted)) and fc.timestamps[0] == series.index[180]
    # The forecast rises and falls with the season at its true phase, not at another.
    log = np.log(fc.predicted)
    shape = log - np.polyval(np.polyfit(np.arange(2 * M), log, 1), np.arange(2 * M))  # the forecast less its trend
    phase = np.sin(2 * np.pi * np.arange(180, 204) / M)
    assert np.corrcoef(shape, phase)[0, 1] > 0.9
    shifted = np.sin(2 * np.pi * np.arange(183, 207) / M)
    assert np.corrcoef(shape, shifted)[0, 1] < 0.5
    # Saved again after the update, the positions go with it.
    before.save(tmp_path / "after")
    again = jl.LSTMForecaster.load(tmp_path / "after")
    np.testing.assert_array_equal(again.forecast_window(), before.forecast_window())
    np.testing.assert_array_equal(again.forecast(steps=M).predicted, before.forecast(steps=M).predicted)


@slow
def test_update_keeps_the_fitted_season_and_counts_a_gap_as_one_step(fitted):
    series = _series()
    model = jl.LSTMForecaster.from_json(fitted.to_json())
    indices = dict(model.encoding_state_)
    # Poisoned new prices (ten times higher, no season) move nothing fitted from the training part.
    poisoned = pd.Series(np.full(20, 10 * series.iloc[149]), index=series.index[150:170])
    model.update(poisoned, epochs=1)
    assert model.encoding_state_ == indices
    # With allow_gap, a gap is one step, as a fit on the longer series with that gap numbers its rows.
    gapped = series[180:190]
    model.update(gapped, epochs=1, allow_gap=True)
    longer = calendars.with_positions(np.concatenate([series.to_numpy()[:170], gapped.to_numpy()]))
    np.testing.assert_array_equal(model.prices_[-10:, 1], longer[-10:, 1])
    assert model.prices_[-1, 1] == 179 and model.last_timestamp_ == series.index[189]


@slow
def test_observe_and_windows_read_from_data_continue_the_positions(fitted):
    series = _series()
    model = jl.LSTMForecaster.from_json(fitted.to_json())
    model.observe(series[100:200])
    np.testing.assert_array_equal(model.forecast_window()[:, 1], _index(series.index[200 - model.window_length : 200]))
    window = series[200 - model.window_length : 200]
    np.testing.assert_array_equal(
        model.predict_multi_step(window, 3), model.predict_multi_step(model.forecast_window(), 3)
    )
    expected = calendars.with_positions(series.to_numpy()[:200])[-model.window_length :]
    np.testing.assert_array_equal(model.forecast_window(), expected)
    assert model.encoding_state_ == fitted.encoding_state_  # observe fits nothing
    with pytest.raises(ValueError, match="position of each price in its season"):
        model.observe(series.to_numpy()[-40:])


def test_a_plain_price_window_is_refused_naming_the_columns_and_where_they_come_from(fitted):
    # "window must be 2-D, got shape (30,)" said nothing of the position column or of dated windows.
    series = _series()
    window = series[150 - fitted.window_length : 150]
    pattern = (
        r"window must be \[time, 2\] rows with the columns \['close', 'season_position'\] for LSTMForecaster\(.*\), "
        r"got 1-D values of shape \(\d+,\); \['season_position'\] are computed from timestamps when window is dated"
    )
    with pytest.raises(ValueError, match=pattern):
        fitted.predict_multi_step(window.to_numpy(), 3)
    np.testing.assert_array_equal(
        fitted.predict_multi_step(window, 3), fitted.predict_multi_step(fitted.forecast_window(), 3)
    )


# ----------------------------------------------------------------------------- fit_many and the cache


def _undated(period, n=150, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (50 + 0.1 * t) * (1 + 0.15 * np.sin(2 * np.pi * t / period)) * np.exp(rng.normal(0, 0.005, n))


@slow
def test_fit_many_fits_each_series_its_own_season_and_calendar():
    data = {"twelve": _undated(12), "seven": _undated(7, seed=1)}
    options = dict(SMALL, season_length="auto")
    many = jl.LSTMForecaster.fit_many(data, **options)
    assert {name: m.season_length_ for name, m in many.items()} == {"twelve": 12, "seven": 7}
    for name, prices in data.items():
        alone = jl.LSTMForecaster(**options, symbol=name).fit(prices)
        np.testing.assert_allclose(many[name].forecast(steps=6).predicted, alone.forecast(steps=6).predicted, rtol=1e-5)
        assert many[name].trained_on_ == jl.data.fingerprint(prices, columns=many[name].input_columns)
    hourly = {"a": _series(), "b": _series(seed=1) * 3}
    calendar = jl.LSTMForecaster.fit_many(hourly, hidden_size=4, sequence_length=8, epochs=2, calendar="auto")
    alone = jl.LSTMForecaster(hidden_size=4, sequence_length=8, epochs=2, calendar="auto", symbol="b").fit(hourly["b"])
    assert calendar["b"].calendar_ == ("hour", "weekday") and calendar["b"].input_columns == alone.input_columns
    np.testing.assert_allclose(calendar["b"].forecast(steps=3).predicted, alone.forecast(steps=3).predicted, rtol=1e-5)


class _Clock:
    def __init__(self):
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self):
        return self.now


@slow
@pytest.mark.parametrize("settings", [SMALL, dict(hidden_size=4, sequence_length=8, epochs=2, calendar="auto")])
def test_the_cache_refreshes_a_stale_seasonal_or_calendar_model_by_update(settings, tmp_path):
    series, clock, calls = _series(), _Clock(), []

    def train(symbol):
        calls.append(symbol)
        return jl.LSTMForecaster(**settings, symbol=symbol).fit(series[:150])

    cache = jl.ModelCache(tmp_path, train_fn=train, clock=clock)
    first = cache.get("X", settings=settings, data=series[:150])
    assert cache.status("X", settings=settings, data=series[:150]).fresh
    clock.now += datetime.timedelta(hours=25)
    refreshed = cache.get("X", settings=settings, data=series[:180])
    assert calls == ["X"] and refreshed.metrics_["updates"] == 1 and "updates" not in first.metrics_
    assert refreshed.last_timestamp_ == series.index[179]
    expected = first.to_json()
    reference = jl.LSTMForecaster.from_json(expected)
    with pytest.warns(UserWarning, match="dropped"):
        reference.update(series[:180], epochs=cache.update_epochs)
    np.testing.assert_array_equal(refreshed.forecast_window(), reference.forecast_window())
    # Saved: a new cache (a new process) finds it fresh for the longer data and forecasts the same.
    again_cache = jl.ModelCache(tmp_path, clock=clock)
    assert again_cache.status("X", settings=settings, data=series[:180]).fresh
    again = again_cache.get("X", settings=settings, data=series[:180])
    np.testing.assert_array_equal(again.forecast(steps=4).predicted, refreshed.forecast(steps=4).predicted)
