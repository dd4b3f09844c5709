"""Multi-head scaled dot-product attention, and an LSTM whose head reads every hidden state through it.

``multi_head_attention`` is PyTorch's ``nn.MultiheadAttention`` (no dropout, no mask, keys
and values from the same sequence) for one example; the transformer encoder uses it too.
Its params::

    {"qkv": {"w": [embed, 3 * embed], "b": [3 * embed]}, "out": {"w": [embed, embed], "b": [embed]}}

``qkv.w`` is ``in_proj_weight`` transposed (query, key and value blocks of ``embed``
columns) and ``out`` is ``out_proj``.

``AttentionLSTMConfig``: a stacked LSTM runs over the window; the last hidden state asks
(as the query) every hidden state of the window (keys and values) through multi-head
attention, and the head reads ``[context, h_last]``. The plain LSTM's head reads
``h_last`` alone, so this network can at worst ignore the context and be that LSTM.

Why scaled dot-product rather than additive (Bahdanau) attention: the score is one
matmul per head, the same function serves the transformer encoder, and with learned
query and key projections it is as flexible as the additive score at these sizes (the
two differ mainly for large unscaled key sizes, where the ``1 / sqrt(d)`` scaling is
the fix); it also makes the network a composition of stock PyTorch modules (``nn.LSTM``
and ``nn.MultiheadAttention``), so it is checked against them digit for digit. Params::

    {"layers": [{"w", "b"}, ...],            # as LSTMConfig's layers
     "attention": {"qkv", "out"},            # embed = hidden_size
     "head": {"w": [2 * hidden, output], "b": [output]}}
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src import validation
from jaxlstm._src.nn import cell, layers

Params = dict[str, Any]


def init_attention(key: jax.Array, embed: int, dtype: Any = jnp.float32) -> Params:
    """Attention params for ``embed`` features: Glorot query/key/value and output projections, zero biases."""
    k_qkv, k_out = jax.random.split(key)
    keys = jax.random.split(k_qkv, 3)
    w = jnp.concatenate([cell.glorot_uniform(k, (embed, embed), dtype) for k in keys], axis=1)
    return {"qkv": {"w": w, "b": jnp.zeros((3 * embed,), dtype)}, "out": layers.init_dense(k_out, embed, embed, dtype)}


def multi_head_attention(params: Params, query: jax.Array, memory: jax.Array, num_heads: int) -> jax.Array:
    """Scaled dot-product attention of ``query`` over ``memory``, in ``num_heads`` heads.

    Each head ``h`` takes its ``d = embed / num_heads`` columns of the projections ``q =
    query @ Wq + bq``, ``k = memory @ Wk + bk``, ``v = memory @ Wv + bv`` and computes
    ``softmax(q k^T / sqrt(d)) v``; the heads are concatenated and projected by ``out``.

    Args:
        params: ``{"qkv", "out"}`` (see the module docstring).
        query: ``[queries, embed]``.
        memory: ``[steps, embed]``, the keys' and values' source.
        num_heads: a divisor of ``embed`` (static).

    Returns:
        ``[queries, embed]``.
    """
    with jax.named_scope("multi_head_attention"):
        embed = query.shape[-1]
        head = embed // num_heads
        w, b = params["qkv"]["w"], params["qkv"]["b"]
        q = (query @ w[:, :embed] + b[:embed]).reshape(query.shape[0], num_heads, head)
        k = (memory @ w[:, embed : 2 * embed] + b[embed : 2 * embed]).reshape(memory.shape[0], num_heads, head)
        v = (memory @ w[:, 2 * embed :] + b[2 * embed :]).reshape(memory.shape[0], num_heads, head)
        scores = jnp.einsum("qhd,khd->hqk", q, k) / math.sqrt(head)
        weights = jax.nn.softmax(scores, axis=-1)
        context = jnp.einsum("hqk,khd->qhd", weights, v).reshape(query.shape[0], embed)
        return layers.dense(params["out"], context)


def check_heads(embed_name: str, embed: int, num_heads: int) -> None:
    """Raises ``ValueError`` unless ``num_heads`` divides ``embed``."""
    validation.check_positive_int("num_heads", num_heads)
    if embed % num_heads:
        raise ValueError(
            f"{embed_name} must be divisible by num_heads, got {embed_name}={embed}, num_heads={num_heads}"
        )


@dataclasses.dataclass(frozen=True)
class AttentionLSTMConfig:
    """Static, hashable description of the LSTM with attention over its hidden states.

    Attributes:
        input_size: features per time step.
        hidden_size: LSTM units per layer (also the attention's width).
        output_size: values predicted per window.
        num_layers: stacked LSTM layers.
        num_heads: attention heads, a divisor of ``hidden_size``.
    """

    input_size: int = 1
    hidden_size: int = 32
    output_size: int = 1
    num_layers: int = 1
    num_heads: int = 1

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            validation.check_positive_int(name, getattr(self, name))
        check_heads("hidden_size", self.hidden_size, self.num_heads)

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """Fresh params: LSTM layers as ``cell.init_lstm_layer``, Glorot attention and head, zero biases."""
        keys = jax.random.split(key, self.num_layers + 2)
        stack = [
            cell.init_lstm_layer(keys[k], self.input_size if k == 0 else self.hidden_size, self.hidden_size, dtype)
            for k in range(self.num_layers)
        ]
        return {
            "layers": stack,
            "attention": init_attention(keys[-2], self.hidden_size, dtype),
            "head": layers.init_dense(keys[-1], 2 * self.hidden_size, self.output_size, dtype),
        }

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """One window ``[time, input_size]`` -> ``[output_size]``.

        Args:
            params: from ``init``.
            x: ``[time, input_size]``, oldest step first.

        Returns:
            ``[output_size]``: the head on ``[attention(h_last; h_0..h_last), h_last]``.
        """
        with jax.named_scope("attention_lstm_apply"):
            for layer in params["layers"]:
                x = cell.lstm_layer(layer, x)
            context = multi_head_attention(params["attention"], x[-1:], x, self.num_heads)[0]
            return layers.dense(params["head"], jnp.concatenate([context, x[-1]]))
