"""Global models with the seasonal encoding and calendar inputs: each series its own season and clock."""

from __future__ import annotations

import functools

import jax
import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep import seasons

SMALL = dict(hidden_size=4, sequence_length=6, epochs=3, batch_size=32)
slow = pytest.mark.slow


def _seasonal(n: int, m: int, seed: int, noise: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    level = 100 * np.exp(np.cumsum(rng.normal(0.0, noise, n)))
    return level * (1 + 0.3 * np.sin(2 * np.pi * np.arange(n) / m))


def _hourly(values: np.ndarray, start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="h"))


def _same_fit(pooled: jl.LSTMForecaster, alone: jl.LSTMForecaster, name: str) -> None:
    for leaf, other in zip(jax.tree.leaves(pooled.params_), jax.tree.leaves(alone.params_), strict=True):
        np.testing.assert_allclose(np.asarray(leaf), np.asarray(other), rtol=1e-6, atol=1e-7)
    a, b = alone.forecast(steps=5), pooled.forecast(steps=5)[name]
    for field in ("predicted", "lower", "upper"):
        np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=1e-6)
    np.testing.assert_array_equal(b.timestamps, a.timestamps)
    assert pooled.metrics_["epochs_run"] == alone.metrics_["epochs_run"]


@slow
@pytest.mark.parametrize("season_length", [4, "auto"])
def test_a_global_seasonal_fit_of_one_series_equals_the_local_fit(season_length):
    settings = dict(SMALL, encoding="seasonal", season_length=season_length)
    prices = _seasonal(130, 4, 0)
    alone = jl.LSTMForecaster(**settings).fit(prices)
    pooled = jl.LSTMForecaster(**settings).fit({"B": prices})
    assert alone.season_length_ == pooled.series_["B"].season_length_ == 4
    assert pooled.series_["B"].encoding_state_ == alone.encoding_state_
    _same_fit(pooled, alone, "B")


@slow
def test_a_global_calendar_fit_and_update_of_one_series_equal_the_local_ones():
    series = _hourly(_seasonal(150, 24, 3))
    settings = dict(SMALL, calendar="auto")
    alone = jl.LSTMForecaster(**settings).fit(series[:130])
    pooled = jl.LSTMForecaster(**settings).fit({"B": series[:130]})
    assert pooled.calendar_ == pooled.series_["B"].calendar_ == alone.calendar_ == ("hour", "weekday")
    _same_fit(pooled, alone, "B")
    alone.update(series[130:], epochs=2)
    pooled.update({"B": series[130:]}, epochs=2)
    for leaf, other in zip(jax.tree.leaves(pooled.params_), jax.tree.leaves(alone.params_), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(other))
    np.testing.assert_array_equal(pooled.series_["B"].prices_, alone.prices_)
    np.testing.assert_array_equal(pooled.forecast(steps=3)["B"].predicted, alone.forecast(steps=3).predicted)


@pytest.fixture(scope="module")
def mixed():
    """A global seasonal model of three series of other lengths and seasons (4, 6 and 12), each detecting its own."""
    data = {"A": _seasonal(150, 4, 0, 0.0), "B": _seasonal(97, 6, 1, 0.0), "C": _seasonal(203, 12, 2, 0.0)}
    model = jl.LSTMForecaster(**SMALL, encoding="seasonal", season_length="auto").fit(data)
    return model, data


@slow
def test_each_series_removes_its_own_season_at_its_own_phase(mixed):
    model, data = mixed
    assert {name: view.season_length_ for name, view in model.series_.items()} == {"A": 4, "B": 6, "C": 12}
    # One window for all, that of the largest season; the global model records it.
    assert model.season_length_ == 12
    assert {view.window_length for view in model.series_.values()} == {seasons.default_window(6, 1, 12)}
    for name, view in model.series_.items():
        m, n = view.season_length_, data[name].shape[0]
        # Each series' season, detected on its own training part, as a local model detects it.
        assert jl.LSTMForecaster(**SMALL, encoding="seasonal", season_length="auto").resolve_season(data[name]) == m
        # Exactly periodic series: with the phase right the deseasonalised window is flat, so
        # the relative encoding of the last window is 0 (a phase off by one step is not).
        window = view.forecast_window()
        assert window[-1, -1] == n - 1  # the positions of the series' own numbering
        state = view.model_inputs.device_state(view.encoding_state_, {})
        inputs = np.asarray(view.model_inputs.encode(state, window))
        np.testing.assert_allclose(inputs, 0.0, atol=1e-4)
        shifted = window.copy()
        shifted[:, -1] += 1
        assert np.abs(np.asarray(view.model_inputs.encode(state, shifted))).max() > 0.1
        # The forecast carries the season on from the right phase.
        predicted = model.forecast(steps=m)[name].predicted
        expected = data[name][-m:] * (1 + 0.3 * np.sin(2 * np.pi * (n + np.arange(m)) / m))
        expected /= 1 + 0.3 * np.sin(2 * np.pi * (n - m + np.arange(m)) / m)
        assert np.corrcoef(predicted, expected)[0, 1] > 0.9


