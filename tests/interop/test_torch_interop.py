import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from reference_lstm import fused_lstm_forward, torch_layout_lstm_forward

import jaxlstm as jl

CFG = jl.LSTMConfig(input_size=3, hidden_size=5, output_size=2, num_layers=2)


def _params(seed=0):
    rng = np.random.default_rng(seed)
    p = jl.init_params(jax.random.key(seed), CFG)
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(size=a.shape), jnp.float32), p)


def test_names_shapes_and_values_follow_torch():
    params = _params()
    sd = jl.params_to_torch(params, CFG)
    assert sd["weight_ih_l0"].shape == (20, 3) and sd["weight_hh_l0"].shape == (20, 5)
    assert sd["weight_ih_l1"].shape == (20, 5) and sd["bias_ih_l1"].shape == (20,) and sd["bias_hh_l1"].shape == (20,)
    assert sd["head.weight"].shape == (2, 5) and sd["head.bias"].shape == (2,)
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    hidden = CFG.hidden_size
    for k, layer in enumerate(params["layers"]):
        w, b = np.asarray(layer["w"]), np.asarray(layer["b"])
        # Here: z = [h, x] @ w + b, columns in gate blocks f, i, g, o.
        cols = {gate: slice(j * hidden, (j + 1) * hidden) for j, gate in enumerate("figo")}
        w_h, w_x = w[:hidden], w[hidden:]
        # PyTorch: z = W_ih x + W_hh h + b_ih + b_hh, rows in gate blocks i, f, g, o.
        for j, gate in enumerate("ifgo"):
            rows = slice(j * hidden, (j + 1) * hidden)
            np.testing.assert_array_equal(sd[f"weight_ih_l{k}"][rows], w_x[:, cols[gate]].T)
            np.testing.assert_array_equal(sd[f"weight_hh_l{k}"][rows], w_h[:, cols[gate]].T)
            np.testing.assert_array_equal(sd[f"bias_ih_l{k}"][rows], b[cols[gate]])
        np.testing.assert_array_equal(sd[f"bias_hh_l{k}"], np.zeros(4 * hidden))
    np.testing.assert_array_equal(sd["head.weight"], np.asarray(params["head"]["w"]).T)
    np.testing.assert_array_equal(sd["head.bias"], np.asarray(params["head"]["b"]))


def test_round_trip_is_lossless():
    params = _params()
    back = jl.params_from_torch(jl.params_to_torch(params, CFG), CFG)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_torch_layout_computes_the_same_function():
    params = _params(1)
    xs = np.random.default_rng(2).normal(size=(4, 6, 3))
    ours = fused_lstm_forward(
        [(layer["w"], layer["b"]) for layer in params["layers"]], params["head"]["w"], params["head"]["b"], xs
    )
    theirs = torch_layout_lstm_forward(jl.params_to_torch(params), CFG.num_layers, xs)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)


def test_import_sums_the_two_biases_and_strips_lstm_prefix():
    sd = jl.params_to_torch(_params(3), CFG)
    rng = np.random.default_rng(4)
    shift = rng.normal(size=20).astype(np.float32)
    sd["bias_hh_l0"] = shift
    sd["bias_ih_l0"] = sd["bias_ih_l0"] - shift
    prefixed = {("lstm." + k if k.startswith(("weight", "bias")) else k): v for k, v in sd.items()}
    params = jl.params_from_torch(prefixed, CFG)
    xs = rng.normal(size=(2, 4, 3))
    np.testing.assert_allclose(
        np.asarray(jl.apply(params, jnp.asarray(xs, jnp.float32))),
        torch_layout_lstm_forward(sd, 2, xs),
        atol=1e-5,
    )


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch not installed (optional bench extra)")
def test_against_real_torch():
    import torch

    params = _params(5)
    sd = jl.params_to_torch(params, CFG)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    lstm.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items() if not k.startswith("head")})
    xs = np.random.default_rng(6).normal(size=(3, 7, 3)).astype(np.float32)
    out, _ = lstm(torch.from_numpy(xs))
    theirs = out[:, -1].detach().numpy() @ sd["head.weight"].T + sd["head.bias"]
    np.testing.assert_allclose(np.asarray(jl.apply(params, jnp.asarray(xs))), theirs, atol=1e-5)


def test_bad_state_dicts():
    sd = jl.params_to_torch(_params(), CFG)
    with pytest.raises(ValueError, match="weight_hh_l1"):
        jl.params_from_torch({k: v for k, v in sd.items() if k != "weight_hh_l1"}, CFG)
    bad = dict(sd, weight_ih_l0=np.zeros((20, 4)))
    with pytest.raises(ValueError, match="weight_ih_l0"):
        jl.params_from_torch(bad, CFG)
    with pytest.raises(TypeError, match="cfg"):
        jl.params_from_torch(sd, None)
    with pytest.raises(ValueError, match="cfg"):
        jl.params_to_torch(_params(), jl.LSTMConfig())
