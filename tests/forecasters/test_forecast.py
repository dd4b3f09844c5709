"""Tests for the Forecast record: dicts, pandas frames, plots, and many forecasts in the long format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jaxlstm._src.forecasters.baselines import DriftForecaster, NaiveForecaster
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts
from jaxlstm.data import load_demo, split_long

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure

STAMPS = np.array(["2024-01-01T01:00", "2024-01-01T02:00", "2024-01-01T03:00"], dtype="datetime64[ns]")


def forecast(timestamps=STAMPS, symbol="X"):
    predicted = np.array([10.0, 11.0, 12.0])
    return Forecast(timestamps, predicted, predicted - 1, predicted + 2, 0.9, symbol, "conformal")


def test_to_dict_and_to_pandas_with_timestamps():
    fc = forecast()
    doc = json.loads(json.dumps(fc.to_dict()))
    assert doc["band"] == "conformal" and doc["symbol"] == "X" and doc["confidence"] == 0.9
    assert doc["predictions"][0] == {
        "step": 1,
        "timestamp": "2024-01-01T01:00:00Z",
        "predicted": 10.0,
        "lower": 9.0,
        "upper": 12.0,
        "confidence": 0.9,
    }
    frame = fc.to_pandas()
    assert isinstance(frame.index, pd.DatetimeIndex) and frame.index.name == "timestamp"
    assert frame["upper"].tolist() == [12.0, 13.0, 14.0]


def test_without_timestamps_nothing_is_invented():
    fc = forecast(timestamps=None)
    assert [row["timestamp"] for row in fc.to_dict()["predictions"]] == [None, None, None]
    assert [row["step"] for row in fc.to_dict()["predictions"]] == [1, 2, 3]
    frame = fc.to_pandas()
    assert frame.index.name == "step" and frame.index.tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="timestamps must have 3 entries"):
        Forecast(STAMPS[:2], np.ones(3), np.ones(3), np.ones(3))


def test_plot_draws_labels_dates_band_and_the_start():
    candles = load_demo()[-100:]
    model = NaiveForecaster().fit(candles)
    fc = model.forecast("1d")
    fig = Figure()
    ax = fc.plot(ax=fig.subplots(), history=candles[-48:])
    assert ax.get_xlabel() == "time (UTC)" and ax.get_ylabel() == "price"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["history", "forecast", "95% interval", "forecast start"]
    history, predicted, start = ax.get_lines()
    np.testing.assert_array_equal(history.get_ydata(), candles.close[-48:])
    np.testing.assert_array_equal(predicted.get_ydata(), fc.predicted)
    # The dashed line stands at the last price the forecast continues from.
    assert start.get_xdata()[0] == candles.timestamps[-1] and start.get_linestyle() == "--"
    band = ax.collections[0].get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(fc.lower.min()) and band[:, 1].max() == pytest.approx(fc.upper.max())
    assert isinstance(ax.xaxis.get_major_formatter(), matplotlib.dates.ConciseDateFormatter)


def test_plot_without_timestamps_counts_steps():
    prices = load_demo().close[-50:]
    fc = DriftForecaster().fit(prices).forecast(steps=5)
    ax = fc.plot(ax=Figure().subplots(), history=prices[-10:])
    assert ax.get_xlabel() == "step"
    history, predicted, start = ax.get_lines()
    assert history.get_xdata().tolist() == list(range(-9, 1)) and predicted.get_xdata().tolist() == [1, 2, 3, 4, 5]
    assert start.get_xdata()[0] == 0
    with pytest.raises(ValueError, match="history must have timestamps"):
        forecast().plot(ax=Figure().subplots(), history=prices)


def test_plot_makes_its_own_figure():
    import matplotlib.pyplot as plt

    ax = forecast().plot()
    try:
        assert ax.get_title() == "X: 3-step forecast, conformal band"
    finally:
        plt.close(ax.figure)


def test_plot_refuses_what_is_not_an_axes_saying_how_to_save(tmp_path):
    # plot("chart.png") failed inside matplotlib with "'str' object has no attribute ...".
    for ax in (str(tmp_path / "chart.png"), Figure()):
        with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes or None, got .*\.figure\.savefig\(path\)"):
            forecast().plot(ax)
    assert not (tmp_path / "chart.png").exists()


def long_frame():
    index = pd.date_range("2024-01-01", periods=40, freq="h")
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame({"unique_id": uid, "ds": index, "y": start * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))})
        for uid, start in (("BTC", 100.0), ("ETH", 10.0))
    ]
    return pd.concat(frames, ignore_index=True)


def test_fit_many_and_forecast_many_in_the_long_format():
    frame = long_frame()
    shuffled = frame.sample(frac=1.0, random_state=1)
    models = DriftForecaster.fit_many(shuffled)
    assert set(models) == {"BTC", "ETH"}
    alone = DriftForecaster().fit(frame[frame["unique_id"] == "ETH"].set_index("ds")["y"])
    np.testing.assert_array_equal(models["ETH"].prices_, alone.prices_)
    forecasts = DriftForecaster.forecast_many(models, "3h")
    assert isinstance(forecasts, Forecasts)
    out = forecasts.to_pandas()
    assert list(out.columns) == ["unique_id", "ds", "predicted", "lower", "upper"] and len(out) == 6
    eth = out[out["unique_id"] == "ETH"]
    assert eth["ds"].iloc[0] == pd.Timestamp("2024-01-02 16:00")
    np.testing.assert_array_equal(eth["predicted"], alone.forecast("3h").predicted)


def test_split_long_keeps_extra_columns_and_integer_times():
    frame = long_frame().assign(volume=1.0)
    series = split_long(frame)
    assert list(series["BTC"].columns) == ["close", "volume"]
    integers = long_frame().assign(ds=lambda f: f.groupby("unique_id").cumcount())
    models = NaiveForecaster.fit_many(integers, interval="1h")
    assert models["BTC"].forecast("2h").timestamps is None
    out = NaiveForecaster.forecast_many(models, steps=2).to_pandas()
    assert out["ds"].tolist() == [1, 2, 1, 2]


@pytest.mark.parametrize(
    "frame, match",
    [
        (pd.DataFrame({"id": ["a"], "ds": [1], "y": [1.0]}), r"missing \['unique_id'\]"),
        (pd.DataFrame({"unique_id": [], "ds": [], "y": []}), "no rows"),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": [1, 1], "y": [1.0, 2.0]}), "repeated"),
        (pd.DataFrame({"unique_id": ["a"], "ds": ["soon"], "y": [1.0]}), r"\['ds'\] must hold times"),
        # A missing id became the series "None" (or "nan"); a missing time, a row of no place.
        (
            pd.DataFrame({"unique_id": ["a", None], "ds": [1, 2], "y": [1.0, 2.0]}),
            r"1 row\(s\) without a unique_id, the first at row 1",
        ),
        (pd.DataFrame({"unique_id": ["a", np.nan], "ds": [1, 2], "y": [1.0, 2.0]}), "without a unique_id"),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": [pd.Timestamp("2024-01-01"), pd.NaT], "y": [1.0, 2.0]}),
            r"without a ds, the first at row 1",
        ),
        (pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2024-01-01", None], "y": [1.0, 2.0]}), "without a ds"),
    ],
)
def test_split_long_errors(frame, match):
    with pytest.raises(ValueError, match=match):
        split_long(frame)


def test_a_forecast_past_2262_is_refused_not_labelled_1677():
    stamps = pd.date_range(end="2262-04-11 20:00", periods=50, freq="h")
    model = NaiveForecaster().fit(pd.Series(np.linspace(100.0, 110.0, 50), index=stamps))
    assert model.forecast(steps=3).timestamps[-1] == np.datetime64("2262-04-11T23:00")
    with pytest.raises(ValueError, match=r"2262-04-11T20:00.*4 steps of 1h.*2262-04-11T23:47:16"):
        model.forecast(steps=4)
    with pytest.raises(ValueError, match=r"2262-04-11T20:00.*24 steps of 1h"):
        model.forecast("1d")


@pytest.mark.parametrize("horizon", ["41667d", "106752d", "200000d"])
def test_a_huge_horizon_is_one_clear_error(horizon):
    model = NaiveForecaster().fit(load_demo()[-50:])
    with pytest.raises(ValueError, match="more than the 1,000,000 steps a forecast may have"):
        model.forecast(horizon)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        # Accepted before: a band upside down, a confidence of 150%, forecasts of several origins.
        ({"lower": np.array([1.0, 3.0, 1.0])}, r"Forecast.lower must not exceed Forecast.upper: at step 2, 3 > 2"),
        ({"levels": {80.0: (np.full(3, 2.0), np.full(3, 1.0))}}, r"levels\[80\]\[0\] must not exceed"),
        ({"confidence": 1.5}, r"confidence must be in \(0, 1\), got 1.5"),
        ({"predicted": np.ones((3, 1))}, r"Forecast.predicted must be 1-D \[steps\], got shape \(3, 1\)"),
    ],
)
def test_a_forecast_that_cannot_be_is_refused(changes, match):
    fields = dict(timestamps=None, predicted=np.ones(3), lower=np.full(3, 0.5), upper=np.full(3, 2.0), confidence=0.95)
    with pytest.raises(ValueError, match=match):
        Forecast(**{**fields, **changes})
    assert Forecast(**{**fields, "lower": np.ones(3), "upper": np.ones(3)}).lower[0] == 1.0  # a band of width 0 is one


def test_forecast_from_takes_the_forecasts_of_one_origin():
    model = NaiveForecaster().fit(np.linspace(100, 110, 40))
    with pytest.raises(
        ValueError, match=r"predicted must be \[steps\] point forecasts of one origin, got shape \(2, 2\)"
    ):
        model.forecast_from(np.ones((2, 2)))
