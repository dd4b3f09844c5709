import jax
import jax.numpy as jnp
import numpy as np
import pytest
from network_checks import assert_matches_torch, batched, check_network_grads, random_params64
from reference_attention import attention_lstm_forward, multi_head_attention

import jaxlstm as jl
from jaxlstm._src.nn import attention


@pytest.mark.parametrize(("num_layers", "input_size", "num_heads"), [(1, 1, 1), (2, 3, 2)])
def test_forward_matches_numpy_reference_float64(num_layers, input_size, num_heads):
    with jax.enable_x64(True):
        cfg = jl.nn.AttentionLSTMConfig(
            input_size, hidden_size=4, output_size=2, num_layers=num_layers, num_heads=num_heads
        )
        params = random_params64(cfg, seed=num_layers + 10 * input_size)
        xs = np.random.default_rng(1).normal(size=(3, 7, input_size))
        out = np.asarray(batched(cfg)(params, jnp.asarray(xs)))
        reference = attention_lstm_forward(jl.params_to_torch(params, cfg), num_layers, num_heads, xs)
        np.testing.assert_allclose(out, reference, rtol=0, atol=1e-10)


def test_multi_head_attention_matches_numpy_reference_float64():
    with jax.enable_x64(True):
        cfg = jl.nn.AttentionLSTMConfig(hidden_size=6, num_heads=3)
        params = random_params64(cfg, seed=3)["attention"]
        rng = np.random.default_rng(4)
        query, memory = rng.normal(size=(2, 6)), rng.normal(size=(5, 6))
        ours = jax.jit(attention.multi_head_attention, static_argnums=3)(params, query, memory, 3)
        sd = {"a.in_proj_weight": np.asarray(params["qkv"]["w"]).T, "a.in_proj_bias": params["qkv"]["b"]}
        sd |= {"a.out_proj.weight": np.asarray(params["out"]["w"]).T, "a.out_proj.bias": params["out"]["b"]}
        np.testing.assert_allclose(ours, multi_head_attention(sd, "a", query, memory, 3), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("num_layers", "input_size", "num_heads"),
    [pytest.param(1, 1, 1, marks=pytest.mark.slow), pytest.param(1, 4, 2, marks=pytest.mark.slow), (2, 3, 4)],
)
def test_attention_lstm_matches_torch_float64(num_layers, input_size, num_heads):
    with jax.enable_x64(True):
        cfg = jl.nn.AttentionLSTMConfig(
            input_size, hidden_size=4, output_size=3, num_layers=num_layers, num_heads=num_heads
        )
        params = random_params64(cfg, seed=input_size)
        assert_matches_torch(cfg, params, np.random.default_rng(2).normal(size=(3, 6, input_size)))


def test_attention_weights_sum_to_one_so_equal_states_give_that_state():
    # Every hidden state equal: the context is the value projection of that state, whatever the scores.
    with jax.enable_x64(True):
        params = random_params64(jl.nn.AttentionLSTMConfig(hidden_size=4, num_heads=2), seed=5)["attention"]
        state = jnp.asarray(np.random.default_rng(6).normal(size=(1, 4)))
        out = attention.multi_head_attention(params, state, jnp.repeat(state, 9, axis=0), 2)
        value = state @ params["qkv"]["w"][:, 8:] + params["qkv"]["b"][8:]
        np.testing.assert_allclose(out, value @ params["out"]["w"] + params["out"]["b"], atol=1e-12)


@pytest.mark.slow
def test_check_grads():
    with jax.enable_x64(True):
        cfg = jl.nn.AttentionLSTMConfig(input_size=2, hidden_size=4, output_size=2, num_layers=2, num_heads=2)
        params = random_params64(cfg, seed=7)
        check_network_grads(cfg, params, jnp.asarray(np.random.default_rng(8).normal(size=(5, 2))))


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_jit_vmap_and_import_round_trip():
    cfg = jl.nn.AttentionLSTMConfig(input_size=2, hidden_size=4, output_size=3, num_layers=2, num_heads=2)
    params = jax.jit(cfg.init)(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (5, 7, 2))
    out = batched(cfg)(params, xs)
    assert out.shape == (5, 3) and np.all(np.isfinite(out))
    assert params["head"]["w"].shape == (8, 3) and params["attention"]["qkv"]["w"].shape == (4, 12)
    sd = jl.params_to_torch(params, cfg)
    assert sd["attention.in_proj_weight"].shape == (12, 4) and sd["weight_ih_l1"].shape == (16, 4)
    back = jl.params_from_torch({("lstm." + k if k.startswith("weight") else k): v for k, v in sd.items()}, cfg)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_bad_configs_and_state_dicts():
    with pytest.raises(ValueError, match="hidden_size must be divisible by num_heads"):
        jl.nn.AttentionLSTMConfig(hidden_size=6, num_heads=4)
    with pytest.raises(TypeError, match="num_heads"):
        jl.nn.AttentionLSTMConfig(num_heads=1.5)
    cfg = jl.nn.AttentionLSTMConfig(hidden_size=4, num_heads=2)
    params = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), jax.eval_shape(lambda: cfg.init(jax.random.key(0))))
    sd = jl.params_to_torch(params, cfg)
    with pytest.raises(ValueError, match=r"attention.in_proj_weight.*shape \(12, 4\)"):
        jl.params_from_torch(dict(sd, **{"attention.in_proj_weight": np.zeros((12, 5))}), cfg)
    with pytest.raises(ValueError, match="attention.out_proj.bias"):
        jl.params_from_torch({k: v for k, v in sd.items() if k != "attention.out_proj.bias"}, cfg)
    assert attention.check_heads("d", 8, 4) is None
