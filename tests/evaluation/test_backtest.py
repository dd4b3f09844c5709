"""Tests for jaxlstm.evaluation: walk-forward backtests, no look-ahead, calibration, bad inputs."""

from __future__ import annotations

import functools
import json
import pathlib
import sys
from typing import ClassVar

import jax
import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm import evaluation
from jaxlstm._src.forecasters import intervals
from jaxlstm._src.forecasters.baselines import DriftForecaster, HybridForecaster, NaiveForecaster
from jaxlstm._src.forecasters.lstm import LSTMForecaster

TINY_LSTM = dict(hidden_size=4, sequence_length=5, epochs=2, batch_size=16)


def linear_series(n: int = 40) -> np.ndarray:
    return 100.0 + np.arange(n, dtype=np.float64)


# ----------------------------------------------------------------- hand-checkable numbers


def test_naive_and_drift_on_a_linear_series():
    series = linear_series()
    result = evaluation.backtest(
        series,
        {"drift": DriftForecaster, "naive": functools.partial(NaiveForecaster, band="volatility")},
        train_size=10,
        steps=3,
        origins=[10, 20],
    )
    assert list(result.models) == ["naive", "drift"]  # the reference first
    np.testing.assert_array_equal(result.origins, [10, 20])
    np.testing.assert_array_equal(result.actual, [[110, 111, 112], [120, 121, 122]])
    naive = result["naive"]
    np.testing.assert_array_equal(naive.predicted, [[109] * 3, [119] * 3])
    # Naive errors are 1, 2, 3 at both origins.
    np.testing.assert_allclose(naive.per_origin["mae"], [2.0, 2.0])
    np.testing.assert_allclose(naive.per_origin["rmse"], [np.sqrt(14 / 3)] * 2)
    np.testing.assert_allclose(naive.per_origin["mape"][0], 100 * np.mean([1 / 110, 2 / 111, 3 / 112]))
    np.testing.assert_allclose(naive.per_origin["smape"][1], 200 * np.mean([1 / 239, 2 / 240, 3 / 241]))
    # The in-sample one-step naive MAE of a unit-slope line is 1, so MASE = MAE.
    np.testing.assert_allclose(naive.per_origin["mase"], [2.0, 2.0])
    # A flat forecast predicts no direction: its directional accuracy is undefined, not 0.
    np.testing.assert_array_equal(naive.per_origin["directional_accuracy"], [np.nan, np.nan])
    assert np.isnan(naive.metrics["directional_accuracy"])
    assert "| n/a |" in result.to_markdown(per_step=False).splitlines()[4]
    assert result.to_dict()["models"]["naive"]["metrics"]["directional_accuracy"] is None
    np.testing.assert_allclose(naive.mae_by_step, [1.0, 2.0, 3.0])
    assert naive.metrics["relative_mae"] == 1.0 and naive.metrics["mae"] == 2.0
    # Volatility band from each training window: sigma of its log returns.
    sigma = intervals.log_return_volatility(series[:10])
    lower, upper = intervals.volatility_band(np.full(3, 109.0), sigma, 0.95)
    np.testing.assert_allclose(naive.lower[0], lower)
    np.testing.assert_allclose(naive.upper[0], upper)
    inside = (lower <= [110, 111, 112]) & (upper >= [110, 111, 112])
    assert naive.per_origin["coverage"][0] == inside.mean()
    np.testing.assert_allclose(naive.per_origin["mean_width"][0], np.mean(upper - lower))
    assert naive.bands == ("volatility", "volatility")
    # Drift extends the exact slope: perfect forecasts, intervals around them always cover.
    drift = result["drift"]
    np.testing.assert_allclose(drift.predicted, result.actual)
    assert drift.metrics["mae"] < 1e-9 and drift.metrics["relative_mae"] < 1e-9
    np.testing.assert_array_equal(drift.per_origin["directional_accuracy"], [1.0, 1.0])
    np.testing.assert_array_equal(drift.coverage_by_step, [1.0, 1.0, 1.0])


@pytest.mark.parametrize("origins", [[10, 15, 20], [12, 14, 16, 18, 20, 22]])
def test_scoring_a_new_count_of_origins_compiles_nothing(origins):
    # The scores were jax.numpy op by op: each new count of origins (or horizon) compiled
    # about 25 small programs, 0.6 s, more than a warm fit of the default model.
    from compilations import counted

    with counted() as compiled:
        result = evaluation.backtest(
            linear_series(), {"naive": NaiveForecaster}, train_size=10, steps=3, origins=origins
        )
    assert not compiled, dict(compiled)
    np.testing.assert_allclose(result["naive"].per_origin["mae"], [2.0] * len(origins))


