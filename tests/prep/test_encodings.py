import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference_lstm import fused_lstm_forward

import jaxlstm as jl
from jaxlstm._src.nn.lstm import config_of
from jaxlstm._src.prep import encodings as targets


def _state(target, prices):
    return targets.get_encoding(target).fit(prices)


def _forecast(params, target, state, windows, steps):
    cfg = config_of(params)
    return targets.forecast_prices(cfg, params, targets.get_encoding(target), state, windows, steps)


def _params64(seed):
    rng = np.random.default_rng(seed)
    params = jl.init_params(jax.random.key(seed), jl.LSTMConfig(hidden_size=5, num_layers=2), dtype=jnp.float64)
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(scale=0.5, size=a.shape)), params)


def _price_space_loop(params, target, state, windows, steps):
    """The seed's loop in prices, written from the encodings' definitions in numpy."""
    layers = [(np.asarray(layer["w"]), np.asarray(layer["b"])) for layer in params["layers"]]
    windows = np.asarray(windows, np.float64).copy()
    out = []
    for _ in range(steps):
        if target == "minmax":
            z = (windows - state["data_min"]) / state["data_range"]
        else:
            z = np.log(windows / windows[:, -1:]) / state["log_return_std"]
        y = fused_lstm_forward(layers, params["head"]["w"], params["head"]["b"], z[..., None])[:, 0]
        if target == "minmax":
            nxt = y * state["data_range"] + state["data_min"]
        else:
            nxt = windows[:, -1] * np.exp(y * state["log_return_std"])
        out.append(nxt)
        windows = np.concatenate([windows[:, 1:], nxt[:, None]], axis=1)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("limit", [0, 2, 5])
def test_forecast_prices_with_a_limit_runs_that_many_steps_of_the_price_space_loop(limit):
    # The recursion stops after ``limit`` steps (calibration's origins near the end of a
    # series); the steps it runs are the seed's loop, the rest NaN.
    with jax.enable_x64(True):
        rng = np.random.default_rng(limit)
        prices = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=60)))
        state = _state("relative", prices)
        windows = np.stack([prices[-8:], prices[-16:-8]])
        params = _params64(7)
        enc = targets.get_encoding("relative")
        run = jax.jit(lambda w, n: targets.forecast_prices(config_of(params), params, enc, state, w, 5, limit=n))
        got = np.asarray(run(jnp.asarray(windows), limit))
        want = _price_space_loop(params, "relative", state, windows, 5)
        assert got.shape == (2, 5)
        np.testing.assert_allclose(got[:, :limit], want[:, :limit], rtol=1e-10)
        assert np.isnan(got[:, limit:]).all()


@pytest.mark.parametrize("target", ["minmax", "relative"])
@pytest.mark.parametrize(
    "steps", [pytest.param(1, marks=pytest.mark.slow), 3, pytest.param(12, marks=pytest.mark.slow)]
)
def test_forecast_prices_matches_a_price_space_loop(target, steps):
    with jax.enable_x64(True):
        rng = np.random.default_rng(steps)
        prices = 100 * np.exp(np.cumsum(rng.normal(scale=0.01, size=60)))
        state = _state(target, prices)
        windows = np.stack([prices[-8:], prices[-16:-8]])
        params = _params64(steps)
        got = np.asarray(_forecast(params, target, state, jnp.asarray(windows), steps))
        want = _price_space_loop(params, target, state, windows, steps)
        assert got.shape == (2, steps)
        np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.parametrize("target", ["minmax", "relative"])
def test_encoded_targets_decode_back_to_prices(target):
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        prices = 50 * np.exp(np.cumsum(rng.normal(scale=0.02, size=40)))
        state = {k: jnp.asarray(v) for k, v in _state(target, prices).items()}
        windows = jnp.asarray(np.stack([prices[i : i + 10] for i in range(5)]))
        following = jnp.asarray(prices[10:15])
        enc = targets.get_encoding(target)
        encoded = enc.encode_targets(state, windows, following[:, None])
        assert encoded.shape == (5, 1)
        np.testing.assert_allclose(np.asarray(enc.decode(state, windows, encoded))[:, 0], prices[10:15], rtol=1e-12)
        # Several future steps at once (a direct multi-step target) round-trip as well.
        future = jnp.stack([jnp.asarray(prices[10 + k : 13 + k]) for k in range(5)])
        np.testing.assert_allclose(
            np.asarray(enc.decode(state, windows, enc.encode_targets(state, windows, future))), future, rtol=1e-12
        )
        inputs = enc.encode_inputs(state, windows)
        assert inputs.shape == (5, 10, 1)
        if target == "relative":
            # Every window is relative to its own last price, so that input is 0 (XLA may
            # divide by multiplying with a reciprocal, hence not bit-exact).
            np.testing.assert_allclose(np.asarray(inputs[:, -1, 0]), 0.0, atol=1e-12)


def test_relative_encoding_is_scale_free():
    rng = np.random.default_rng(1)
    prices = 10 * np.exp(np.cumsum(rng.normal(scale=0.01, size=50)))
    state = _state("relative", prices)
    assert state == pytest.approx(_state("relative", 1000 * prices))
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())
    window = jnp.asarray(prices[-20:], jnp.float32)
    small = np.asarray(_forecast(params, "relative", state, window, 5))
    large = np.asarray(_forecast(params, "relative", state, 1000 * window, 5))
    np.testing.assert_allclose(large, 1000 * small, rtol=1e-5)


def test_fit_encoding_guards_degenerate_series():
    assert _state("minmax", np.full(10, 3.0)) == {"data_min": 3.0, "data_range": 1.0}
    assert _state("relative", np.full(10, 3.0)) == {"log_return_std": 1.0}
    # Constant growth: returns are equal up to rounding, so the std is noise and is not used.
    assert _state("relative", 2.0 ** np.arange(10.0)) == {"log_return_std": 1.0}


def test_unknown_encoding_is_refused():
    with pytest.raises(ValueError, match="encoding must be one of"):
        targets.get_encoding("logarithm")
    with pytest.raises(ValueError, match="encoding must be one of"):
        _state("zscore", np.ones(5))
    assert targets.get_encoding(targets.MinMaxEncoding()) == targets.get_encoding("minmax")


def test_encodings_are_static_and_hashable():
    # They are static arguments of compiled functions: equal by value, one compilation.
    assert hash(targets.RelativeEncoding()) == hash(targets.RelativeEncoding())
    assert targets.RelativeEncoding() == targets.get_encoding("relative")
    assert targets.MinMaxEncoding.pipelined and not targets.RelativeEncoding.pipelined


def test_log_return_std_is_the_one_spread_formula():
    prices = np.array([100.0, 110.0, 99.0, 120.0])
    r = np.log(prices[1:] / prices[:-1])
    assert targets.log_return_std(prices) == pytest.approx(np.sqrt(np.mean((r - r.mean()) ** 2)))
    assert targets.log_return_std(prices, ddof=1) == pytest.approx(np.std(r, ddof=1))
    assert targets.log_return_std(prices[:2]) == 0.0
