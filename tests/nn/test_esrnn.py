"""ES-RNN: the smoothing against an independent loop, its multiplicative reading, gradients, series independence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import jaxlstm as jl
from jaxlstm._src import training
from jaxlstm._src.nn import esrnn, networks


def reference_holt_winters(z, alpha, gamma, season0):
    """Position-by-position additive Holt-Winters, seeded from the first season (plain Python floats)."""
    m = len(season0)
    level = float(np.mean(z[:m])) if m > 1 else float(z[0])
    due = [float(z[j] - level + season0[j]) for j in range(m)] if m > 1 else [0.0]
    levels, seasons = [], []
    for t in range(len(z)):
        s_t = due[0] if m > 1 else 0.0
        level = alpha * (z[t] - s_t) + (1 - alpha) * level
        levels.append(level)
        seasons.append(s_t)
        if m > 1:
            due = [*due[1:], gamma * (z[t] - level) + (1 - gamma) * s_t]
    return np.array(levels), np.array(seasons), np.array(due if m > 1 else [0.0])


def seasonal_prices(n=40, m=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 * np.exp(0.01 * t + 0.2 * np.sin(2 * np.pi * t / m) + 0.02 * rng.standard_normal(n))


@pytest.mark.parametrize("m", [1, 4, 7])
def test_holt_winters_equals_an_independent_loop(m):
    rng = np.random.default_rng(m)
    z = rng.standard_normal(23)
    season0 = rng.standard_normal(m) * 0.1 if m > 1 else np.zeros(1)
    with jax.enable_x64(True):
        got = esrnn.holt_winters(jnp.asarray(z), jnp.asarray(0.3), jnp.asarray(0.15), jnp.asarray(season0))
        want = reference_holt_winters(z, 0.3, 0.15, season0)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-12, atol=1e-12)


def test_additive_smoothing_of_log_prices_is_multiplicative_holt_winters():
    m, alpha, gamma = 4, 0.4, 0.25
    p = seasonal_prices(m=m)
    # Multiplicative Holt-Winters on prices, written on the prices themselves: price = level * season,
    # each update a weighted geometric mean of the same ratios Smyl's arithmetic updates average.
    level = np.exp(np.mean(np.log(p[:m])))
    due = list(p[:m] / level)
    geometric, arithmetic = [], []
    a_level, a_due = level, list(due)
    for t in range(len(p)):
        s_t = due[0]
        level = (p[t] / s_t) ** alpha * level ** (1 - alpha)
        due = [*due[1:], (p[t] / level) ** gamma * s_t ** (1 - gamma)]
        geometric.append(level * due[-1])
        # Smyl's form: arithmetic means of the ratios.
        a_s = a_due[0]
        a_level = alpha * p[t] / a_s + (1 - alpha) * a_level
        a_due = [*a_due[1:], gamma * p[t] / a_level + (1 - gamma) * a_s]
        arithmetic.append(a_level * a_due[-1])
    with jax.enable_x64(True):
        levels, seasons, due_next = esrnn.holt_winters(
            jnp.log(jnp.asarray(p)), jnp.asarray(alpha), jnp.asarray(gamma), jnp.zeros(m)
        )
        # The season due m steps after t is the one set at t: s_{t+m} = due_next after the last step.
        fitted = np.exp(np.asarray(levels) + np.concatenate([np.asarray(seasons)[m:], np.asarray(due_next)]))
    np.testing.assert_allclose(fitted, geometric, rtol=1e-12)
    # The arithmetic (Smyl) updates differ only to second order in the relative moves (here ~0.2).
    gap = np.max(np.abs(np.log(np.array(arithmetic) / np.array(geometric))))
    assert 1e-5 < gap < 0.02


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_apply_shapes_and_reseasonalises():
    cfg = jl.nn.make_network("esrnn", input_size=2, hidden_size=5, output_size=6, season_length=4)
    assert isinstance(cfg, esrnn.ESRNNConfig) and hash(cfg) == hash(esrnn.ESRNNConfig(2, 5, 6, 1, 4))
    params = cfg.init(jax.random.key(0))
    assert params["smoothing"]["season0"].shape == (4,)
    x = jnp.stack([jnp.log(jnp.asarray(seasonal_prices(12), jnp.float32)), jnp.ones(12)], axis=-1)
    y = cfg.apply(params, x)
    assert y.shape == (6,)
    # With the head's outputs zeroed the forecast is the last level plus the due season of each step.
    zero_head = jax.tree.map(jnp.zeros_like, params["head"])
    y0 = cfg.apply({**params, "head": zero_head}, x)
    levels, _, due = cfg.smooth(params, x[:, 0])
    np.testing.assert_allclose(y0, levels[-1] + due[np.arange(6) % 4], rtol=1e-6)
    level_only = jl.nn.make_network("esrnn", season_length=1).init(jax.random.key(0))
    assert set(level_only["smoothing"]) == {"level"}


@pytest.mark.slow  # check_grads in float64 compiles its own programs
def test_gradients_check_against_finite_differences():
    cfg = esrnn.ESRNNConfig(input_size=2, hidden_size=3, output_size=2, num_layers=2, season_length=3)
    with jax.enable_x64(True):
        params = cfg.init(jax.random.key(1), jnp.float64)
        params["smoothing"]["season0"] = jnp.asarray([0.01, -0.02, 0.005])
        x = jax.random.normal(jax.random.key(2), (8, 2), jnp.float64)
        f = jax.jit(lambda p, x: jnp.sum(jnp.sin(cfg.apply(p, x))))
        check_grads(f, (params, x), order=1, modes=("rev", "fwd"))
        # The smoothing parameters do get a gradient (the smoothing is part of the network).
        g = jax.grad(f)(params, x)["smoothing"]
        assert all(float(jnp.max(jnp.abs(v))) > 0 for v in g.values())


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_windows_of_several_series_equal_each_series_alone():
    cfg = esrnn.ESRNNConfig(hidden_size=4, output_size=3, season_length=4)
    params = cfg.init(jax.random.key(3))
    windows = {
        name: jnp.log(
            jnp.asarray(np.lib.stride_tricks.sliding_window_view(seasonal_prices(30, seed=s), 9), jnp.float32)
        )[..., None]
        for s, name in enumerate(("a", "b"))
    }
    apply = jax.jit(jax.vmap(lambda x: cfg.apply(params, x)))
    together = apply(jnp.concatenate(list(windows.values())))
    alone = jnp.concatenate([apply(w) for w in windows.values()])
    np.testing.assert_array_equal(together, alone)
    # Trained across series: the gradient of the pooled loss is the window-weighted mean of the per-series ones.
    ys = {k: jnp.zeros((w.shape[0], 3)) for k, w in windows.items()}
    grad = jax.jit(jax.grad(lambda p, xs, y: training.weighted_loss(p, xs, y, network=cfg)))
    pooled = grad(params, jnp.concatenate(list(windows.values())), jnp.concatenate(list(ys.values())))
    n = {k: w.shape[0] for k, w in windows.items()}
    parts = [grad(params, windows[k], ys[k]) for k in windows]
    mixed = jax.tree.map(lambda a, b: (n["a"] * a + n["b"] * b) / (n["a"] + n["b"]), *parts)
    for a, b in zip(jax.tree.leaves(pooled), jax.tree.leaves(mixed), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-6)


def test_bad_settings_name_the_argument():
    with pytest.raises(ValueError, match="season_length must be an integer >= 1"):
        esrnn.ESRNNConfig(season_length=0)
    with pytest.raises(ValueError, match="season_length"):
        jl.nn.make_network("esrnn", season_length=0)
    cfg = esrnn.ESRNNConfig(season_length=12)
    with pytest.raises(ValueError, match=r"season_length=12 needs windows of at least 12 steps.*got windows of 8"):
        cfg.apply(cfg.init(jax.random.key(0)), jnp.zeros((8, 1)))
    with pytest.raises(ValueError, match=r"x must be one window \[time, 1\]"):
        cfg.apply(cfg.init(jax.random.key(0)), jnp.zeros((3, 20, 1)))
    assert "esrnn" in networks.ARCHITECTURES and "esrnn" not in networks.TORCH_ARCHITECTURES