@slow
def test_a_mixed_season_global_model_saves_and_loads_bit_identically(mixed, tmp_path):
    model, _ = mixed
    before = model.forecast(steps=6)
    for other in (
        jl.LSTMForecaster.load(model.save(tmp_path / "seasonal")),
        jl.LSTMForecaster.from_json(model.to_json()),
    ):
        assert other.season_length_ == 12
        assert {name: v.season_length_ for name, v in other.series_.items()} == {"A": 4, "B": 6, "C": 12}
        after = other.forecast(steps=6)
        for name in before:
            for field in ("predicted", "lower", "upper"):
                np.testing.assert_array_equal(getattr(after[name], field), getattr(before[name], field))


@slow
def test_a_global_seasonal_update_of_one_series_equals_the_local_update_and_continues_its_positions():
    settings = dict(SMALL, encoding="seasonal", season_length="auto")
    prices = _seasonal(130, 7, 0)  # a weekly season: what daily data is tested for
    alone = jl.LSTMForecaster(**settings).fit(prices[:-5], interval="1D")
    assert alone.season_length_ == 7
    pooled = jl.LSTMForecaster(**settings).fit({"A": prices[:-5]}, interval="1D")
    alone.update(prices[-5:], epochs=2, interval="1D")
    pooled.update({"A": prices[-5:]}, epochs=2, interval="1D")
    for leaf, other in zip(jax.tree.leaves(pooled.params_), jax.tree.leaves(alone.params_), strict=True):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(other))
    np.testing.assert_array_equal(pooled.series_["A"].prices_, alone.prices_)
    assert pooled.series_["A"].forecast_window()[-1, -1] == 129  # the position of the last price of the longer series
    np.testing.assert_array_equal(pooled.forecast(steps=4)["A"].predicted, alone.forecast(steps=4).predicted)


@slow
def test_a_global_calendar_model_gives_each_series_its_own_clock_and_saves(tmp_path):
    data = {"A": _hourly(_seasonal(120, 24, 0)), "B": _hourly(_seasonal(150, 24, 1), "2024-03-05 07:00")}
    model = jl.LSTMForecaster(**SMALL, calendar=("hour",), season_length=None).fit(data)
    for name, view in model.series_.items():
        assert view.input_columns == ("close", "calendar_day", "calendar_second")
        last = data[name].index[-1]
        # The clock of the series' own last timestamp: day number and second of the day.
        assert view.forecast_window()[-1, 1] == (last - pd.Timestamp("1970-01-01")).days
        assert view.forecast_window()[-1, 2] == last.hour * 3600
    forecasts = model.forecast(steps=3)
    assert forecasts["B"].timestamps[0] == data["B"].index[-1] + pd.Timedelta("1h")
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "calendar"))
    assert loaded.calendar_ == ("hour",)
    for name in data:
        np.testing.assert_array_equal(loaded.forecast(steps=3)[name].predicted, forecasts[name].predicted)


@slow
def test_a_backtest_of_a_global_seasonal_calendar_model_scores_every_series():
    data = {"A": _hourly(_seasonal(120, 4, 0)), "B": _hourly(_seasonal(110, 6, 1), "2024-02-01")}
    settings = dict(SMALL, encoding="seasonal", season_length="auto", calendar="auto")
    found = jl.evaluation.backtest(
        data,
        {"both": functools.partial(jl.LSTMForecaster, **settings)},
        train_size=90,
        steps=4,
        global_models=["both"],
    )
    for name in data:
        assert np.isfinite(found[name]["both"].metrics["mae"]) and len(found[name].origins) >= 2


def _dated_and_undated() -> dict:
    return {"A": _hourly(np.linspace(100, 120, 60)), "B": np.linspace(50, 70, 60)}


@pytest.mark.parametrize(
    ("calendar", "data", "interval", "match"),
    [
        (("hour",), _dated_and_undated(), "1h", r"calendar=\('hour',\) needs timestamps: data\['B'\] has none"),
        (
            "auto",
            _dated_and_undated(),
            "1h",
            r"calendar='auto' gives data\['A'\] the calendar inputs \('hour', 'weekday'\) and data\['B'\] \(\)",
        ),
    ],
)
def test_series_that_cannot_share_one_calendar_are_refused_naming_them(calendar, data, interval, match):
    with pytest.raises(ValueError, match=match):
        jl.LSTMForecaster(**SMALL, calendar=calendar).fit(data, interval=interval)


@slow
def test_the_common_window_is_that_of_the_season_most_series_have():
    # One series' longer season does not lengthen every window: it keeps its season in its
    # encoding and reads the window of the season the others have.
    data = {name: _seasonal(120, 4, seed, 0.0) for seed, name in enumerate("ABC")}
    data["D"] = _seasonal(150, 12, 3, 0.0)
    model = jl.LSTMForecaster(**SMALL, encoding="seasonal", season_length="auto").fit(data)
    assert {name: view.season_length_ for name, view in model.series_.items()} == {"A": 4, "B": 4, "C": 4, "D": 12}
    assert model.season_length_ == 4
    assert {view.window_length for view in model.series_.values()} == {seasons.default_window(6, 1, 4)}
    assert np.all(np.isfinite(model.forecast(steps=12)["D"].predicted))
