"""ModelInputs: windows of candles to network inputs, state fitted on training rows, the direct forecast."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlstm as jl
from jaxlstm._src.prep.inputs import forecast_direct
from jaxlstm.data import MinMaxEncoding, ModelInputs, RelativeEncoding, compute_features


def _series(n=200, seed=0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(0.01 * rng.standard_normal(n)))
    volume = np.exp(2 + rng.standard_normal(n))
    volume[5] = 0.0
    return np.stack([close, volume], axis=1)


def test_close_only_inputs_are_the_encodings_inputs():
    inputs = ModelInputs(("close",), RelativeEncoding(), 10)
    assert inputs.columns == ("close",) and inputs.warmup == 0 and inputs.window_length == 10
    closes = _series()[:, 0]
    enc, feats = inputs.fit(closes[:100])
    assert enc == RelativeEncoding().fit(closes[:100]) and feats == {}
    windows = jl.data.sliding_windows(closes, 10)[0][..., 0]
    state = inputs.device_state(enc, feats)
    np.testing.assert_array_equal(
        inputs.encode(state, windows), RelativeEncoding().encode_inputs(state["encoding"], jnp.asarray(windows))
    )


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_features_are_standardised_with_training_statistics_only():
    series = _series()
    inputs = ModelInputs(("volume", "close", "rsi"), MinMaxEncoding(), 8)
    assert inputs.columns == ("close", "volume") and inputs.indicators == ("volume", "rsi")
    assert inputs.warmup == 14 and inputs.window_length == 22
    enc, feats = inputs.fit(series[:120])
    with jax.enable_x64(True):
        raw = np.asarray(compute_features(("volume", "rsi"), {"close": series[:120, 0], "volume": series[:120, 1]}))
    assert enc == MinMaxEncoding().fit(series[:120, 0])
    np.testing.assert_allclose(feats["volume"]["mean"], np.mean(raw[:, 0]), rtol=1e-5)
    np.testing.assert_allclose(feats["rsi"]["std"], np.std(raw[14:, 1]), rtol=1e-5)
    # Later rows never enter the statistics.
    changed = series.copy()
    changed[120:, 1] *= 1000
    assert inputs.fit(changed[:120]) == (enc, feats)

    state = inputs.device_state(enc, feats)
    windows = jl.data.sliding_windows(series, 22)[0]
    x = np.asarray(jax.jit(inputs.encode)(state, windows))
    assert x.shape == (windows.shape[0], 8, 3)
    # Column order follows features: volume, close, rsi; each window's features equal the whole series'.
    full = np.asarray(compute_features(("volume", "rsi"), {"close": series[:, 0], "volume": series[:, 1]}))
    k = 50
    rows = slice(k + 14, k + 22)
    np.testing.assert_allclose(
        x[k, :, 0], (full[rows, 0] - feats["volume"]["mean"]) / feats["volume"]["std"], rtol=1e-4
    )
    np.testing.assert_allclose(x[k, :, 2], (full[rows, 1] - feats["rsi"]["mean"]) / feats["rsi"]["std"], rtol=1e-4)
    np.testing.assert_allclose(x[k, :, 1], MinMaxEncoding().scale(enc, windows[k, 14:, 0]), rtol=1e-5)
    assert np.all(np.isfinite(x))  # the zero volume at row 5 included


def test_constant_feature_is_scaled_by_one():
    series = _series()
    series[:, 1] = 7.0
    _, feats = ModelInputs(("close", "volume"), RelativeEncoding(), 5).fit(series)
    assert feats["volume"]["std"] == 1.0


@pytest.mark.slow  # compiles a direct forecast of its own
def test_forecast_direct_decodes_every_step():
    series = _series()[:, 0]  # log_return reads the close only: close-only inputs are [time] series
    inputs = ModelInputs(("close", "log_return"), RelativeEncoding(), 6)
    assert inputs.columns == ("close",)
    enc, feats = inputs.fit(series[:150])
    state = inputs.device_state(enc, feats)
    network = jl.LSTMConfig(input_size=2, hidden_size=4, output_size=5)
    params = network.init(jax.random.key(0))
    windows = jl.data.sliding_windows(series, inputs.window_length)[0][:3, :, 0]
    out = np.asarray(forecast_direct(network, params, inputs, state, windows, 5))
    y = np.asarray(jax.vmap(network.apply, (None, 0))(params, inputs.encode(state, windows)))
    expected = windows[:, -1:] * np.exp(y * enc["log_return_std"])
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_allclose(forecast_direct(network, params, inputs, state, windows[0], 2), out[0, :2], rtol=1e-6)


def test_saved_state_is_checked():
    inputs = ModelInputs(("close", "volume"), RelativeEncoding(), 5)
    enc, feats = inputs.fit(_series())
    assert inputs.check_state(enc, feats) == (enc, feats)
    with pytest.raises(ValueError, match="feature state must hold"):
        inputs.check_state(enc, {})
    with pytest.raises(ValueError, match="feature volume std"):
        inputs.check_state(enc, {"volume": {"mean": 0.0, "std": -1.0}})
    with pytest.raises(KeyError):
        inputs.check_state({}, feats)


def test_bad_specs():
    with pytest.raises(ValueError, match="unknown feature"):
        ModelInputs(("close", "nope"), RelativeEncoding(), 5)
    with pytest.raises(TypeError, match="encoding must be an Encoding"):
        ModelInputs(("close",), "relative", 5)
    with pytest.raises(ValueError, match="sequence_length"):
        ModelInputs(("close",), RelativeEncoding(), 0)
    spec = ModelInputs(["close", "rsi"], RelativeEncoding(), 5)
    assert spec.features == ("close", "rsi") and hash(spec) == hash(dataclasses.replace(spec))
