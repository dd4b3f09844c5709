import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.io import model_files as persistence
from jaxlstm.data import load_demo

SMALL = dict(hidden_size=8, sequence_length=10, epochs=15, batch_size=32)


@pytest.fixture(scope="module")
def demo():
    return load_demo()


@pytest.fixture(scope="module")
def fitted(demo):
    # The seed's min-max encoding: the tests below check its scaler by hand.
    return jl.LSTMForecaster(**SMALL, encoding="minmax", symbol="BTCUSD").fit(demo.to_pandas()["close"][-300:])


def test_constructor_defaults_are_the_seeds_and_the_measured_choices():
    m = jl.LSTMForecaster()
    p = m.get_params()
    assert (p["hidden_size"], p["sequence_length"], p["epochs"], p["batch_size"]) == (32, 20, 100, 32)
    assert p["early_stopping"] is True and p["num_layers"] == 1 and p["seed"] == 0
    # Chosen by the walk-forward backtests (benchmarks/accuracy.py, benchmarks/calibration.py) and the
    # M-competition protocol (benchmarks/competition.py; see the README).
    assert (p["encoding"], p["season_length"]) == ("seasonal", "auto")
    assert (p["learning_rate"], p["band"], p["calibration"]) == (3e-4, "adaptive", "both")
    assert (p["ensemble"], p["combine"], p["weight_decay"]) == (1, "mean", 0.0)


def test_fit_returns_self_and_records_history(fitted):
    assert isinstance(fitted, jl.LSTMForecaster)
    m = fitted.metrics_
    assert m["epochs_run"] == len(fitted.history_["train_loss"]) >= 1
    assert m["n_train_windows"] + m["n_val_windows"] == 290
    assert np.isfinite(m["val_mae"]) and np.isfinite(m["val_naive_mae"])
    assert "accuracy" not in m


@pytest.mark.slow
def test_scaler_is_fitted_on_training_prices_only(demo):
    prices = demo.close[-120:].copy()
    # A spike in the validation tail must not move the min-max range.
    spiked = prices.copy()
    spiked[-5] = prices.max() * 3
    m = jl.LSTMForecaster(**SMALL, encoding="minmax").fit(spiked)
    n_train = m.metrics_["n_train_windows"]
    train_prices = spiked[: n_train + SMALL["sequence_length"]]
    assert m.encoding_state_["data_min"] == train_prices.min()
    assert m.encoding_state_["data_range"] == train_prices.max() - train_prices.min()


@pytest.mark.slow
def test_predictions_are_prices_and_use_the_saved_scaler(fitted, demo):
    window = demo.close[-10:]
    one = fitted.predict(window)
    many = fitted.predict_multi_step(window, 24)
    assert many.shape == (24,) and many[0] == pytest.approx(one)
    # Same scale as the data: within 20% of the last price, never a scaled [0, 1] value.
    assert np.all(np.abs(many / window[-1] - 1) < 0.2)
    # Independent inverse: run the functional core on the scaled window by hand.
    enc = fitted.encoding_state_
    scaled = (window - enc["data_min"]) / enc["data_range"]
    core = np.asarray(jl.predict_multi_step(fitted.params_, scaled[None, :, None].astype(np.float32), 3))[0, :, 0]
    np.testing.assert_allclose(
        fitted.predict_multi_step(window, 3), core * enc["data_range"] + enc["data_min"], rtol=1e-5
    )


def test_forecast_horizons_timestamps_and_intervals(fitted, demo):
    for horizon, steps in [("1h", 1), ("4h", 4), ("1d", 24), ("7d", 168)]:
        fc = fitted.forecast(horizon)
        assert len(fc) == steps and fc.confidence == 0.95
        assert np.all(fc.lower <= fc.predicted) and np.all(fc.predicted <= fc.upper)
        assert fc.timestamps[0] == demo.timestamps[-1] + np.timedelta64(1, "h")
        assert np.all(np.diff(fc.timestamps) == np.timedelta64(1, "h"))
    # The seed's band widens with the horizon; the default conformal band follows the
    # model's own held-back errors, whatever shape they have.
    volatility = jl.LSTMForecaster(**SMALL, encoding="minmax", band="volatility").fit(demo[-300:])
    band = volatility.forecast("1d")
    assert band.band == "volatility" and np.all(np.diff(band.upper - band.lower) > 0)
    fc = fitted.forecast("1d")
    assert fc.band == fitted.band_method() and fc.to_dict()["band"] == fc.band
    frame = fc.to_pandas()
    assert list(frame.columns) == ["predicted", "lower", "upper"] and len(frame) == 24
    d = fc.to_dict()
    assert d["symbol"] == "BTCUSD" and d["predictions"][0]["timestamp"] == "2019-10-17T10:00:00Z"


