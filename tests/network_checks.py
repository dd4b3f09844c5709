"""Checks every network's tests share: float64 params, PyTorch parity of outputs and gradients.

``assert_matches_torch`` builds the network's PyTorch counterpart from stock modules
(``to_torch_module``) with the same float64 weights and compares the forward pass and
the gradients of a random linear functional of the outputs, with respect to every weight
and to the inputs. PyTorch's LSTM has two biases that both receive the gradient of the
one bias here, so both are compared with it.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlstm._src.interop.torch_modules import module_state_dict, to_torch_module


def random_params64(cfg, seed, scale=0.5):
    """Float64 params with every leaf redrawn from N(0, scale): non-zero biases exercise every term."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(lambda: cfg.init(jax.random.key(seed), jnp.float64))
    return jax.tree.map(lambda a: jnp.asarray(rng.normal(scale=scale, size=a.shape), jnp.float64), shapes)


def batched(cfg):
    """The network over a batch of windows, compiled."""
    return jax.jit(jax.vmap(cfg.apply, in_axes=(None, 0)))


def check_network_grads(cfg, params, x):
    """``jax.test_util.check_grads`` of one window's output (first order, forward and reverse mode)."""
    from jax.test_util import check_grads

    check_grads(jax.jit(cfg.apply), (params, x), order=1, modes=("fwd", "rev"))


def assert_matches_torch(cfg, params, xs, atol=1e-9, seed=0):
    """Forward pass and gradients of ``cfg`` with ``params`` equal its PyTorch module's to ``atol`` (float64)."""
    torch = pytest.importorskip("torch")
    xs = np.asarray(xs, np.float64)
    module = to_torch_module(params, cfg)
    x_t = torch.from_numpy(xs.copy()).requires_grad_(True)
    out_t = module(x_t)
    ours = np.asarray(batched(cfg)(params, jnp.asarray(xs)))
    np.testing.assert_allclose(ours, out_t.detach().numpy(), rtol=0, atol=atol)

    cotangent = np.random.default_rng(seed).normal(size=ours.shape)
    (out_t * torch.from_numpy(cotangent)).sum().backward()
    functional = lambda p, x: jnp.sum(jax.vmap(cfg.apply, in_axes=(None, 0))(p, x) * cotangent)
    grad_params, grad_x = jax.jit(jax.grad(functional, argnums=(0, 1)))(params, jnp.asarray(xs))
    np.testing.assert_allclose(np.asarray(grad_x), x_t.grad.numpy(), rtol=0, atol=atol)
    ours_by_name = module_state_dict(grad_params, cfg)
    theirs_by_name = dict(module.named_parameters())
    assert set(theirs_by_name) == set(ours_by_name)
    for name, param in theirs_by_name.items():
        mine = ours_by_name[name.replace("bias_hh", "bias_ih")]
        np.testing.assert_allclose(mine, param.grad.numpy(), rtol=0, atol=atol, err_msg=name)
