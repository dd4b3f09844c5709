import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src.nn import layers


def test_layer_norm_matches_the_formula():
    x = np.random.default_rng(0).normal(size=(4, 6)) * 3 + 1
    params = {"scale": np.linspace(0.5, 2, 6), "bias": np.arange(6.0)}
    with jax.enable_x64(True):
        out = np.asarray(layers.layer_norm(params, jnp.asarray(x)))
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5) * params["scale"] + params["bias"], atol=1e-12)


def test_dense_and_inits():
    p = layers.init_dense(jax.random.key(0), 3, 2)
    assert p["w"].shape == (3, 2) and not np.any(p["b"])
    x = np.ones((5, 3), np.float32)
    np.testing.assert_allclose(layers.dense(p, x), x @ np.asarray(p["w"]), rtol=1e-6)
    norm = layers.init_layer_norm(4)
    assert np.all(norm["scale"] == 1) and not np.any(norm["bias"])
