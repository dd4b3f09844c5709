import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from network_checks import assert_matches_torch, batched, check_network_grads, random_params64
from reference_transformer import sinusoid, transformer_forward

import jaxlstm as jl
from jaxlstm._src.nn.transformer import positional_encoding


def _cfg(input_size=2, num_layers=2, num_heads=2, norm_first=False, output_size=2):
    return jl.nn.TransformerConfig(
        input_size=input_size,
        d_model=6,
        num_heads=num_heads,
        num_layers=num_layers,
        dim_feedforward=8,
        output_size=output_size,
        norm_first=norm_first,
    )


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize(("num_layers", "input_size"), [(1, 1), (2, 3)])
def test_forward_matches_numpy_reference_float64(num_layers, input_size, norm_first):
    with jax.enable_x64(True):
        cfg = _cfg(input_size, num_layers, num_heads=3, norm_first=norm_first)
        params = random_params64(cfg, seed=num_layers + 10 * input_size)
        xs = np.random.default_rng(1).normal(size=(3, 7, input_size))
        out = np.asarray(batched(cfg)(params, jnp.asarray(xs)))
        reference = transformer_forward(jl.params_to_torch(params, cfg), num_layers, 3, xs, norm_first=norm_first)
        np.testing.assert_allclose(out, reference, rtol=0, atol=1e-10)


def test_positional_encoding_matches_the_formula():
    np.testing.assert_allclose(positional_encoding(9, 6, jnp.float32), sinusoid(9, 6), atol=1e-6)
    np.testing.assert_allclose(positional_encoding(4, 5, jnp.float32), sinusoid(4, 5), atol=1e-6)


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
@pytest.mark.parametrize(
    ("num_layers", "input_size", "norm_first"),
    [
        pytest.param(1, 1, False, marks=pytest.mark.slow),
        pytest.param(1, 4, True, marks=pytest.mark.slow),
        (2, 3, False),
        (2, 2, True),
    ],
)
def test_transformer_matches_torch_float64(num_layers, input_size, norm_first):
    with jax.enable_x64(True):
        cfg = _cfg(input_size, num_layers, norm_first=norm_first, output_size=3)
        params = random_params64(cfg, seed=input_size, scale=0.3)
        assert_matches_torch(cfg, params, np.random.default_rng(2).normal(size=(3, 6, input_size)))


def test_default_encoder_layer_is_pytorchs_default_post_norm():
    torch = pytest.importorskip("torch")
    layer = torch.nn.TransformerEncoderLayer(6, 2, 8, dropout=0.0, batch_first=True)
    assert layer.norm_first is False and jl.nn.TransformerConfig().norm_first is False
    # A state dict of stock PyTorch modules (the layout's names) imports and computes the same function.
    cfg = _cfg(input_size=3, num_layers=1)
    torch.manual_seed(0)
    encoder = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False).double()
    sd = {f"encoder.{k}": v.detach().numpy() for k, v in encoder.state_dict().items()}
    linear_in, head = torch.nn.Linear(3, 6).double(), torch.nn.Linear(6, 2).double()
    sd |= {f"input.{k}": v.detach().numpy() for k, v in linear_in.state_dict().items()}
    sd |= {f"head.{k}": v.detach().numpy() for k, v in head.state_dict().items()}
    xs = np.random.default_rng(3).normal(size=(2, 5, 3))
    with jax.enable_x64(True):
        params = jl.params_from_torch(sd, cfg)
        ours = np.asarray(batched(cfg)(params, jnp.asarray(xs)))
    x = torch.from_numpy(xs)
    theirs = head(encoder(linear_in(x) + torch.from_numpy(sinusoid(5, 6)))[:, -1]).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_check_grads():
    with jax.enable_x64(True):
        cfg = _cfg(num_layers=2)
        params = random_params64(cfg, seed=7, scale=0.3)
        check_network_grads(cfg, params, jnp.asarray(np.random.default_rng(8).normal(size=(5, 2))))


@pytest.mark.slow  # compiles programs of its own: the quick tier stays under 90 s
def test_jit_vmap_round_trip_and_any_window_length():
    cfg = _cfg()
    params = jax.jit(cfg.init)(jax.random.key(0))
    for time in (1, 30):
        out = batched(cfg)(params, jax.random.normal(jax.random.key(time), (4, time, 2)))
        assert out.shape == (4, 2) and np.all(np.isfinite(out))
    sd = jl.params_to_torch(params)
    assert sd["encoder.layers.1.self_attn.in_proj_weight"].shape == (18, 6)
    assert sd["encoder.layers.0.linear1.weight"].shape == (8, 6) and sd["input.weight"].shape == (6, 2)
    back = jl.params_from_torch(sd, cfg)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(back)):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    assert cfg.hidden_size == 6 and dataclasses.replace(cfg, norm_first=True) != cfg


def test_bad_configs_and_state_dicts():
    with pytest.raises(ValueError, match="d_model must be divisible by num_heads"):
        jl.nn.TransformerConfig(d_model=6, num_heads=4)
    with pytest.raises(TypeError, match="norm_first"):
        jl.nn.TransformerConfig(norm_first=1)
    with pytest.raises(ValueError, match="dim_feedforward"):
        jl.nn.TransformerConfig(dim_feedforward=0)
    cfg = _cfg()
    params = jax.tree.map(lambda s: np.zeros(s.shape, np.float32), jax.eval_shape(lambda: cfg.init(jax.random.key(0))))
    sd = jl.params_to_torch(params, cfg)
    with pytest.raises(ValueError, match="encoder.layers.1.norm2.weight"):
        jl.params_from_torch({k: v for k, v in sd.items() if k != "encoder.layers.1.norm2.weight"}, cfg)
    with pytest.raises(ValueError, match="cfg must match"):
        jl.params_to_torch(params, jl.nn.BiLSTMConfig())
    with pytest.raises(TypeError, match="network config"):
        jl.params_from_torch(sd, "transformer")
