import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from reference_lstm import fused_lstm_forward, recursive_forecast

import jaxlstm as jl
from jaxlstm._src import training
from jaxlstm._src.nn import lstm


def _random_params64(cfg, seed):
    rng = np.random.default_rng(seed)
    params = jl.init_params(jax.random.key(seed), cfg, dtype=jnp.float64)
    # Non-zero biases and larger weights exercise every term of the gate equations.
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(scale=0.5, size=a.shape)), params)


def _reference(params, xs):
    layers = [(np.asarray(layer["w"]), np.asarray(layer["b"])) for layer in params["layers"]]
    return fused_lstm_forward(layers, params["head"]["w"], params["head"]["b"], xs)


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("input_size", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_forward_matches_numpy_reference_float64(num_layers, input_size):
    with jax.enable_x64(True):
        cfg = jl.LSTMConfig(input_size=input_size, hidden_size=6, output_size=2, num_layers=num_layers)
        params = _random_params64(cfg, seed=num_layers * 10 + input_size)
        xs = np.random.default_rng(1).normal(size=(4, 9, input_size))
        out = np.asarray(jl.apply(params, jnp.asarray(xs)))
        assert out.shape == (4, 2) and out.dtype == np.float64
        np.testing.assert_allclose(out, _reference(params, xs), rtol=0, atol=1e-10)


@pytest.mark.slow
def test_single_window_equals_batched():
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(input_size=2, output_size=2))
    xs = jax.random.normal(jax.random.key(1), (3, 10, 2))
    np.testing.assert_allclose(np.asarray(jl.apply(params, xs[1])), np.asarray(jl.apply(params, xs))[1], atol=1e-6)


@pytest.mark.parametrize("input_size", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_predict_multi_step_matches_the_seed_loop(input_size):
    with jax.enable_x64(True):
        cfg = jl.LSTMConfig(input_size=input_size, hidden_size=5, output_size=input_size, num_layers=2)
        params = _random_params64(cfg, seed=3)
        xs = np.random.default_rng(2).normal(size=(3, 7, input_size))
        ys = np.asarray(jl.predict_multi_step(params, jnp.asarray(xs), steps=6))
        assert ys.shape == (3, 6, input_size)
        ref = recursive_forecast(lambda w: _reference(params, w), xs, 6)
        np.testing.assert_allclose(ys, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("time", "steps"),
    [
        pytest.param(1, 4, marks=pytest.mark.slow),
        (3, 10),
        pytest.param(20, 2, marks=pytest.mark.slow),
        pytest.param(5, 5, marks=pytest.mark.slow),
    ],
)
def test_pipelined_forecast_matches_the_seed_loop_for_any_window_and_horizon(time, steps):
    # Fewer, more and as many steps as the window is long; a one-step window; an unbatched window.
    with jax.enable_x64(True):
        cfg = jl.LSTMConfig(input_size=1, hidden_size=4, output_size=1, num_layers=2)
        params = _random_params64(cfg, seed=time + steps)
        xs = np.random.default_rng(time).normal(size=(2, time, 1))
        ref = recursive_forecast(lambda w: _reference(params, w), xs, steps)
        np.testing.assert_allclose(
            np.asarray(jl.predict_multi_step(params, jnp.asarray(xs), steps)), ref, rtol=0, atol=1e-10
        )
        single = np.asarray(jl.predict_multi_step(params, jnp.asarray(xs[1]), steps))
        assert single.shape == (steps, 1)
        np.testing.assert_allclose(single, ref[1], rtol=0, atol=1e-10)


def test_first_step_is_apply():
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())
    xs = jax.random.normal(jax.random.key(1), (2, 20, 1))
    np.testing.assert_allclose(
        np.asarray(jl.predict_multi_step(params, xs, 1))[:, 0], np.asarray(jl.apply(params, xs)), atol=1e-6
    )


@pytest.mark.slow
def test_jit_vmap_grad_compose():
    cfg = jl.LSTMConfig(hidden_size=8)
    params = jl.init_params(jax.random.key(0), cfg)
    xs = jax.random.normal(jax.random.key(1), (5, 12, 1))
    eager = jl.apply(params, xs)
    np.testing.assert_allclose(np.asarray(jax.jit(jl.apply)(params, xs)), np.asarray(eager), atol=1e-6)
    # vmap over examples, each a [time, features] window
    np.testing.assert_allclose(
        np.asarray(jax.vmap(jl.apply, in_axes=(None, 0))(params, xs)), np.asarray(eager), atol=1e-6
    )
    # vmap over a batch of param sets
    stacked = jax.vmap(lambda k: jl.init_params(k, cfg))(jax.random.split(jax.random.key(2), 4))
    many = jax.vmap(jl.apply, in_axes=(0, None))(stacked, xs)
    assert many.shape == (4, 5, 1)
    one = jl.apply(jax.tree.map(lambda a: a[2], stacked), xs)
    np.testing.assert_allclose(np.asarray(many[2]), np.asarray(one), atol=1e-6)
    many_fc = jax.jit(jax.vmap(jl.predict_multi_step, in_axes=(0, None, None)), static_argnums=2)(stacked, xs, 4)
    assert many_fc.shape == (4, 5, 4, 1)
    # grad with respect to params and inputs, through the recursive forecast
    loss = lambda p, x: jnp.sum(jl.predict_multi_step(p, x, steps=3) ** 2)
    gp, gx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, xs)
    assert gx.shape == xs.shape and float(jnp.abs(gx).sum()) > 0
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(gp))
    jitted = jax.jit(jl.predict_multi_step, static_argnames="steps")
    np.testing.assert_allclose(
        np.asarray(jitted(params, xs, steps=5)), np.asarray(jl.predict_multi_step(params, xs, 5)), atol=1e-6
    )


