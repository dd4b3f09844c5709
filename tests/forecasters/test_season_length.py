"""``season_length``: the window it implies, "auto" detection on the training part only, and save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl

SMALL = dict(hidden_size=4, sequence_length=6, epochs=2, batch_size=32, calibration="auto")


def _monthly(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (100 + t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=n, freq="30D"))


def test_the_window_covers_the_season_and_the_horizon():
    assert jl.LSTMForecaster().input_length == 20  # no season yet: "auto" resolves it at fit
    assert jl.LSTMForecaster(season_length=12).input_length == 20
    assert jl.LSTMForecaster(season_length=24).input_length == 30
    m = jl.LSTMForecaster(season_length=24, direct_steps=48)
    assert m.input_length == 60 and m.window_length == 60 and m.min_fit_length == 108
    assert jl.LSTMForecaster(season_length=24, sequence_length=100).input_length == 100


@pytest.mark.parametrize("bad", [1, 0, "weekly", 2.5, True, 10**6])
def test_bad_season_lengths_are_refused(bad):
    with pytest.raises((TypeError, ValueError), match="season_length"):
        jl.LSTMForecaster(season_length=bad)


@pytest.fixture(scope="module")
def auto_fitted():
    return jl.LSTMForecaster(**SMALL, season_length="auto", encoding="relative").fit(_monthly())


def test_auto_detects_the_calendar_season_and_sizes_the_window(auto_fitted):
    assert auto_fitted.season_length == "auto" and auto_fitted.season_length_ == 12
    assert auto_fitted.input_length == 15 and auto_fitted.forecast_window().shape == (15,)
    assert auto_fitted.forecast(steps=3).predicted.shape == (3,)
    # Head-refit calibration copies read the same windows.
    assert all(s.model.window_length == 15 for s in auto_fitted.calibration_models_.values())


def test_auto_on_a_random_walk_finds_no_season():
    rng = np.random.default_rng(3)
    walk = pd.Series(
        100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))), index=pd.date_range("2024", periods=300, freq="h")
    )
    m = jl.LSTMForecaster(**SMALL, season_length="auto")
    assert m.resolve_season(walk.to_numpy(), np.timedelta64(1, "h")) is None and m.input_length == 6


def test_dates_find_the_season_of_a_short_monthly_series_and_keep_a_yearly_cycle():
    # Four years of monthly values: the calendar's 12 is found where the undated scan of every
    # lag finds nothing; yearly dates imply no calendar season, so every lag is scanned as undated.
    rng = np.random.default_rng(0)
    months = np.arange(48)
    values = np.exp(0.002 * months + 0.1 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 0.03, 48))
    dated = pd.Series(values, index=pd.date_range("2001-01-01", periods=48, freq="MS"))
    m = jl.LSTMForecaster(**SMALL, season_length="auto")
    assert m.resolve_season(values) is None
    assert jl.LSTMForecaster(**SMALL).resolve_season(values, np.timedelta64(2_629_746, "s")) == 12
    m.fit(dated)
    assert m.season_length_ == 12 and m.interval_ == np.timedelta64(2_629_746, "s")
    years = np.arange(100)
    cycle = np.exp(5 + 0.3 * np.sin(2 * np.pi * years / 10) + rng.normal(0, 0.03, 100))
    yearly = np.timedelta64(12 * 2_629_746, "s")
    assert (
        jl.LSTMForecaster(**SMALL).resolve_season(cycle, yearly)
        == 10
        == jl.LSTMForecaster(**SMALL).resolve_season(cycle)
    )


def test_undated_monthly_values_given_interval_1mo_are_tested_at_12_and_forecast_in_years():
    rng = np.random.default_rng(0)
    months = np.arange(48)
    values = np.exp(0.002 * months + 0.1 * np.sin(2 * np.pi * months / 12) + rng.normal(0, 0.03, 48))
    m = jl.LSTMForecaster(**SMALL).fit(values, interval="1mo")
    assert m.season_length_ == 12 and m.interval_ == np.timedelta64(2_629_746, "s")
    forecast = m.forecast("1y")
    assert forecast.predicted.shape == (12,) and forecast.timestamps is None
    with pytest.raises(ValueError, match="not a whole number"):
        m.forecast("1w")


def test_poisoned_future_does_not_move_the_detected_season():
    series = _monthly().to_numpy()
    m = jl.LSTMForecaster(**SMALL, season_length="auto")
    holdout = m.planned_holdout(series.size)
    assert holdout and holdout > 0
    poisoned = series.copy()
    # After the training part: a 5-step season of enormous amplitude.
    poisoned[-holdout:] = 1e4 * (2 + np.sin(2 * np.pi * np.arange(holdout) / 5))
    month = np.timedelta64(31, "D")
    assert m.resolve_season(series, month) == 12
    assert jl.LSTMForecaster(**SMALL, season_length="auto").resolve_season(poisoned, month) == 12
    # Without a spacing every lag is scanned, and the poison still does not reach it.
    assert m.resolve_season(series) == m.resolve_season(poisoned) == 12


def test_save_and_load_keep_the_detected_season(auto_fitted, tmp_path):
    auto_fitted.save(tmp_path / "m")
    loaded = jl.LSTMForecaster.load(tmp_path / "m")
    assert loaded.season_length == "auto" and loaded.season_length_ == 12 and loaded.window_length == 15
    np.testing.assert_allclose(loaded.forecast(steps=3).predicted, auto_fitted.forecast(steps=3).predicted, rtol=1e-6)


def test_a_seasonal_model_without_a_season_saved_with_positions_still_loads():
    from jaxlstm._src.forecasters import lstm_state

    walk = 100 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.01, 120)))
    model = jl.LSTMForecaster(**SMALL).fit(walk)
    assert model.encoding == "seasonal" and model.season_length_ is None and model.input_columns == ("close",)
    tree, metadata = lstm_state.saved_parts(model)
    # The previous version's window of such a model: each price with its position.
    window = np.asarray(metadata["data"]["last_window"])
    metadata["data"]["last_window"] = np.stack([window, 114.0 + np.arange(window.size)], axis=1).tolist()
    loaded = lstm_state.from_parts(jl.LSTMForecaster, tree, metadata, "saved")
    np.testing.assert_array_equal(loaded.forecast_window(), model.forecast_window())
    np.testing.assert_array_equal(loaded.forecast(steps=3).predicted, model.forecast(steps=3).predicted)


def test_the_volatility_band_of_a_deseasonalising_model_reads_the_deseasonalised_closes():
    # Forty quarters with a +/-30% season: too few calibration residuals, so the band is the
    # volatility band. It read the raw log returns, season included, and was 3-5 times the
    # forecast wide on such series (austourists, JohnsonJohnson); the model forecasts the season.
    rng = np.random.default_rng(4)
    t = np.arange(40)
    values = 100 * (1 + 0.3 * np.sin(2 * np.pi * t / 4 + 0.5)) * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
    model = jl.LSTMForecaster(hidden_size=4, sequence_length=6, epochs=2, season_length=4).fit(values)
    assert model.band_offsets(4)[2] == "volatility"
    indices = np.array([model.encoding_state_[f"season_{i}"] for i in range(4)])
    rms = lambda prices: np.sqrt(np.mean(np.square(np.diff(np.log(prices)))))
    assert model.volatility_ == pytest.approx(rms(values / indices[t % 4]), rel=1e-12)
    assert model.volatility_ < 0.2 * rms(values)
    # Without a season in use it is the raw log returns'.
    plain = jl.LSTMForecaster(hidden_size=4, sequence_length=6, epochs=2, season_length=None).fit(values)
    assert plain.volatility_ == pytest.approx(rms(values), rel=1e-12)


def test_the_volatility_band_counts_the_drift_a_smooth_trend_has():
    # Thirty years of steady 4% growth (guinearice's first values): the log returns' spread is
    # ~0, and the volatility band was a line around a forecast that did not follow the trend.
    values = 100 * 1.04 ** np.arange(30) * (1 + 1e-7 * np.sin(np.arange(30)))
    model = jl.LSTMForecaster(hidden_size=4, sequence_length=6, epochs=2, season_length=None).fit(values)
    assert model.band_offsets(4)[2] == "volatility"
    assert model.volatility_ == pytest.approx(np.log(1.04), rel=1e-3)
    lower, upper, _ = model.band_offsets(1)
    assert upper[0] == -lower[0] == pytest.approx(1.959964 * np.log(1.04), rel=1e-3)