def test_default_origins_stride_and_report():
    result = evaluation.backtest(linear_series(), ["naive", "drift"], train_size=10, steps=3)
    np.testing.assert_array_equal(result.origins, np.arange(10, 38, 3))
    result = evaluation.backtest(linear_series(), ["drift"], train_size=10, steps=3, stride=10)
    np.testing.assert_array_equal(result.origins, [10, 20, 30])
    doc = result.to_dict(per_origin=True)
    json.dumps(doc, allow_nan=False)
    assert doc["models"]["drift"]["metrics"]["relative_mae"] < 1e-9
    assert len(doc["models"]["naive"]["coverage_by_step"]) == 3
    text = result.to_markdown()
    assert "| naive | 1 |" in text and "| drift |" in text and "Per horizon step" in text


def test_a_series_without_timestamps_takes_interval_for_a_horizon():
    result = evaluation.backtest(linear_series(), ["naive"], train_size=10, horizon="3h", interval="1h", stride=10)
    assert result.horizon == 3 and result.timestamps is None
    assert "cutoff" not in result.historical_forecasts().columns


def test_to_pandas_and_historical_forecasts():
    import pandas as pd

    index = pd.date_range("2024-01-01", periods=40, freq="h")
    series = pd.Series(linear_series(), index=index)
    result = evaluation.backtest(series, ["drift"], train_size=10, steps=3, origins=[10, 20])
    table = result.to_pandas()
    assert table.index.tolist() == ["naive", "drift"] and table.index.name == "model"
    assert table.loc["naive", "mae"] == 2.0 and table.loc["drift", "band"] == result["drift"].band_summary()
    assert np.isnan(table.loc["naive", "directional_accuracy"])
    frame = result.historical_forecasts()
    assert list(frame.columns) == [
        "model",
        "origin",
        "cutoff",
        "timestamp",
        "step",
        "actual",
        "predicted",
        "lower",
        "upper",
        "band",
    ]
    assert len(frame) == 2 * 2 * 3  # models x origins x steps
    row = frame[(frame["model"] == "naive") & (frame["origin"] == 20) & (frame["step"] == 2)].iloc[0]
    # Origin 20 forecasts prices 20, 21, 22 from the last fitted price 19 (the cutoff).
    assert row["cutoff"] == index[19] and row["timestamp"] == index[21]
    assert row["actual"] == series.iloc[21] == result.actual[1, 1] and row["predicted"] == series.iloc[19]
    drift = frame[frame["model"] == "drift"]
    np.testing.assert_array_equal(drift["upper"], result["drift"].upper.ravel())
    np.testing.assert_array_equal(drift["predicted"], drift["actual"])


def test_progress_reports_every_origin_of_every_model():
    calls = []
    options = dict(train_size=10, steps=3, origins=[10, 20, 30], progress=lambda *a: calls.append(a))
    evaluation.backtest(linear_series(), ["drift"], vectorize=False, **options)
    assert calls == [("naive", i, 3) for i in (1, 2, 3)] + [("drift", i, 3) for i in (1, 2, 3)]
    # Vectorised (the default) every origin of a model is fitted at once: one report each.
    calls.clear()
    evaluation.backtest(linear_series(), ["drift"], **options)
    assert calls == [("naive", 3, 3), ("drift", 3, 3)]
    with pytest.raises(TypeError, match="progress"):
        evaluation.backtest(linear_series(), ["drift"], train_size=10, steps=3, progress="bar")


def test_timestamps_of_origins_are_kept():
    import pandas as pd

    index = pd.date_range("2024-01-01", periods=40, freq="h")
    series = pd.Series(linear_series(), index=index)
    result = evaluation.backtest(series, ["naive"], train_size=10, steps=3, stride=10)
    assert result.timestamps[0] == np.datetime64("2024-01-01T10:00", "ns")
    assert result.to_dict()["origin_timestamps"][0] == "2024-01-01T10:00:00Z"


# ----------------------------------------------------------------- no look-ahead