def test_one_band_method_for_every_horizon(fitted):
    # The band of a step is the model's: the same method and the same bounds at the
    # first steps whatever horizon is asked for.
    forecasts = [fitted.forecast(h) for h in ("1h", "4h", "1d", "7d", "30d")]
    assert {fc.band for fc in forecasts} == {fitted.band_method()}
    for fc in forecasts[1:]:
        np.testing.assert_array_equal(fc.lower[:1], forecasts[0].lower)
        np.testing.assert_array_equal(fc.upper[:1], forecasts[0].upper)
    np.testing.assert_array_equal(forecasts[3].lower, forecasts[4].lower[:168])


@pytest.mark.slow
def test_daily_data_horizons_count_days():
    t = pd.date_range("2020-01-01", periods=120, freq="D")
    prices = pd.Series(100 + np.sin(np.arange(120) / 3) * 5, index=t)
    m = jl.LSTMForecaster(**SMALL).fit(prices)
    assert len(m.forecast("1d")) == 1 and len(m.forecast("7d")) == 7
    assert m.forecast("7d").timestamps[-1] == np.datetime64("2020-05-06")


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_input_forms_agree(demo):
    closes = demo.close[-120:]
    ts_ms = demo.timestamps[-120:].astype("datetime64[ms]").astype(np.int64)
    rows = [[int(t), 1.0, 1.0, 1.0, float(c), 0.0] for t, c in zip(ts_ms, closes)]
    forms = [closes, list(closes), pd.Series(closes), rows, demo.to_pandas()[-120:]]
    preds = [jl.LSTMForecaster(**SMALL).fit(f).forecast(steps=3).predicted for f in forms]
    for p in preds[1:]:
        np.testing.assert_array_equal(p, preds[0])


def test_same_seed_same_model_different_seed_differs(demo):
    a = jl.LSTMForecaster(**SMALL, seed=3).fit(demo.close[-120:])
    b = jl.LSTMForecaster(**SMALL, seed=3).fit(demo.close[-120:])
    c = jl.LSTMForecaster(**SMALL, seed=4).fit(demo.close[-120:])
    np.testing.assert_array_equal(a.forecast(steps=5).predicted, b.forecast(steps=5).predicted)
    assert not np.array_equal(a.forecast(steps=5).predicted, c.forecast(steps=5).predicted)


def test_relative_target_and_constant_series():
    m = jl.LSTMForecaster(**SMALL).fit(100 * np.exp(np.cumsum(np.full(120, 0.01))))
    # Constant returns have no spread (only rounding noise): a unit scale, not a blow-up.
    assert m.encoding_state_ == {"log_return_std": 1.0}
    fc = m.forecast(steps=5)
    assert np.all(np.isfinite(fc.predicted))
    flat = jl.LSTMForecaster(**SMALL, encoding="minmax").fit(np.full(120, 42.0))
    fc = flat.forecast(steps=4)
    assert np.all(np.isfinite(fc.predicted)) and np.all(np.abs(fc.predicted - 42) < 5)
    assert np.all(fc.lower == fc.predicted)  # zero volatility: a zero-width band


def test_observe_moves_the_origin(fitted, demo):
    m = jl.LSTMForecaster.from_json(fitted.to_json())
    m.observe(demo.to_pandas()["close"][:-50])
    fc = m.forecast("1h")
    assert fc.timestamps[0] == demo.timestamps[-51] + np.timedelta64(1, "h")
    assert fc.predicted[0] == pytest.approx(fitted.predict(demo.close[-60:-50]))


def test_observe_refuses_prices_at_another_interval(fitted, demo):
    # Daily prices handed to an hourly model were taken: the model's interval became a day
    # and it forecast a day a step with an hour's dynamics and band.
    m = jl.LSTMForecaster.from_json(fitted.to_json())
    hourly = demo.to_pandas()["close"]
    daily = hourly.resample("1D").last().dropna()
    with pytest.raises(ValueError, match=r"data's interval 1d is not the model's 1h: observe 1h prices"):
        m.observe(daily)
    with pytest.raises(ValueError, match=r"data's interval 1d is not the model's 1h"):
        m.observe(np.asarray(daily), interval="1d")
    assert m.interval_ == np.timedelta64(1, "h") and m.last_timestamp_ == fitted.last_timestamp_  # unchanged
    assert m.observe(hourly[:-50]).interval_ == np.timedelta64(1, "h")
    undated = jl.baselines.NaiveForecaster().fit(np.asarray(hourly[-200:]))  # no interval: it takes the one given
    assert undated.interval_ is None
    assert undated.observe(np.asarray(daily), interval="1d").interval_ == np.timedelta64(1, "D")


