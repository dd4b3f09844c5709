"""Small building blocks shared by the networks: dense layers and layer normalisation.

Params are plain dicts: a dense layer is ``{"w": [in, out], "b": [out]}`` (applied as
``x @ w + b``, so ``w`` is PyTorch's ``nn.Linear.weight`` transposed), a layer norm is
``{"scale": [features], "bias": [features]}`` (PyTorch's ``weight`` and ``bias``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src.nn import cell

#: PyTorch's default ``nn.LayerNorm`` epsilon, which the transformer must share to match it.
LAYER_NORM_EPS = 1e-5


def init_dense(key: jax.Array, inputs: int, outputs: int, dtype: Any = jnp.float32) -> dict[str, jax.Array]:
    """A dense layer: Glorot-uniform ``w [inputs, outputs]`` (the seed's scale), zero ``b [outputs]``."""
    return {"w": cell.glorot_uniform(key, (inputs, outputs), dtype), "b": jnp.zeros((outputs,), dtype)}


def dense(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """``x [..., in] @ w + b`` -> ``[..., out]``."""
    return x @ params["w"] + params["b"]


def init_layer_norm(features: int, dtype: Any = jnp.float32) -> dict[str, jax.Array]:
    """A layer norm's params: ``scale`` ones and ``bias`` zeros, each ``[features]``."""
    return {"scale": jnp.ones((features,), dtype), "bias": jnp.zeros((features,), dtype)}


def layer_norm(params: dict[str, jax.Array], x: jax.Array, eps: float = LAYER_NORM_EPS) -> jax.Array:
    """Normalises the last axis: ``(x - mean) / sqrt(var + eps) * scale + bias`` (biased variance, as PyTorch).

    Args:
        params: ``{"scale": [features], "bias": [features]}``.
        x: ``[..., features]``.
        eps: added to the variance.

    Returns:
        ``[..., features]``.
    """
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * params["scale"] + params["bias"]