@pytest.mark.slow
def test_poisoned_future_changes_nothing_before_the_origin():
    rng = np.random.default_rng(0)
    clean = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 130)))
    factories = {
        "drift": DriftForecaster,
        "hybrid": HybridForecaster,
        "lstm": functools.partial(LSTMForecaster, **TINY_LSTM),  # min-max scaler: leaks if it sees the future
    }
    kwargs = dict(train_size=60, steps=4, vectorize=False)
    origins = [70, 100, 126]
    reference = evaluation.backtest(clean, factories, origins=origins, **kwargs)
    for i, t in enumerate(origins):
        poisoned = clean.copy()
        poisoned[t:] = 1e6 * (1.0 + rng.uniform(size=poisoned.shape[0] - t))
        result = evaluation.backtest(poisoned, factories, origins=[t], **kwargs)
        assert result.actual.min() > 1e5  # the evaluation target did see the garbage
        for name in reference.models:
            for field in ("predicted", "lower", "upper"):
                np.testing.assert_array_equal(
                    getattr(result[name], field)[0], getattr(reference[name], field)[i], err_msg=f"{name}.{field}"
                )
            assert result[name].bands[0] == reference[name].bands[i]
            assert result[name].per_origin["coverage"][0] == 0.0


@pytest.mark.slow
def test_vectorized_lstm_equals_refitting_one_by_one():
    rng = np.random.default_rng(1)
    series = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 110)))
    # Calibrated on the held-back tail and on a head refit: every part of the fast path.
    factories = {"ensemble": functools.partial(LSTMForecaster, calibration="both", **TINY_LSTM)}
    kwargs = dict(train_size=80, steps=3, origins=[80, 95, 107])
    loop = evaluation.backtest(series, factories, vectorize=False, **kwargs)
    fast = evaluation.backtest(series, factories, vectorize=True, **kwargs)
    assert fast["ensemble"].vectorized and not loop["ensemble"].vectorized
    assert fast["ensemble"].bands == loop["ensemble"].bands
    for field in ("predicted", "lower", "upper"):
        np.testing.assert_allclose(getattr(fast["ensemble"], field), getattr(loop["ensemble"], field), rtol=1e-6)


# ----------------------------------------------------------------- calibration


@pytest.mark.slow
def test_lstm_calibration_sources():
    prices = evaluation.random_walk(300, seed=3).prices
    model = LSTMForecaster(**TINY_LSTM).fit(prices)
    # The held-back tail: one residual row per validation window, none past the fitted data.
    n_val = model.metrics_["n_val_windows"]
    assert model.calibration_residuals(4).shape == (n_val, 4)
    assert model.calibration_residuals(4, "refit").shape == (150, 4)
    model = LSTMForecaster(**TINY_LSTM, band="conformal", calibration="both").fit(prices)
    lo, hi, method = model.band_offsets(4)
    bands = []
    for source in ("auto", "refit"):
        residuals = model.calibration_residuals(model.band_steps, source)
        calibrated = intervals.calibrated_steps(residuals)
        if calibrated:
            bands.append(intervals.extend_offsets(intervals.conformal_offsets(residuals[:, :calibrated]), 4))
    expected = intervals.envelope(bands)
    np.testing.assert_allclose(lo, expected[0])
    np.testing.assert_allclose(hi, expected[1])
    assert method == expected[2] == model.band_method()


@pytest.mark.slow
def test_conformal_intervals_cover_a_random_walk():
    series = evaluation.random_walk(1500, volatility=0.01, seed=2).prices
    result = evaluation.backtest(series, {"drift": DriftForecaster}, train_size=300, steps=5, stride=4)
    assert len(result.origins) >= 250
    for name in ("naive", "drift"):
        r = result[name]
        assert set(r.bands) == {"conformal"}
        assert 0.9 <= r.metrics["coverage"] <= 0.99, (name, r.metrics["coverage"])
        assert np.all(r.coverage_by_step >= 0.85), (name, r.coverage_by_step)


# ----------------------------------------------------------------- names and bad inputs


def test_make_forecasters_maps_names():
    factories = evaluation.make_forecasters(["lstm", "hybrid", "naive", "drift"], hidden_size=8)
    assert list(factories) == ["lstm", "hybrid", "naive", "drift"]
    assert factories["lstm"]().get_params()["hidden_size"] == 8
    assert isinstance(factories["hybrid"](), HybridForecaster)
    assert isinstance(factories["naive"](), NaiveForecaster)


