"""The LSTM cell as pure functions: Glorot initialisation and one time step.

Gate layout follows the seed: one fused matmul over ``[h, x]`` produces the forget,
input, candidate and output pre-activations, in that order, as four consecutive blocks
of ``hidden_size`` columns. A layer's params are ``{"w": [hidden + input, 4 * hidden],
"b": [4 * hidden]}``, rows of ``w`` ordered ``h`` first, then ``x``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxlstm._src import validation

LayerParams = dict  # {"w": Array[hidden + input, 4 * hidden], "b": Array[4 * hidden]}


class LSTMCarry(NamedTuple):
    """Recurrent state of one layer: hidden ``h`` and cell ``c``, each ``[..., hidden]``."""

    h: jax.Array
    c: jax.Array


def glorot_uniform(key: jax.Array, shape: tuple[int, int], dtype=jnp.float32) -> jax.Array:
    """Uniform on ``[-s, s]`` with ``s = sqrt(2 / (rows + cols))``, the seed's Xavier scale.

    This is the seed's convention, narrower than Keras' ``glorot_uniform``
    (``sqrt(6 / (rows + cols))``): its standard deviation is ``s / sqrt(3)``.
    """
    rows, cols = shape
    scale = jnp.sqrt(2.0 / (rows + cols)).astype(dtype)
    return jax.random.uniform(key, shape, dtype=dtype, minval=-scale, maxval=scale)


def init_lstm_layer(key: jax.Array, input_size: int, hidden_size: int, dtype=jnp.float32) -> LayerParams:
    """Initialises one LSTM layer.

    Each gate's ``[hidden + input, hidden]`` block is drawn separately with the Glorot
    scale of that block (as the seed had one matrix per gate); biases start at zero.

    Args:
        key: a PRNG key.
        input_size: features per time step (>= 1).
        hidden_size: LSTM units (>= 1).

    Returns:
        ``{"w": [hidden + input, 4 * hidden], "b": [4 * hidden]}``.
    """
    input_size = validation.check_positive_int("input_size", input_size)
    hidden_size = validation.check_positive_int("hidden_size", hidden_size)
    gate_keys = jax.random.split(key, 4)
    shape = (hidden_size + input_size, hidden_size)
    w = jnp.concatenate([glorot_uniform(k, shape, dtype) for k in gate_keys], axis=1)
    return {"w": w, "b": jnp.zeros((4 * hidden_size,), dtype)}


def zero_carry(hidden_size: int, batch_shape: tuple[int, ...] = (), dtype=jnp.float32) -> LSTMCarry:
    """An all-zero carry of shape ``[*batch_shape, hidden_size]``."""
    zeros = jnp.zeros((*batch_shape, hidden_size), dtype)
    return LSTMCarry(zeros, zeros)


def lstm_step(params: LayerParams, carry: LSTMCarry, x: jax.Array) -> tuple[LSTMCarry, jax.Array]:
    """One LSTM time step.

    ``f, i, c~, o`` come from one matmul over ``[h, x]``;
    ``c' = f * c + i * c~`` and ``h' = o * tanh(c')``.

    Args:
        params: ``{"w": [hidden + input, 4 * hidden], "b": [4 * hidden]}``.
        carry: ``LSTMCarry(h, c)``, each ``[..., hidden]``.
        x: ``[..., input]`` inputs of this step (leading dims broadcast with carry).

    Returns:
        ``(LSTMCarry(h', c'), h')``.
    """
    with jax.named_scope("lstm_step"):
        h, c = carry
        z = jnp.concatenate([h, x], axis=-1) @ params["w"] + params["b"]
        f, i, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMCarry(h, c), h


def lstm_layer(params: LayerParams, xs: jax.Array, *, reverse: bool = False) -> jax.Array:
    """One LSTM layer over a whole sequence from a zero state, every hidden state returned.

    Args:
        params: ``{"w": [hidden + input, 4 * hidden], "b": [4 * hidden]}``.
        xs: ``[time, input]`` one sequence.
        reverse: read the sequence from its last step to its first (the backward direction
            of a bidirectional layer); the outputs stay in time order, so ``out[t]`` has
            read ``xs[t:]``.

    Returns:
        ``[time, hidden]`` hidden states.
    """
    hidden = params["b"].shape[-1] // 4
    carry = zero_carry(hidden, (), params["w"].dtype)
    _, hs = jax.lax.scan(lambda c, x: lstm_step(params, c, x), carry, xs, reverse=reverse)
    return hs
