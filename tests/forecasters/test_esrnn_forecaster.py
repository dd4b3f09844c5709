"""LSTMForecaster(architecture="esrnn"): fit, forecast, save/load, backtest and the command line."""

import json
import os

import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm import cli
from jaxlstm._src.nn import esrnn

SMALL = dict(architecture="esrnn", hidden_size=4, epochs=3, batch_size=16, encoding="log")


@pytest.fixture(scope="module")
def prices():
    return jl.evaluation.seasonal(160, period=12, seed=3).prices


@pytest.fixture(scope="module")
def model(prices):
    return jl.LSTMForecaster(**SMALL, season_length=12, direct_steps=6).fit(prices)


def test_fit_forecast_round_trip(model, prices):
    cfg = model.model_config
    assert isinstance(cfg, esrnn.ESRNNConfig) and cfg.season_length == 12 and cfg.output_size == 6
    # The window covers 1.25 seasons (15 < the default 20: sequence_length stays the floor).
    assert model.input_length == 20 and model.params_["smoothing"]["season0"].shape == (12,)
    fc = model.forecast(steps=6, level=[80, 95])
    assert len(fc) == 6 and np.all(np.isfinite(fc.predicted)) and np.all(fc.predicted > 0)
    assert np.all(fc.lower <= fc.predicted) and np.all(fc.predicted <= fc.upper)
    # The forecast is the network's: the decoded output of the last window.
    np.testing.assert_allclose(model.predict_multi_step(prices[-20:], 6), fc.predicted, rtol=1e-6)


def test_save_load_is_bit_identical(model, tmp_path):
    loaded = jl.LSTMForecaster.load(model.save(tmp_path / "m"))
    assert loaded.get_params() == model.get_params() and loaded.model_config == model.model_config
    np.testing.assert_array_equal(loaded.forecast(steps=6).predicted, model.forecast(steps=6).predicted)
    np.testing.assert_array_equal(loaded.forecast(steps=6).upper, model.forecast(steps=6).upper)


@pytest.mark.slow
def test_auto_season_and_no_season(prices, tmp_path):
    auto = jl.LSTMForecaster(**SMALL, season_length="auto").fit(prices)
    assert auto.season_length_ == 12 and auto.model_config.season_length == 12
    loaded = jl.LSTMForecaster.load(auto.save(tmp_path / "auto"))
    assert loaded.model_config.season_length == 12
    np.testing.assert_array_equal(loaded.forecast(steps=3).predicted, auto.forecast(steps=3).predicted)
    # No season: level-only smoothing, no seasonal parameters.
    plain = jl.LSTMForecaster(**SMALL, season_length=None).fit(prices)
    assert plain.model_config.season_length == 1 and set(plain.params_["smoothing"]) == {"level"}


def test_the_default_encoding_leaves_the_season_to_the_network():
    # encoding="seasonal" (the default) with the ES-RNN: the relative encoding, plain windows, the network's season.
    model = jl.LSTMForecaster(architecture="esrnn", season_length=12)
    assert model.encoding == "seasonal" and model.model_inputs.encoding == jl.data.RelativeEncoding()
    assert model.input_columns == ("close",) and model.model_config.season_length == 12


@pytest.mark.slow
def test_backtest_runs_esrnn(prices):
    factories = {"esrnn": lambda: jl.LSTMForecaster(**SMALL, season_length=12, direct_steps=3)}
    result = jl.evaluation.backtest(prices, factories, train_size=120, steps=3, stride=12)
    assert np.all(np.isfinite(result["esrnn"].predicted)) and result["esrnn"].predicted.shape[1] == 3


def test_bad_settings_raise(prices):
    with pytest.raises(ValueError, match="architecture must be one of"):
        jl.LSTMForecaster(architecture="es-rnn")
    with pytest.raises(ValueError, match="season_length must be"):
        jl.LSTMForecaster(architecture="esrnn", season_length=1)


@pytest.mark.slow
def test_command_line_trains_esrnn(tmp_path, capsys):
    from jaxlstm._src.io.ohlcv import demo_data_path

    models = str(tmp_path / "models")
    args = ["--epochs", "2", "--hidden-size", "4", "--candles", "120", "--quiet", "--architecture", "esrnn"]
    code = cli.main(
        [
            "--no-compile-cache",
            "train",
            "--data",
            demo_data_path().as_posix(),
            "--models",
            models,
            *args,
            "--season-length",
            "24",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    saved = jl.LSTMForecaster.load(os.path.join(models, "BTCUSD"))
    assert saved.architecture == "esrnn" and saved.model_config.season_length == 24
    code = cli.main(["--no-compile-cache", "forecast", "--steps", "3", "--models", models, "--json", *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert len(json.loads(out.out)["predictions"]) == 3