@pytest.mark.parametrize("names", [["lstm", "arima"], ["prophet"]])
def test_make_forecasters_rejects_unknown_names(names):
    with pytest.raises(ValueError, match=r"valid names are \['lstm', 'hybrid', 'naive', 'drift'\]"):
        evaluation.make_forecasters(names)
    with pytest.raises(ValueError, match="unknown model"):
        evaluation.backtest(linear_series(), names, train_size=10, steps=3)


def test_backtest_names_its_own_argument_and_refuses_no_models():
    # Its errors named make_forecasters' argument ("names has unknown model(s)"), and an empty
    # mapping ran a backtest of the naive reference alone.
    with pytest.raises(ValueError, match=r"^forecasters has unknown model\(s\) \['arima'\]"):
        evaluation.backtest(linear_series(), ["naive", "arima"], train_size=10, steps=3)
    with pytest.raises(ValueError, match=r"^forecasters lists \['naive'\] more than once"):
        evaluation.backtest(linear_series(), ["naive", "naive"], train_size=10, steps=3)
    with pytest.raises(ValueError, match=r"^forecasters must list at least one model"):
        evaluation.backtest(linear_series(), [], train_size=10, steps=3)
    with pytest.raises(ValueError, match=r"^forecasters must name at least one model, got an empty mapping"):
        evaluation.backtest(linear_series(), {}, train_size=10, steps=3)


