import jax
import jax.numpy as jnp
import numpy as np
import pytest
from network_checks import assert_matches_torch, batched, check_network_grads, random_params64
from reference_bilstm import bilstm_forward

import jaxlstm as jl
from jaxlstm._src.nn import bilstm


@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("input_size", [1, 3])
def test_forward_matches_numpy_reference_float64(num_layers, input_size):
    with jax.enable_x64(True):
        cfg = jl.nn.BiLSTMConfig(input_size=input_size, hidden_size=5, output_size=2, num_layers=num_layers)
        params = random_params64(cfg, seed=num_layers + 10 * input_size)
        xs = np.random.default_rng(1).normal(size=(3, 8, input_size))
        out = np.asarray(batched(cfg)(params, jnp.asarray(xs)))
        assert out.shape == (3, 2) and out.dtype == np.float64
        reference = bilstm_forward(jl.params_to_torch(params, cfg), num_layers, xs)
        np.testing.assert_allclose(out, reference, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("num_layers", "input_size"),
    # Every case compiles float64 programs of its own (5-6 s): the quick tier keeps the numpy reference.
    [pytest.param(*case, marks=pytest.mark.slow) for case in ((1, 1), (1, 4), (2, 3))],
)
def test_bilstm_matches_torch_float64(num_layers, input_size):
    with jax.enable_x64(True):
        cfg = jl.nn.BiLSTMConfig(input_size=input_size, hidden_size=4, output_size=3, num_layers=num_layers)
        params = random_params64(cfg, seed=input_size)
        assert_matches_torch(cfg, params, np.random.default_rng(2).normal(size=(3, 6, input_size)))


def test_backward_direction_reads_the_window_from_its_end():
    # With one step the two directions see the same input: swapping their weights swaps the halves.
    with jax.enable_x64(True):
        cfg = jl.nn.BiLSTMConfig(input_size=2, hidden_size=3, output_size=6)
        params = random_params64(cfg, seed=4)
        layer = params["layers"][0]
        swapped = {**params, "layers": [{"forward": layer["backward"], "backward": layer["forward"]}]}
        x = jnp.asarray(np.random.default_rng(5).normal(size=(1, 2)))
        encode = jax.jit(cfg.encode)
        a, b = encode(params, x), encode(swapped, x)
        np.testing.assert_allclose(a[:, :3], b[:, 3:], atol=1e-12)
        # Over a longer window, the backward state at step 0 depends on the last input; the forward one does not.
        xs = jnp.asarray(np.random.default_rng(6).normal(size=(5, 2)))
        moved = xs.at[-1].add(1.0)
        states, states_moved = encode(params, xs), encode(params, moved)
        assert np.allclose(states[0, :3], states_moved[0, :3]) and not np.allclose(states[0, 3:], states_moved[0, 3:])


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_check_grads():
    with jax.enable_x64(True):
        cfg = jl.nn.BiLSTMConfig(input_size=2, hidden_size=3, output_size=2, num_layers=2)
        params = random_params64(cfg, seed=7)
        x = jnp.asarray(np.random.default_rng(8).normal(size=(4, 2)))
        check_network_grads(cfg, params, x)


def test_jit_vmap_and_config_round_trip():
    cfg = jl.nn.BiLSTMConfig(input_size=2, hidden_size=4, output_size=3, num_layers=2)
    params = jax.jit(cfg.init)(jax.random.key(0))
    xs = jax.random.normal(jax.random.key(1), (5, 7, 2))
    out = jax.jit(batched(cfg))(params, xs)
    assert out.shape == (5, 3) and np.all(np.isfinite(out))
    np.testing.assert_allclose(jax.jit(cfg.apply)(params, xs[2]), out[2], atol=1e-6)
    assert bilstm.config_of(params) == cfg
    assert params["head"]["w"].shape == (8, 3) and params["layers"][1]["forward"]["w"].shape == (4 + 8, 16)
    back = jl.params_from_torch(jl.params_to_torch(params), cfg)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_bad_configs_and_state_dicts():
    with pytest.raises(ValueError, match="hidden_size"):
        jl.nn.BiLSTMConfig(hidden_size=0)
    cfg = jl.nn.BiLSTMConfig(input_size=2, hidden_size=3)
    params = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), jax.eval_shape(lambda: cfg.init(jax.random.key(0))))
    sd = jl.params_to_torch(params, cfg)
    with pytest.raises(ValueError, match="weight_ih_l0_reverse"):
        jl.params_from_torch({k: v for k, v in sd.items() if k != "weight_ih_l0_reverse"}, cfg)
    with pytest.raises(ValueError, match="cfg must match"):
        jl.params_to_torch(params, jl.LSTMConfig())
    with pytest.raises(TypeError, match="BiLSTMConfig.init"):
        bilstm.config_of({"layers": []})