@pytest.mark.slow
def test_gradients_match_finite_differences():
    with jax.enable_x64(True):
        cfg = jl.LSTMConfig(input_size=2, hidden_size=3, output_size=2, num_layers=2)
        params = _random_params64(cfg, seed=5)
        xs = jnp.asarray(np.random.default_rng(3).normal(size=(2, 4, 2)))
        ys = jnp.asarray(np.random.default_rng(4).normal(size=(2, 2)))
        check_grads(
            lambda p: training.weighted_loss(p, xs, ys), (params,), order=2, modes=("rev",), atol=1e-6, rtol=1e-6
        )
        check_grads(
            lambda x: jnp.sum(jl.predict_multi_step(params, x, 3)),
            (xs,),
            order=1,
            modes=("fwd", "rev"),
            atol=1e-6,
            rtol=1e-6,
        )


def test_config_is_static_and_hashable():
    a, b = jl.LSTMConfig(hidden_size=16), jl.LSTMConfig(hidden_size=16)
    assert a == b and hash(a) == hash(b)
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(input_size=2, hidden_size=4, output_size=3, num_layers=2))
    assert lstm.config_of(params) == jl.LSTMConfig(2, 4, 3, 2)


def test_same_key_same_params_bitwise():
    cfg = jl.LSTMConfig(num_layers=2)
    p1 = jl.init_params(jax.random.key(42), cfg)
    p2 = jl.init_params(jax.random.key(42), cfg)
    p3 = jl.init_params(jax.random.key(43), cfg)
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert not np.array_equal(np.asarray(p1["layers"][0]["w"]), np.asarray(p3["layers"][0]["w"]))


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(hidden_size=0), "hidden_size"),
        (dict(num_layers=0), "num_layers"),
        (dict(input_size=2.0), "input_size"),
        (dict(output_size=True), "output_size"),
    ],
)
def test_bad_config(kwargs, name):
    with pytest.raises((ValueError, TypeError), match=name):
        jl.LSTMConfig(**kwargs)


def test_bad_inputs_name_the_argument():
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig())
    with pytest.raises(ValueError, match="xs"):
        jl.apply(params, jnp.zeros((2, 3, 4, 1)))
    with pytest.raises(ValueError, match="features"):
        jl.apply(params, jnp.zeros((2, 3, 2)))
    with pytest.raises(ValueError, match="steps"):
        jl.predict_multi_step(params, jnp.zeros((1, 5, 1)), 0)
    with pytest.raises(TypeError, match="steps"):
        jl.predict_multi_step(params, jnp.zeros((1, 5, 1)), 2.5)
    with pytest.raises(TypeError, match="steps"):
        jax.jit(jl.predict_multi_step)(params, jnp.zeros((1, 5, 1)), 3)
    with pytest.raises(TypeError, match="params"):
        jl.apply({"w": 1}, jnp.zeros((1, 5, 1)))
    with pytest.raises(TypeError, match="cfg"):
        jl.init_params(jax.random.key(0), {"hidden_size": 3})
    # JAX's own message for a seed given as the key said "invalid PRNG key data ... Got 0".
    with pytest.raises(TypeError, match=r"key must be a PRNG key such as jax.random.key\(0\), got int 0"):
        jl.init_params(0, jl.LSTMConfig())
    assert jax.tree.leaves(jl.init_params(jax.random.PRNGKey(0), jl.LSTMConfig()))[0].shape  # legacy keys still work


def test_multivariate_forecast_needs_every_feature_predicted():
    params = jl.init_params(jax.random.key(0), jl.LSTMConfig(input_size=3, output_size=1))
    assert jl.apply(params, jnp.zeros((2, 5, 3))).shape == (2, 1)
    with pytest.raises(ValueError, match="output_size == input_size"):
        jl.predict_multi_step(params, jnp.zeros((2, 5, 3)), 4)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
@pytest.mark.parametrize(
    ("num_layers", "input_size"),
    [pytest.param(1, 1, marks=pytest.mark.slow), pytest.param(1, 3, marks=pytest.mark.slow), (2, 2)],
)
def test_lstm_matches_torch_float64(num_layers, input_size):
    from network_checks import assert_matches_torch, random_params64

    with jax.enable_x64(True):
        cfg = jl.LSTMConfig(input_size=input_size, hidden_size=4, output_size=2, num_layers=num_layers)
        params = random_params64(cfg, seed=input_size)
        assert_matches_torch(cfg, params, np.random.default_rng(3).normal(size=(3, 6, input_size)))
