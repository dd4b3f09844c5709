import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference_lstm import sigmoid

import jaxlstm as jl
from jaxlstm._src.nn import cell


def test_glorot_bounds_and_symmetry():
    w = np.asarray(cell.glorot_uniform(jax.random.key(0), (200, 300)))
    scale = np.sqrt(2.0 / 500)
    assert np.abs(w).max() <= scale
    assert np.abs(w).max() > 0.99 * scale
    assert abs(w.mean()) < 0.01 * scale
    # uniform on [-s, s] has standard deviation s / sqrt(3)
    assert w.std() == pytest.approx(scale / np.sqrt(3), rel=0.02)


def test_layer_shapes_and_per_gate_scale():
    layer = cell.init_lstm_layer(jax.random.key(1), input_size=3, hidden_size=8)
    assert layer["w"].shape == (11, 32) and layer["b"].shape == (32,)
    assert np.all(np.asarray(layer["b"]) == 0)
    assert np.abs(np.asarray(layer["w"])).max() <= np.sqrt(2.0 / (11 + 8))


def test_step_matches_equations_in_float64():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        hidden, inp = 5, 3
        w = rng.normal(size=(hidden + inp, 4 * hidden))
        b = rng.normal(size=(4 * hidden,))
        h, c, x = rng.normal(size=hidden), rng.normal(size=hidden), rng.normal(size=inp)
        carry, out = jl.nn.lstm_step(
            {"w": jnp.asarray(w), "b": jnp.asarray(b)}, jl.nn.LSTMCarry(jnp.asarray(h), jnp.asarray(c)), jnp.asarray(x)
        )
        z = np.concatenate([h, x]) @ w + b
        f, i, g, o = sigmoid(z[:5]), sigmoid(z[5:10]), np.tanh(z[10:15]), sigmoid(z[15:])
        c_ref = f * c + i * g
        np.testing.assert_allclose(np.asarray(carry.c), c_ref, rtol=0, atol=1e-14)
        np.testing.assert_allclose(np.asarray(out), o * np.tanh(c_ref), rtol=0, atol=1e-14)
        np.testing.assert_array_equal(np.asarray(carry.h), np.asarray(out))


def test_step_broadcasts_over_batch():
    layer = cell.init_lstm_layer(jax.random.key(2), 2, 4)
    carry = jl.nn.zero_carry(4, (7,))
    xs = jax.random.normal(jax.random.key(3), (7, 2))
    batched, _ = jl.nn.lstm_step(layer, carry, xs)
    single = jax.vmap(lambda x: jl.nn.lstm_step(layer, jl.nn.zero_carry(4), x)[1])(xs)
    np.testing.assert_allclose(np.asarray(batched.h), np.asarray(single), atol=1e-6)


@pytest.mark.parametrize(
    "name,kwargs",
    [("hidden_size", dict(input_size=1, hidden_size=0)), ("input_size", dict(input_size=-1, hidden_size=3))],
)
def test_bad_sizes_name_the_argument(name, kwargs):
    with pytest.raises(ValueError, match=name):
        cell.init_lstm_layer(jax.random.key(0), **kwargs)


def test_non_integer_size_is_a_type_error():
    with pytest.raises(TypeError, match="hidden_size"):
        cell.init_lstm_layer(jax.random.key(0), 1, 3.5)