@pytest.mark.slow
def test_save_load_bit_identical_in_a_new_process(fitted, tmp_path):
    path = tmp_path / "BTCUSD"
    fitted.save(path)
    here = fitted.forecast("1d")
    code = textwrap.dedent(
        f"""
        import numpy as np, jaxlstm as jl
        fc = jl.LSTMForecaster.load({str(path)!r}).forecast("1d")
        print(fc.predicted.tobytes().hex()); print(fc.lower.tobytes().hex()); print(str(fc.timestamps[0]))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == here.predicted.tobytes().hex()
    assert out[1] == here.lower.tobytes().hex()
    assert np.datetime64(out[2]) == here.timestamps[0]
    loaded = jl.LSTMForecaster.load(path)
    assert loaded.get_params() == fitted.get_params() and loaded.metrics_ == fitted.metrics_


def test_metadata_records_real_losses_and_versions(fitted, tmp_path):
    import json

    fitted.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "metadata.json").read_text())
    assert meta["model"] == "LSTMForecaster" and meta["symbol"] == "BTCUSD"
    assert meta["format_version"] == persistence.FORMAT_VERSION and meta["library_version"] == jl.__version__
    assert meta["settings"]["hidden_size"] == 8 and meta["encoding"]["name"] == "minmax"
    # JSON holds the features tuple as a list.
    assert meta["settings"] == json.loads(json.dumps({k: v for k, v in fitted.get_params().items() if k != "symbol"}))
    assert meta["data"]["interval_seconds"] == 3600
    assert meta["metrics"]["final_train_loss"] > 0 and "accuracy" not in json.dumps(meta)
    assert len(meta["history"]["train_loss"]) == meta["metrics"]["epochs_run"]


def test_json_export_round_trip(fitted, tmp_path):
    text = fitted.to_json(tmp_path / "model.json")
    again = jl.LSTMForecaster.from_json(text)
    from_file = jl.LSTMForecaster.from_json(tmp_path / "model.json")
    for m in (again, from_file):
        np.testing.assert_array_equal(m.forecast("4h").predicted, fitted.forecast("4h").predicted)


def test_the_band_residuals_are_saved_as_arrays_and_the_metadata_stays_small(fitted, tmp_path):
    """About 40,000 residuals made each saved model's metadata.json about 1 MB of JSON."""
    from jaxlstm._src.forecasters import stacked_residuals

    tree, metadata = fitted.saved_parts()
    assert metadata["residuals"] is True and not any(metadata["calibration"].values())
    (found,) = stacked_residuals.unstack(tree["residuals"], 1)
    kept = {s: rows for s, rows in fitted.band_.residuals.items() if rows.size}
    assert set(found) == set(kept) and sum(rows.size for rows in kept.values()) > 1000
    for source, rows in kept.items():
        np.testing.assert_array_equal(found[source], rows)  # NaN where NaN was
    fitted.save(tmp_path / "m")
    assert (tmp_path / "m" / "metadata.json").stat().st_size < 20_000
    loaded = jl.LSTMForecaster.load(tmp_path / "m")
    for source, rows in fitted.band_.residuals.items():
        np.testing.assert_array_equal(loaded.band_.residuals[source], rows)


def test_a_model_saved_with_its_residuals_in_the_metadata_still_loads(fitted):
    """The layout of earlier versions: residual rows in metadata["calibration"], params alone in the tree."""
    from jaxlstm._src.forecasters import lstm_state

    tree, metadata = fitted.saved_parts()
    metadata = {**lstm_state.metadata(fitted)}  # every row in the JSON, no "residuals" flag
    old = lstm_state.from_parts(jl.LSTMForecaster, tree["state"], metadata, "test")
    before, after = fitted.forecast("1d"), old.forecast("1d")
    for field in ("predicted", "lower", "upper"):
        np.testing.assert_array_equal(getattr(after, field), getattr(before, field))
    with pytest.raises(ValueError, match="test is damaged.*lack the calibration residuals"):
        lstm_state.from_parts(jl.LSTMForecaster, tree["state"], {**metadata, "residuals": True}, "test")


def test_format_versions_refused(fitted, tmp_path):
    import json

    for version in (0, persistence.FORMAT_VERSION + 1):
        path = tmp_path / f"v{version}"
        fitted.save(path)
        meta_file = path / "metadata.json"
        meta = json.loads(meta_file.read_text())
        meta["format_version"] = version
        meta_file.write_text(json.dumps(meta))
        with pytest.raises(ValueError, match="format_version"):
            jl.LSTMForecaster.load(path)
    doc = json.loads(fitted.to_json())
    doc["format_version"] = 9
    with pytest.raises(ValueError, match="format_version"):
        jl.LSTMForecaster.from_json(json.dumps(doc))


def test_damaged_and_missing_models(fitted, tmp_path):
    with pytest.raises(FileNotFoundError):
        jl.LSTMForecaster.load(tmp_path / "nothing")
    path = fitted.save(tmp_path / "m")
    (path / "metadata.json").write_text("{not json")
    with pytest.raises(ValueError):
        jl.LSTMForecaster.load(path)
    with pytest.raises(ValueError, match="not a 'jaxlstm.forecaster' document"):
        jl.LSTMForecaster.from_json('{"format": "something else"}')


@pytest.mark.parametrize(
    "data,err,match",
    [
        ([1.0, 2.0, float("nan")] * 10, ValueError, "finite"),
        ([1.0, 2.0, float("inf")] * 10, ValueError, "finite"),
        ([], ValueError, "data"),
        (list(range(1, 11)), ValueError, "at least 11"),
        ("no-such-prices.csv", FileNotFoundError, "no such file"),  # a str is a CSV path
        (b"prices", TypeError, "data"),
        (np.ones((20, 2, 2)), ValueError, "data"),
        ([1.0, -2.0] * 10, ValueError, "positive"),
    ],
)
def test_bad_fit_inputs(data, err, match):
    with pytest.raises(err, match=match):
        jl.LSTMForecaster(**SMALL).fit(data)


def test_bad_prediction_inputs(fitted, demo):
    with pytest.raises(ValueError, match="exactly 10 prices"):
        fitted.predict_multi_step(demo.close[-11:], 3)
    with pytest.raises(ValueError, match="at least 10"):
        fitted.predict(demo.close[-5:])
    with pytest.raises(ValueError, match="finite"):
        fitted.predict(np.full(10, np.nan))
    with pytest.raises(ValueError, match="steps"):
        fitted.predict_multi_step(demo.close[-10:], 0)
    with pytest.raises(ValueError, match="horizon"):
        fitted.forecast("90min")
    with pytest.raises(ValueError, match="exactly one"):
        fitted.forecast()
    with pytest.raises(RuntimeError, match="fit"):
        jl.LSTMForecaster().forecast("1h")


@pytest.mark.parametrize(
    "kwargs,err,name",
    [
        (dict(hidden_size=0), ValueError, "hidden_size"),
        (dict(sequence_length=1), ValueError, "sequence_length"),
        (dict(learning_rate=0.0), ValueError, "learning_rate"),
        (dict(epochs=2.5), TypeError, "epochs"),
        (dict(early_stopping="yes"), TypeError, "early_stopping"),
        (dict(encoding="levels"), ValueError, "encoding"),
        (dict(band="bootstrap"), ValueError, "band"),
        (dict(calibration="jackknife"), ValueError, "calibration"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
        (dict(symbol=3), TypeError, "symbol"),
    ],
)
def test_bad_constructor_arguments(kwargs, err, name):
    with pytest.raises(err, match=name):
        jl.LSTMForecaster(**kwargs)


@pytest.mark.slow
def test_progress_bar_only_when_asked(demo, capsys):
    jl.LSTMForecaster(**dict(SMALL, epochs=3)).fit(demo.close[-120:])
    assert capsys.readouterr().err == ""
    jl.LSTMForecaster(**dict(SMALL, epochs=3)).fit(demo.close[-120:], verbose=True)
    err = capsys.readouterr().err
    assert "3/3" in err or "epoch" in err


@pytest.mark.slow
def test_fit_many_trains_each_symbol_like_a_lone_fit(demo, tmp_path):
    data = {"A": demo.to_pandas()["close"][-120:], "B": demo.close[-100:] * 2, "C": list(demo.close[-120:] / 3)}
    models = jl.LSTMForecaster.fit_many(data, **SMALL)
    assert list(models) == ["A", "B", "C"] and all(m.symbol == s for s, m in models.items())
    lone = jl.LSTMForecaster(**SMALL).fit(demo.to_pandas()["close"][-120:])
    # Same length as the longest series: same minibatches, same model (to float rounding).
    np.testing.assert_allclose(models["A"].forecast(steps=5).predicted, lone.forecast(steps=5).predicted, rtol=1e-5)
    assert models["A"].forecast("1h").timestamps[0] == demo.timestamps[-1] + np.timedelta64(1, "h")
    # The shorter, padded series still learns its own scale and saves on its own.
    assert models["B"].metrics_["n_train_windows"] + models["B"].metrics_["n_val_windows"] == 90
    b = models["B"].forecast(steps=3).predicted
    # Padded with zero-weight windows to A's length, B still trains as it would alone.
    alone = jl.LSTMForecaster(**SMALL).fit(demo.close[-100:] * 2).forecast(steps=3).predicted
    np.testing.assert_allclose(b, alone, rtol=1e-5)
    assert np.all(np.abs(b / (demo.close[-1] * 2) - 1) < 0.1)
    models["B"].save(tmp_path / "B")
    np.testing.assert_array_equal(jl.LSTMForecaster.load(tmp_path / "B").forecast(steps=3).predicted, b)


@pytest.mark.slow
def test_forecast_many_equals_each_models_own_forecast(demo, fitted):
    close = demo.to_pandas()["close"]
    many = jl.LSTMForecaster.fit_many({"A": close[-120:], "B": close[-150:] * 2, "C": close[-130:] / 3}, **SMALL)
    # A different encoding and window length: forecast in a group of its own.
    many["D"] = fitted
    for workers in (None, 1, 2):
        together = jl.LSTMForecaster.forecast_many(many, "1d", confidence=0.9, workers=workers)
        assert list(together) == ["A", "B", "C", "D"]
        for symbol, model in many.items():
            alone = model.forecast("1d", confidence=0.9)
            got = together[symbol]
            assert got.symbol == alone.symbol and got.confidence == 0.9
            np.testing.assert_array_equal(got.timestamps, alone.timestamps)
            np.testing.assert_allclose(got.predicted, alone.predicted, rtol=1e-5)
            np.testing.assert_allclose(got.lower, alone.lower, rtol=1e-5)
            np.testing.assert_allclose(got.upper, alone.upper, rtol=1e-5)
    steps = jl.LSTMForecaster.forecast_many({"A": many["A"]}, steps=7)
    assert steps["A"].predicted.shape == (7,)
    # The long format of Nixtla's libraries, one row per symbol and step.
    frame = together.to_pandas()
    assert list(frame.columns) == ["unique_id", "ds", "predicted", "lower", "upper"]
    assert list(frame["unique_id"].unique()) == ["A", "B", "C", "D"] and len(frame) == 4 * 24
    np.testing.assert_array_equal(frame.loc[frame["unique_id"] == "B", "predicted"], together["B"].predicted)


def test_forecast_many_bad_inputs(fitted):
    with pytest.raises(TypeError, match="^forecasters must be a non-empty mapping"):
        jl.LSTMForecaster.forecast_many({}, "1d")
    with pytest.raises(TypeError, match="^forecasters must be a non-empty mapping"):
        jl.LSTMForecaster.forecast_many([fitted], "1d")
    with pytest.raises(
        TypeError, match=r"^forecasters\['N'\] must be an instance of LSTMForecaster, got NaiveForecaster"
    ):
        jl.LSTMForecaster.forecast_many({"A": fitted, "N": jl.baselines.NaiveForecaster()}, "1d")
    with pytest.raises(RuntimeError, match=r"^forecasters\['U'\]: .*not fitted"):
        jl.LSTMForecaster.forecast_many({"U": jl.LSTMForecaster()}, "1d")
    with pytest.raises(ValueError, match="exactly one of horizon"):
        jl.LSTMForecaster.forecast_many({"A": fitted}, "1d", steps=3)
    with pytest.raises(ValueError, match="^confidence"):
        jl.LSTMForecaster.forecast_many({"A": fitted}, "1d", confidence=1.5)
    with pytest.raises(ValueError, match="^workers"):
        jl.LSTMForecaster.forecast_many({"A": fitted}, "1d", workers=0)


def test_fit_many_bad_inputs(demo):
    with pytest.raises(TypeError, match="mapping"):
        jl.LSTMForecaster.fit_many([demo.close], **SMALL)
    with pytest.raises(ValueError, match=r"data\['B'\]"):
        jl.LSTMForecaster.fit_many({"A": demo.close[-120:], "B": [1.0, np.nan] * 30}, **SMALL)
    with pytest.raises(TypeError, match="symbol"):
        jl.LSTMForecaster.fit_many({"A": demo.close[-120:]}, symbol="X", **SMALL)


def test_settings_are_constructor_arguments():
    m = jl.LSTMForecaster(hidden_size=8, band="volatility", symbol="X")
    params = m.get_params()
    assert list(params) == list(jl.LSTMForecaster.default_params())
    assert params["hidden_size"] == 8 and params["band"] == "volatility" and params["symbol"] == "X"
    assert jl.LSTMForecaster(**params).get_params() == params
    assert repr(m) == "LSTMForecaster(hidden_size=8, symbol='X', band='volatility')"
    assert m.set_params(hidden_size=4) is m and m.hidden_size == 4 and m.band == "volatility"
    with pytest.raises(ValueError, match="hidden_size"):
        m.set_params(hidden_size=0)
    assert m.hidden_size == 4  # a refused change leaves the model as it was
    with pytest.raises(ValueError, match="no setting"):
        m.set_params(hidden=3)


def test_set_params_unfits(fitted):
    import copy

    m = copy.deepcopy(fitted)
    m.set_params(epochs=3)
    with pytest.raises(RuntimeError, match="not fitted"):
        m.forecast(steps=2)
    assert fitted.params_ is not None


@pytest.mark.slow
def test_fits_in_two_threads_run_at_the_same_time(demo):
    # Model A's progress bar holds its training loop inside the first epoch until model B,
    # fitted in another thread, has finished. Fits serialised by a process-wide lock (or by
    # ordered effects) would wait for each other forever; here both complete.
    import threading

    from jaxlstm._src.forecasters import progress

    a_inside, b_done = threading.Event(), threading.Event()
    waited = []

    class Blocking(progress.ProgressBar):
        def __call__(self, epoch, train_loss, val_loss):
            if not waited:
                a_inside.set()
                waited.append(b_done.wait(timeout=60))
            super().__call__(epoch, train_loss, val_loss)

    original = progress.ProgressBar
    progress.ProgressBar = Blocking
    try:
        a = threading.Thread(
            target=lambda: jl.LSTMForecaster(**dict(SMALL, epochs=2)).fit(demo.close[-120:], verbose=True)
        )
        a.start()
        assert a_inside.wait(timeout=120)  # A is now inside its compiled training loop
        jl.LSTMForecaster(**dict(SMALL, epochs=2, seed=1)).fit(demo.close[-100:])
        b_done.set()
        a.join(timeout=120)
    finally:
        progress.ProgressBar = original
    assert not a.is_alive() and waited == [True]


def test_a_model_of_the_first_format_gets_a_clear_error():
    import pathlib

    old = pathlib.Path(__file__).resolve().parents[1] / "data" / "model_format_v1"
    with pytest.raises(ValueError, match=r"format_version 1.*format_version 2|format.*1.*2"):
        jl.LSTMForecaster.load(old)


@pytest.mark.slow
def test_prices_without_timestamps_save_and_load_without_inventing_any(demo, tmp_path):
    prices = demo.close[-120:]
    plain = jl.LSTMForecaster(**SMALL).fit(prices)
    daily = jl.LSTMForecaster(**SMALL).fit(prices, interval="1d")
    plain.save(tmp_path / "plain")
    daily.save(tmp_path / "daily")
    plain, daily = jl.LSTMForecaster.load(tmp_path / "plain"), jl.LSTMForecaster.load(tmp_path / "daily")
    assert plain.interval_ is None and plain.forecast(steps=2).timestamps is None
    with pytest.raises(ValueError, match="interval="):
        plain.forecast("1d")
    assert daily.interval_ == np.timedelta64(1, "D") and len(daily.forecast("1w")) == 7
    assert daily.forecast("1w").timestamps is None


def test_many_windows_padded_to_a_power_of_two_forecast_as_one_by_one(fitted, demo):
    closes = np.asarray(demo.close[-40:])
    windows = np.stack([closes[i : i + 10] for i in range(11)])  # 11 windows: padded to 16 inside
    together = fitted._predict_many(windows, 3)
    assert together.shape == (11, 3)
    for i in (0, 5, 10):
        np.testing.assert_allclose(together[i], fitted._predict_many(windows[i : i + 1], 3)[0], rtol=1e-6)


# ---------------------------------------------------------------- architectures, features, direct heads

TINY = dict(hidden_size=4, sequence_length=8, epochs=2, batch_size=32, num_heads=2)
RICH = ("close", "volume", "rsi", "range")


@pytest.fixture(scope="module")
def candles(demo):
    return demo[-260:]


# The default network stays in the quick tier; each other one compiles for ten seconds or more.
@pytest.fixture(
    scope="module",
    params=[a if a == "lstm" else pytest.param(a, marks=pytest.mark.slow) for a in jl.nn.ARCHITECTURES],
)
def rich_model(request, candles):
    model = jl.LSTMForecaster(**TINY, architecture=request.param, features=RICH, direct_steps=4, symbol="BTCUSD")
    return model.fit(candles.to_pandas())


@pytest.mark.slow
def test_every_architecture_fits_forecasts_saves_and_exports(rich_model, candles, tmp_path):
    assert type(rich_model.model_config) is type(jl.nn.make_network(rich_model.architecture, num_heads=2))
    assert rich_model.model_config.input_size == 4 and rich_model.model_config.output_size == 4
    # rsi needs 14 candles before the first of the 8 the network reads.
    assert rich_model.window_length == 22 and rich_model.min_fit_length == 26
    assert rich_model.input_columns == ("close", "high", "low", "volume")
    fc = rich_model.forecast(steps=4)
    assert len(fc) == 4 and np.all(fc.lower <= fc.predicted) and np.all(fc.predicted <= fc.upper)
    assert fc.timestamps[0] == candles.timestamps[-1] + np.timedelta64(1, "h")
    loaded = jl.LSTMForecaster.load(rich_model.save(tmp_path / "m"))
    assert loaded.get_params() == rich_model.get_params() and loaded.feature_state_ == rich_model.feature_state_
    np.testing.assert_array_equal(loaded.forecast(steps=4).predicted, fc.predicted)
    np.testing.assert_array_equal(jl.LSTMForecaster.from_json(rich_model.to_json()).forecast(steps=4).upper, fc.upper)
    # A window as candles (here a DataFrame) or as a [time, columns] array in input_columns order.
    frame = candles.to_pandas()[-30:]
    values = frame[list(rich_model.input_columns)].to_numpy()[-22:]
    np.testing.assert_allclose(rich_model.predict_multi_step(frame, 3), rich_model.predict_multi_step(values, 3))
    with pytest.raises(ValueError, match="steps must be at most 4"):
        rich_model.forecast(steps=5)


@pytest.mark.slow
def test_features_and_direct_heads_in_fit_many_forecast_many_and_backtest(demo):
    settings = dict(TINY, architecture="attention", features=("close", "volume"), direct_steps=3)
    data = {"A": demo[-200:], "B": demo[-400:-200]}
    many = jl.LSTMForecaster.fit_many(data, **settings)
    alone = jl.LSTMForecaster(**settings, symbol="A").fit(data["A"])
    np.testing.assert_allclose(many["A"].forecast(steps=3).predicted, alone.forecast(steps=3).predicted, rtol=1e-4)
    together = jl.LSTMForecaster.forecast_many(many, steps=2)
    np.testing.assert_allclose(together["B"].predicted, many["B"].forecast(steps=2).predicted, rtol=1e-5)
    factories = {"rich": lambda: jl.LSTMForecaster(**settings), "lstm": lambda: jl.LSTMForecaster(**TINY)}
    series = demo[-160:]
    loop = jl.evaluation.backtest(series, factories, train_size=120, steps=3, stride=12, vectorize=False)
    fast = jl.evaluation.backtest(series, factories, train_size=120, steps=3, stride=12, vectorize=True)
    np.testing.assert_allclose(fast["rich"].predicted, loop["rich"].predicted, rtol=1e-4)
    np.testing.assert_allclose(loop["naive"].predicted[:, 0], series.close[loop.origins - 1])
    with pytest.raises(ValueError, match="series must be candles with the columns"):
        jl.evaluation.backtest(series.close, factories, train_size=120, steps=3)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_direct_close_only_model_holds_back_the_gap():
    prices = jl.evaluation.seasonal(200, period=12, seed=3).prices
    model = jl.LSTMForecaster(
        hidden_size=4, sequence_length=5, epochs=2, batch_size=16, direct_steps=6, season_length=None
    ).fit(prices)
    n_windows = 200 - 5 - 6 + 1
    n_val = int(n_windows * 0.1)
    assert model.metrics_["n_val_windows"] == n_val and model.metrics_["n_train_windows"] == n_windows - n_val - 5
    # The held-back tail starts after the last training target: n_val + steps - 1 prices.
    assert model.holdout_size() == n_val + 5
    fc = model.forecast(steps=6)
    assert len(fc) == 6 and np.all(fc.lower <= fc.predicted) and np.all(fc.predicted <= fc.upper)
    with pytest.raises(ValueError, match=r"steps must be at most 6.*or direct_steps=None"):
        model.predict_multi_step(prices[-5:], 7)
    with pytest.raises(ValueError, match="steps must be at most 6"):
        jl.LSTMForecaster.forecast_many({"x": model}, steps=7)
    # Saved calibration covers the head's 6 steps (not the 168 of a recursive model).
    assert len(model.band_.to_json()["auto"][0]) == 6
    loaded = jl.LSTMForecaster.from_json(model.to_json())
    np.testing.assert_array_equal(loaded.forecast(steps=6).lower, fc.lower)


@pytest.mark.slow
def test_candle_input_forms_agree(demo, tmp_path):
    candles = demo[-150:]
    frame = candles.to_pandas()
    path = tmp_path / "candles.csv"
    frame.to_csv(path)
    rows = [[int(t.value // 10**6), o, h, low, c, v] for t, (o, h, low, c, v) in zip(frame.index, frame.to_numpy())]
    settings = dict(TINY, features=("close", "volume", "body"), direct_steps=2)
    forecasts = [
        jl.LSTMForecaster(**settings).fit(source).forecast(steps=2).predicted for source in (candles, frame, rows, path)
    ]
    for other in forecasts[1:]:
        np.testing.assert_allclose(other, forecasts[0], rtol=1e-6)
    # Features of the close alone read a plain series too.
    closes_only = jl.LSTMForecaster(**TINY, features=("close", "rsi", "log_return"), direct_steps=2)
    assert closes_only.input_columns == ("close",)
    assert np.all(np.isfinite(closes_only.fit(candles.close).forecast(steps=2).predicted))


@pytest.mark.slow
def test_zero_volume_is_fine_and_observe_takes_candles(demo):
    frame = demo[-150:].to_pandas()
    frame.iloc[::7, frame.columns.get_loc("volume")] = 0.0
    settings = dict(TINY, features=("close", "volume", "rel_volume"), direct_steps=2, calibration="both")
    model = jl.LSTMForecaster(**settings).fit(frame)
    assert all(np.isfinite(v["mean"]) and v["std"] > 0 for v in model.feature_state_.values())
    # Both residual sources, the held-back tail and a copy refitted on the head of the candles.
    assert model.calibration_residuals(2, "refit").shape[1] == 2 and model.calibration_residuals(2, "auto").shape[0] > 0
    before = model.forecast(steps=2).predicted
    model.observe(demo[-100:-10])
    assert model.last_timestamp_ == demo.timestamps[-11] and model.prices_.shape == (model.window_length, 2)
    assert not np.allclose(model.forecast(steps=2).predicted, before)


@pytest.mark.parametrize(
    ("settings", "data", "error", "match"),
    [
        (dict(features=("close", "volume")), None, ValueError, r"need direct_steps=H"),
        (dict(features=("close", "obv"), direct_steps=2), None, ValueError, "unknown feature 'obv'"),
        (dict(features="close"), None, TypeError, "sequence of feature names"),
        (dict(architecture="gru"), None, ValueError, "architecture must be one of"),
        (dict(architecture="transformer", num_heads=3), None, ValueError, "divisible by num_heads"),
        (dict(direct_steps=0), None, ValueError, "direct_steps"),
        (dict(features=("close", "volume"), direct_steps=2), "closes", ValueError, "must be candles with the columns"),
        (dict(features=("close", "range"), direct_steps=2), "no_high", ValueError, "missing high, low"),
        (
            dict(features=("close", "volume"), direct_steps=2),
            "nan_volume",
            ValueError,
            "feature 'volume' needs a finite",
        ),
        (dict(features=("close", "volume"), direct_steps=2), "negative", ValueError, "volume must be finite and >= 0"),
        (dict(features=("close", "macd"), direct_steps=2), "short", ValueError, "feature 'macd' needs 77 candles"),
    ],
)
def test_bad_feature_settings_and_data(demo, settings, data, error, match):
    frame = demo[-120:].to_pandas()
    sources = {
        "closes": frame["close"].to_numpy(),
        "no_high": frame[["close", "volume"]],
        "nan_volume": frame.assign(volume=frame["volume"].where(np.arange(120) != 30)),
        "negative": frame.assign(volume=-frame["volume"]),
        "short": frame[-80:],
    }
    with pytest.raises(error, match=match):
        jl.LSTMForecaster(**{**TINY, **settings}).fit(sources[data] if data else frame)


def test_bad_feature_windows(rich_model):
    with pytest.raises(ValueError, match=r"must be \[time, 4\] candles with the columns"):
        rich_model.predict_multi_step(np.ones((22, 3)), 2)
    with pytest.raises(ValueError, match="at least 22 candles.*feature .rsi. needs 14 candles"):
        rich_model.predict_multi_step(np.ones((21, 4)), 2)
    window = np.ones((22, 4))
    window[3, 3] = np.nan
    with pytest.raises(ValueError, match="feature 'volume' needs a finite volume"):
        rich_model.predict_multi_step(window, 2)


def test_a_features_model_on_candles_without_volume_names_the_columns_found():
    # The loader is asked for exactly the columns the model reads, so it can say which is missing.
    frame = pd.DataFrame(
        {
            "timestamp": pd.date_range("2024-01-01", periods=50, freq="h"),
            "open": 100.0,
            "high": 101.0,
            "low": 99.0,
            "close": 100.0,
            "turnover": 1.0,
        }
    )
    model = jl.LSTMForecaster(features=("close", "volume"), direct_steps=4, epochs=1)
    with pytest.raises(
        ValueError,
        match=r"no volume column .*found columns \['timestamp', 'open', 'high', 'low', 'close', 'turnover'\]",
    ):
        model.fit(frame)
