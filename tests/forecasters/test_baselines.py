"""Tests for jaxlstm.baselines and the horizon helpers."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxlstm._src.forecasters.forecast import Forecast
from jaxlstm._src.prep.horizons import HORIZON_HOURS, future_timestamps, horizon_to_steps
from jaxlstm.baselines import (
    DriftForecaster,
    HybridForecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)

HOUR = np.timedelta64(1, "h")
DAY = np.timedelta64(1, "D")


def all_forecasters():
    return [NaiveForecaster(), DriftForecaster(), SeasonalNaiveForecaster(season=3), HybridForecaster()]


def noisy_prices(n: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100.0 * np.exp(np.cumsum(rng.normal(0.001, 0.01, n)))


# ----------------------------------------------------------------- exact values


def test_naive_repeats_last_value():
    model = NaiveForecaster().fit(np.array([10.0, 12.0, 11.0, 13.0]))
    np.testing.assert_array_equal(model.forecast(steps=3).predicted, [13.0, 13.0, 13.0])
    np.testing.assert_array_equal(model.predict_multi_step([5.0, 7.0], 2), [7.0, 7.0])


def test_drift_extends_mean_change():
    # Mean one-step change of [10, 12, 11, 16] is (16 - 10) / 3 = 2.
    model = DriftForecaster().fit(np.array([10.0, 12.0, 11.0, 16.0]))
    assert model.slope_ == 2.0
    np.testing.assert_allclose(model.forecast(steps=3).predicted, [18.0, 20.0, 22.0])
    np.testing.assert_allclose(model.predict_multi_step([5.0, 7.0], 2), [9.0, 11.0])


def test_seasonal_naive_repeats_last_season():
    model = SeasonalNaiveForecaster(season=3).fit(np.arange(1.0, 8.0))
    # Last season of [1..7] is [5, 6, 7].
    np.testing.assert_array_equal(model.forecast(steps=5).predicted, [5.0, 6.0, 7.0, 5.0, 6.0])
    np.testing.assert_array_equal(model.predict_multi_step([9.0, 1.0, 2.0, 3.0], 4), [1.0, 2.0, 3.0, 1.0])


def test_seasonal_naive_with_season_one_is_naive():
    data = noisy_prices(20)
    np.testing.assert_array_equal(
        SeasonalNaiveForecaster(1).fit(data).forecast(steps=5).predicted,
        NaiveForecaster().fit(data).forecast(steps=5).predicted,
    )


def test_names_and_repr():
    assert [m.name for m in all_forecasters()] == ["naive", "drift", "seasonal_naive", "hybrid"]
    assert repr(SeasonalNaiveForecaster(24)) == "SeasonalNaiveForecaster(season=24)"


def test_fit_returns_self_and_refit_replaces_state():
    model = NaiveForecaster()
    assert model.fit([1.0, 2.0]) is model
    model.fit([3.0, 4.0, 5.0])
    np.testing.assert_array_equal(model.forecast(steps=1).predicted, [5.0])


# ----------------------------------------------------------------- hybrid quality


def test_hybrid_tracks_linear_trend():
    prices = 100.0 + 0.5 * np.arange(300.0)
    train, test = prices[:-24], prices[-24:]
    hybrid = HybridForecaster().fit(train).predict_multi_step(train, 24)
    naive = NaiveForecaster().fit(train).predict_multi_step(train, 24)
    hybrid_mae = np.mean(np.abs(hybrid - test))
    assert hybrid_mae < 0.1 * np.mean(np.abs(naive - test))
    assert np.max(np.abs(hybrid / test - 1)) < 0.005


def test_hybrid_tracks_exponential_growth():
    prices = 50.0 * np.exp(0.002 * np.arange(200.0))
    train, test = prices[:-24], prices[-24:]
    forecast = HybridForecaster().fit(train).predict_multi_step(train, 24)
    np.testing.assert_allclose(forecast, test, rtol=1e-3)


def test_a_hybrid_path_past_float64_is_a_value_error_without_overflow_warnings():
    import warnings

    model = HybridForecaster().fit(np.array([1.0, 1e200, 1e300, 1e305, 1e307]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the overflow is the check's to report, not numpy's
        with pytest.raises(ValueError, match="hybrid forecast reaches a non-finite value at step 1 of 50"):
            model.forecast(steps=50)


def test_hybrid_no_worse_than_naive_on_random_walks():
    rng = np.random.default_rng(42)
    hybrid_err = naive_err = 0.0
    for _ in range(20):
        prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 500)))
        train, test = prices[:-24], prices[-24:]
        hybrid_err += np.mean(np.abs(HybridForecaster().fit(train).predict_multi_step(train, 24) - test))
        naive_err += np.mean(np.abs(NaiveForecaster().fit(train).predict_multi_step(train, 24) - test))
    assert hybrid_err <= 1.2 * naive_err


def test_hybrid_constant_series_stays_constant():
    forecast = HybridForecaster().fit(np.full(30, 7.0)).forecast(steps=10)
    np.testing.assert_allclose(forecast.predicted, 7.0, rtol=1e-6)
    np.testing.assert_allclose(forecast.lower, forecast.upper)


def test_hybrid_parameters_come_from_grid():
    model = HybridForecaster().fit(noisy_prices(40))
    assert 0 < model.alpha_ <= 1 and 0 < model.beta_ < 1 and 0 < model.phi_ <= 1
    assert model.drift_weight_ in (0.0, 0.25, 0.5, 0.75, 1.0)
    assert np.isfinite(model.log_drift_)


def test_hybrid_window_is_independent_of_fit_data():
    # Fitted on one level, forecasting from a window ten times higher scales the forecast.
    data = 100.0 + 0.5 * np.arange(100.0)
    model = HybridForecaster().fit(data)
    np.testing.assert_allclose(
        model.predict_multi_step(10 * data[-30:], 5), 10 * model.predict_multi_step(data[-30:], 5), rtol=1e-5
    )


# ----------------------------------------------------------------- Forecast output


@pytest.mark.parametrize("model", all_forecasters(), ids=lambda m: m.name)
def test_forecast_shape_band_and_widths(model):
    result = model.fit(noisy_prices()).forecast(steps=12, confidence=0.9)
    assert isinstance(result, Forecast)
    assert len(result) == 12 and result.confidence == 0.9
    assert np.all(np.isfinite(result.predicted))
    assert np.all(result.lower <= result.predicted) and np.all(result.predicted <= result.upper)
    assert np.all(np.diff(result.upper - result.lower) > 0)


def test_wider_confidence_gives_wider_band():
    model = NaiveForecaster().fit(noisy_prices())
    narrow, wide = model.forecast(steps=3, confidence=0.5), model.forecast(steps=3, confidence=0.99)
    assert np.all(wide.upper - wide.lower > narrow.upper - narrow.lower)


def test_data_without_timestamps_has_no_timestamps_and_needs_an_interval_for_a_horizon():
    prices = noisy_prices()
    model = NaiveForecaster().fit(prices)
    with pytest.raises(ValueError, match=r"horizon '4h' needs the spacing.*interval=.*steps="):
        model.forecast(horizon="4h")
    # A malformed horizon is named as such first, not as one that lacks the spacing.
    with pytest.raises(ValueError, match=r"horizon must be a span of time with a unit.*got '2x'"):
        model.forecast(horizon="2x")
    with pytest.raises(TypeError, match=r"horizon must be a span of time such as '1d'; for 4 steps pass steps=4"):
        model.forecast(4)
    result = model.forecast(steps=4)
    assert result.timestamps is None and len(result) == 4
    daily = NaiveForecaster().fit(prices, interval="1d")
    assert len(daily.forecast("1w")) == 7 and daily.forecast("1w").timestamps is None
    hourly = NaiveForecaster().fit(prices, interval=datetime.timedelta(hours=1))
    assert len(hourly.forecast(pd.Timedelta("36h"))) == 36


def test_interval_must_match_the_timestamps():
    series = pd.Series(noisy_prices(40), index=pd.date_range("2024-03-01", periods=40, freq="h"))
    assert NaiveForecaster().fit(series, interval="1h").interval_ == HOUR
    with pytest.raises(ValueError, match=r"interval='1d' does not match.*\(1h\)"):
        NaiveForecaster().fit(series, interval="1d")
    with pytest.raises(TypeError, match="interval"):
        NaiveForecaster().fit(noisy_prices(), interval=3600)


@pytest.mark.parametrize(
    "freq, step, horizon, steps",
    [("h", HOUR, "1d", 24), ("h", HOUR, "36h", 36), ("D", DAY, "1d", 1), ("D", DAY, "7d", 7), ("D", DAY, "2d", 2)],
)
def test_forecast_continues_timestamps(freq, step, horizon, steps):
    index = pd.date_range("2024-03-01", periods=40, freq=freq)
    series = pd.Series(noisy_prices(40), index=index)
    result = HybridForecaster().fit(series).forecast(horizon=horizon)
    assert len(result) == steps
    assert result.timestamps[0] == np.datetime64(index[-1], "ns") + step
    np.testing.assert_array_equal(np.diff(result.timestamps), np.full(steps - 1, step.astype("timedelta64[ns]")))


# ----------------------------------------------------------------- horizon helpers


def test_a_horizon_that_is_not_whole_candles_is_an_error():
    series = pd.Series(noisy_prices(40), index=pd.date_range("2024-03-01", periods=40, freq="D"))
    model = HybridForecaster().fit(series)
    with pytest.raises(ValueError, match=r"horizon .1h. is 0.04167 steps of the data.s interval 1d.*multiple of 1d"):
        model.forecast("1h")


def test_horizon_to_steps_of_the_named_horizons():
    assert {h: horizon_to_steps(h, HOUR) for h in HORIZON_HOURS} == {"1h": 1, "4h": 4, "1d": 24, "7d": 168}
    with pytest.raises(TypeError):
        HORIZON_HOURS["2d"] = 48


def test_future_timestamps():
    out = future_timestamps(pd.Timestamp("2024-01-31 23:00"), HOUR, 2)
    np.testing.assert_array_equal(out, np.array(["2024-02-01T00:00", "2024-02-01T01:00"], dtype="datetime64[ns]"))
    with pytest.raises(ValueError, match="steps"):
        future_timestamps("2024-01-01", HOUR, 0)
    with pytest.raises(TypeError, match="last_timestamp"):
        future_timestamps("yesterday", HOUR, 1)
    with pytest.raises(TypeError, match="no future timestamps"):
        future_timestamps(None, DAY, 1)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("model", all_forecasters(), ids=lambda m: m.name)
def test_unfitted_model_says_call_fit(model):
    with pytest.raises(RuntimeError, match=r"call fit\(data\) first"):
        model.forecast(steps=1)
    with pytest.raises(RuntimeError, match=r"call fit\(data\) first"):
        model.predict_multi_step([1.0, 2.0, 3.0], 1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"steps": 0}, ValueError, "steps must be an integer >= 1, got 0"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"horizon": "1 fortnight"}, ValueError, "span of time"),
        ({"horizon": "30min"}, ValueError, "not a whole number"),
        ({"horizon": 3}, TypeError, "steps=3"),
        ({}, ValueError, "exactly one of horizon.*neither"),
        ({"horizon": "1d", "steps": 3}, ValueError, "exactly one of horizon.*both"),
        ({"steps": 3, "confidence": 1.5}, ValueError, "confidence"),
    ],
)
def test_bad_forecast_arguments(kwargs, error, match):
    model = NaiveForecaster().fit(noisy_prices(), interval="1h")
    with pytest.raises(error, match=match):
        model.forecast(**kwargs)


def test_bad_predict_arguments():
    model = SeasonalNaiveForecaster(3).fit(noisy_prices())
    with pytest.raises(ValueError, match="steps"):
        model.predict_multi_step(noisy_prices(5), 0)
    with pytest.raises(ValueError, match="window must have at least 3 prices"):
        model.predict_multi_step([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="window must be 1-D"):
        model.predict_multi_step(np.ones((2, 3)), 1)
    with pytest.raises(ValueError, match="window must contain only positive prices"):
        model.predict_multi_step([1.0, -2.0, 3.0], 1)


def test_many_series_given_to_fit_are_refused_pointing_at_fit_many():
    # A Series indexed by (unique_id, ds) was fitted as one series of every row.
    stamps = pd.date_range("2024-01-01", periods=4, freq="D")
    frame = pd.DataFrame({"unique_id": ["A"] * 4 + ["B"] * 4, "ds": list(stamps) * 2, "y": np.arange(1.0, 9.0)})
    for data in (frame, frame.set_index(["unique_id", "ds"])["y"], {"A": [1.0, 2.0, 3.0]}):
        with pytest.raises(ValueError, match=r"NaiveForecaster\.fit fits one series: NaiveForecaster\.fit_many"):
            NaiveForecaster().fit(data)
    fitted = NaiveForecaster.fit_many(frame.set_index(["unique_id", "ds"])["y"])
    assert list(fitted) == ["A", "B"] and fitted["B"].forecast(steps=1).predicted.tolist() == [8.0]


@pytest.mark.parametrize("model", all_forecasters(), ids=lambda m: m.name)
def test_nan_data_rejected(model):
    data = noisy_prices(20)
    data[5] = np.nan
    with pytest.raises(ValueError, match="finite"):
        model.fit(data)


@pytest.mark.parametrize(
    "model, n, minimum",
    [
        (NaiveForecaster(), 1, 2),
        (DriftForecaster(), 1, 2),
        (SeasonalNaiveForecaster(24), 24, 25),
        (HybridForecaster(), 2, 3),
    ],
    ids=["naive", "drift", "seasonal", "hybrid"],
)
def test_too_short_data_rejected(model, n, minimum):
    with pytest.raises(ValueError, match=f"data must have at least {minimum} prices to fit.*got {n}"):
        model.fit(noisy_prices(n))


def test_non_positive_data_rejected():
    with pytest.raises(ValueError, match="data must .*positive prices, got 0"):
        HybridForecaster().fit([1.0, 0.0, 2.0, 3.0])


@pytest.mark.parametrize("season, error", [(0, ValueError), (2.0, TypeError)])
def test_bad_season(season, error):
    with pytest.raises(error, match="season"):
        SeasonalNaiveForecaster(season)


def test_drift_crossing_zero_is_reported():
    # Slope -40 from 60: 20, then -20 at step 2.
    model = DriftForecaster().fit([100.0, 60.0])
    np.testing.assert_allclose(model.forecast(steps=1).predicted, [20.0])
    with pytest.raises(ValueError, match="non-positive price -20 at step 2 of 3"):
        model.forecast(steps=3)


# ----------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None)
@given(
    prices=hnp.arrays(np.float64, st.integers(4, 30), elements=st.floats(0.5, 2e4)),
    steps=st.integers(1, 30),
)
def test_any_positive_series_gives_finite_ordered_forecast(prices, steps):
    for model in all_forecasters()[:1] + all_forecasters()[2:]:
        result = model.fit(prices).forecast(steps=steps)
        assert len(result) == steps
        assert np.all(np.isfinite(result.predicted)) and np.all(np.isfinite(result.upper))
        assert np.all(result.lower <= result.predicted) and np.all(result.predicted <= result.upper)