def test_make_forecasters_checks_lstm_arguments_early():
    with pytest.raises(ValueError, match="hidden_size"):
        evaluation.make_forecasters(["lstm"], hidden_size=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(train_size=10, steps=0), "steps"),
        (dict(train_size=1, steps=3), "train_size"),
        (dict(train_size=40, steps=3), "train_size"),  # no room for a single origin
        (dict(train_size=10, steps=3, origins=[5]), "origins"),
        (dict(train_size=10, steps=3, origins=[38]), "origins"),
        (dict(train_size=10, steps=3, origins=[20, 15]), "origins"),
        (dict(train_size=10, steps=3, origins=[]), "origins"),
        (dict(train_size=10, steps=3, origins=[12], stride=2), "stride"),
        (dict(train_size=10, steps=3, stride=0), "stride"),
        (dict(train_size=10, steps=3, confidence=1.5), "confidence"),
        (dict(train_size=10, steps=3, horizon="1d"), "exactly one"),
        (dict(train_size=10, horizon="2d"), "horizon '2d' needs the spacing of the series.*interval="),
        (dict(train_size=10, horizon="2x"), "horizon must be a span of time with a unit"),  # before the spacing
        (dict(train_size=10, horizon="90min", interval="1h"), "not a whole number"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluation.backtest(linear_series(), ["naive"], **kwargs)


def test_train_size_too_small_for_the_lstm():
    with pytest.raises(ValueError, match=r"train_size must be at least 21 for model 'lstm'"):
        evaluation.backtest(linear_series(), evaluation.make_forecasters(["lstm"]), train_size=15, steps=3)


@pytest.mark.slow  # fits models of its own: the quick tier stays under 90 s
def test_models_stand_for_their_settings_in_a_list_or_a_mapping():
    # A list of models was refused ("must ... list model names, got list") and a model in a
    # mapping too ("must be a class or zero-argument factory").
    series = linear_series()
    by_names = evaluation.backtest(
        series, evaluation.make_forecasters(["naive", "drift", "lstm"], **TINY_LSTM), train_size=25, steps=3
    )
    lstm = LSTMForecaster(**TINY_LSTM)
    models = [NaiveForecaster(), DriftForecaster(), lstm]
    by_models = evaluation.backtest(series, models, train_size=25, steps=3)
    assert list(by_models.models) == list(by_names.models) == ["naive", "drift", "lstm"]
    for name in by_names.models:
        np.testing.assert_allclose(by_models.models[name].predicted, by_names.models[name].predicted, rtol=1e-6)
    assert lstm.params_ is None  # each origin fitted a copy; the model given is untouched
    named = evaluation.backtest(series, {"small": LSTMForecaster(**TINY_LSTM)}, train_size=25, steps=3)
    np.testing.assert_allclose(named.models["small"].predicted, by_names.models["lstm"].predicted, rtol=1e-6)
    with pytest.raises(
        ValueError, match=r"several models of one kind \(\['lstm', 'lstm'\]\): name them with a mapping"
    ):
        evaluation.backtest(series, [LSTMForecaster(), LSTMForecaster(hidden_size=8)], train_size=25, steps=3)
    with pytest.raises(TypeError, match=r"list models or model names, got a list of \['int', 'str'\]"):
        evaluation.backtest(series, ["naive", 3], train_size=25, steps=3)


def test_gaps_in_the_series_warn_raise_or_fill_as_fit_takes_them():
    # A gappy series was backtested without a word, each gap one step.
    index = pd.date_range("2024-01-01", periods=60, freq="h")
    full = pd.Series(linear_series(60), index)
    holed = full.drop(full.index[[20, 21]])
    with pytest.warns(jl.data.GapWarning, match=r"series has 1 gap\(s\)") as caught:
        warned = evaluation.backtest(holed, ["naive"], train_size=30, steps=3)
    assert len(caught) == 1 and caught[0].filename == __file__
    assert warned.series_timestamps.shape[0] == len(holed)  # as given: 58 prices
    with pytest.raises(ValueError, match=r"series has 1 gap\(s\)"):
        evaluation.backtest(holed, ["naive"], train_size=30, steps=3, gaps="raise")
    filled = evaluation.backtest(holed, ["naive", "drift"], train_size=30, steps=3, gaps="fill")
    reference = evaluation.backtest(holed.resample("h").ffill(), ["naive", "drift"], train_size=30, steps=3)
    np.testing.assert_array_equal(filled.origins, reference.origins)
    for name in ("naive", "drift"):
        np.testing.assert_array_equal(filled.models[name].predicted, reference.models[name].predicted)
    with pytest.raises(ValueError, match="gaps must be one of"):
        evaluation.backtest(holed, ["naive"], train_size=30, steps=3, gaps="ignore")
    # Several series: each series' gaps named, once.
    with pytest.warns(jl.data.GapWarning) as caught:
        evaluation.backtest({"a": full, "b": holed}, ["naive"], train_size=30, steps=3)
    assert [str(w.message).split(" has")[0] for w in caught] == ["series['b']"]
    many = evaluation.backtest({"a": full, "b": holed}, ["naive"], train_size=30, steps=3, gaps="fill")
    np.testing.assert_array_equal(
        many["b"].models["naive"].predicted, reference.models["naive"].predicted[-len(many["b"].origins) :]
    )


def test_a_series_too_short_among_several_is_named():
    # "series has 10 prices, too few ..." did not say which.
    with pytest.raises(ValueError, match=r"series\['b'\] has 10 prices, too few for train_size=20"):
        evaluation.backtest({"a": linear_series(40), "b": linear_series(10)}, ["naive"], train_size=20, steps=3)


def test_factories_must_make_forecasters():
    with pytest.raises(TypeError, match="must return a jaxlstm.Forecaster"):
        evaluation.backtest(linear_series(), {"bad": object}, train_size=10, steps=3)


# ----------------------------------------------------------------- experimental models and generators


def test_generators_are_seeded_and_oracles_match_their_structure():
    a, b = evaluation.trending(100, seed=1), evaluation.trending(100, seed=1)
    np.testing.assert_array_equal(a.prices, b.prices)
    assert not np.array_equal(a.prices, evaluation.trending(100, seed=2).prices)
    np.testing.assert_allclose(a.oracle(50, 3), 100.0 * np.exp(0.0015 * np.arange(50, 53)))
    for make in (evaluation.random_walk, evaluation.seasonal, evaluation.mean_reverting):
        series = make(300, seed=0)
        assert series.prices.shape == (300,) and np.all(series.prices > 0)
        assert series.oracle(300, 4).shape == (4,)
    with pytest.raises(ValueError, match="origin"):
        a.oracle(101, 2)


# ----------------------------------------------------------------- benchmark smoke test


@pytest.mark.slow
def test_accuracy_benchmark_quick_mode(tmp_path):
    root = pathlib.Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        from benchmarks import accuracy
    finally:
        sys.path.remove(str(root))
    args = ["--quick", "--quiet", "--out", str(tmp_path), "--datasets", "seasonal", "--models", "hybrid,lstm_relative"]
    assert accuracy.main(args) == 0
    doc = json.loads((tmp_path / "accuracy_quick.json").read_text())
    assert set(doc["datasets"]["seasonal"]["backtest"]["models"]) == {"naive", "hybrid", "lstm_relative"}
    assert "oracle" in doc["datasets"]["seasonal"]
    assert "Relative MAE" in (tmp_path / "accuracy_quick.md").read_text()


def test_horizon_strings_and_int_horizons():
    import pandas as pd

    index = pd.date_range("2024-01-01", periods=60, freq="h")
    series = pd.Series(linear_series(60), index=index)
    result = evaluation.backtest(series, ["naive"], train_size=20, horizon="4h", stride=10)
    assert result.horizon == 4
    with pytest.raises(TypeError, match="steps=24"):
        evaluation.backtest(series, ["naive"], train_size=20, horizon=24)


def test_a_user_subclass_backtests_with_public_imports_only():
    import jaxlstm as jl

    class LastTwoMean(jl.Forecaster):
        """Forecasts the mean of the last two prices: a model outside the library."""

        def __init__(self, weight: float = 0.5, *, band: str = "conformal", calibration: str = "auto") -> None:
            super().__init__(band=band, calibration=calibration)
            self.weight = weight

        def _predict(self, window, steps):
            return np.full(steps, self.weight * window[-1] + (1 - self.weight) * window[-2])

    result = jl.evaluation.backtest(linear_series(80), {"mine": LastTwoMean}, train_size=30, steps=3, stride=5)
    mine = result["mine"]
    np.testing.assert_allclose(mine.predicted[:, 0], result.actual[:, 0] - 1.5)
    assert LastTwoMean(weight=0.2).get_params() == {"weight": 0.2, "band": "conformal", "calibration": "auto"}
    fast = jl.evaluation.backtest(
        linear_series(80), {"mine": LastTwoMean}, train_size=30, steps=3, stride=5, vectorize=True
    )
    np.testing.assert_array_equal(fast["mine"].predicted, mine.predicted)


class _VolumeReader(jl.Forecaster):
    """Forecasts the last close; records the training rows it was given (the close and the volume)."""

    seen: ClassVar[list] = []

    @property
    def input_columns(self):
        return ("close", "volume")

    def _fit(self, series):
        type(self).seen.append(series)

    def _predict(self, window, steps):
        return np.full(steps, window[-1, 0])


def test_each_model_gets_its_own_candle_columns():
    candles = jl.data.load_demo()[-60:]
    _VolumeReader.seen = []
    result = jl.evaluation.backtest(
        candles, {"reader": _VolumeReader, "drift": jl.baselines.DriftForecaster}, train_size=40, steps=2, stride=9
    )
    first = _VolumeReader.seen[0]
    assert first.shape == (40, 2)
    np.testing.assert_array_equal(first, np.stack([candles.close[:40], candles.volume[:40]], axis=1))
    # The reader's forecasts are the last close, like naive's; prices and scores are the closes.
    np.testing.assert_array_equal(result["reader"].predicted, result["naive"].predicted)
    np.testing.assert_array_equal(result.actual[0], candles.close[40:42])
    with pytest.raises(ValueError, match=r"series must be candles with the columns \['close', 'volume'\]"):
        jl.evaluation.backtest(candles.close, {"reader": _VolumeReader}, train_size=40, steps=2)


@pytest.mark.slow
def test_accuracy_benchmark_architecture_suite_appends_and_merges(tmp_path):
    root = pathlib.Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    try:
        from benchmarks import accuracy
    finally:
        sys.path.remove(str(root))
    common = ["--quick", "--quiet", "--suite", "architectures", "--models", "lstm_close,lstm_volume"]
    assert accuracy.main([*common, "--out", str(tmp_path / "a"), "--datasets", "volume_informative"]) == 0
    assert accuracy.main([*common, "--out", str(tmp_path / "b"), "--datasets", "volume_uninformative"]) == 0
    assert accuracy.main([*common, "--out", str(tmp_path / "a"), "--merge", str(tmp_path / "b")]) == 0
    doc = json.loads((tmp_path / "a" / "accuracy_architectures_quick.json").read_text())
    assert set(doc["datasets"]) == {"volume_informative", "volume_uninformative"}
    grid = doc["datasets"]["volume_informative"]["ablation"]
    assert set(grid["cells"]["lstm"]) == {"close", "volume"} and "volume" in grid["gain_over_close"]["lstm"]
    assert "merged with the data sets of" in doc["command"]
    md = (tmp_path / "a" / "accuracy_architectures_quick.md").read_text()
    assert "## Architecture x inputs" in md and "### volume_uninformative" in md
    # --append runs more data sets into the same results.
    assert accuracy.main([*common, "--out", str(tmp_path / "b"), "--datasets", "volume_informative", "--append"]) == 0
    doc = json.loads((tmp_path / "b" / "accuracy_architectures_quick.json").read_text())
    assert set(doc["datasets"]) == {"volume_informative", "volume_uninformative"} and ", then " in doc["command"]


# ----------------------------------------------------------------------------- several series


def _group():
    rng = np.random.default_rng(5)
    return {name: 100 * np.exp(np.cumsum(rng.normal(0, s, n))) for name, n, s in (("A", 70, 0.01), ("B", 84, 0.03))}


@pytest.mark.slow
def test_backtest_of_several_series_fits_the_global_model_across_them_at_each_origin():
    data = _group()
    small = dict(hidden_size=4, sequence_length=6, epochs=2)
    factories = {"glob": functools.partial(jl.LSTMForecaster, **small), "drift": jl.baselines.DriftForecaster}
    found = evaluation.backtest(data, factories, train_size=50, steps=3, stride=7, global_models=["glob"])
    assert list(found) == ["A", "B"]
    # Every series gets the origins of the one with fewest (A: 50, 57, 64), its last ones.
    np.testing.assert_array_equal(found["A"].origins, [50, 57, 64])
    np.testing.assert_array_equal(found["B"].origins, [64, 71, 78])
    assert list(found["B"].models) == ["naive", "drift", "glob"]
    # Origin k of the global row is one global fit on the train_size values before each series' k-th origin.
    k = 1
    model = jl.LSTMForecaster(**small).fit(
        {name: data[name][t[k] - 50 : t[k]] for name, t in (("A", found["A"].origins), ("B", found["B"].origins))}
    )
    forecasts = model.forecast(steps=3)
    for name in data:
        np.testing.assert_allclose(found[name]["glob"].predicted[k], forecasts[name].predicted, rtol=1e-6)
        np.testing.assert_allclose(found[name]["glob"].upper[k], forecasts[name].upper, rtol=1e-6)
        drift = evaluation.backtest(
            data[name], {"drift": jl.baselines.DriftForecaster}, train_size=50, steps=3, origins=found[name].origins
        )
        np.testing.assert_array_equal(found[name]["drift"].predicted, drift["drift"].predicted)
    assert found["A"]["glob"].metrics["relative_mae"] > 0


@pytest.mark.slow
def test_the_global_models_of_every_origin_are_rows_of_one_runner_call(monkeypatch):
    from jaxlstm._src import stacked

    data = _group()
    small = dict(hidden_size=4, sequence_length=6, epochs=2, ensemble=2)
    factories = {"glob": functools.partial(jl.LSTMForecaster, **small)}
    calls = []
    original = stacked.run_stacked

    def spy(function, args, **options):
        calls.append((function.__name__, jax.tree.leaves(args[1])[0].shape[0]))
        return original(function, args, **options)

    monkeypatch.setattr(stacked, "run_stacked", spy)
    found = evaluation.backtest(
        data, factories, train_size=50, steps=3, stride=7, global_models=["glob"], vectorize=True
    )
    # 3 origins x 2 members: one call for the global models, one for their head-refit copies.
    assert [rows for name, rows in calls if name == "fit_one_model"] == [6, 6]
    assert found["A"]["glob"].vectorized
    monkeypatch.setattr(stacked, "run_stacked", original)
    alone = evaluation.backtest(
        data, factories, train_size=50, steps=3, stride=7, global_models=["glob"], vectorize=False
    )
    for name in data:
        assert not alone[name]["glob"].vectorized
        for field in ("predicted", "lower", "upper"):
            np.testing.assert_allclose(
                getattr(found[name]["glob"], field), getattr(alone[name]["glob"], field), rtol=1e-5
            )


def test_backtest_global_models_are_checked():
    data = _group()
    with pytest.raises(ValueError, match="global_models names \\['lstm'\\]"):
        evaluation.backtest(data, ["naive"], train_size=50, steps=3, global_models=["lstm"])
    with pytest.raises(TypeError, match="must build an LSTMForecaster"):
        evaluation.backtest(data, ["drift"], train_size=50, steps=3, global_models=["drift"])
    with pytest.raises(ValueError, match="global_models needs several series"):
        evaluation.backtest(data["A"], ["lstm"], train_size=50, steps=3, global_models=["lstm"])
