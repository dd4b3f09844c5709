"""A transformer encoder over the window, equal to a stack of PyTorch ``nn.TransformerEncoderLayer``.

The window ``[time, input]`` is projected to ``d_model`` features, a fixed sinusoidal
position code is added (``positional_encoding``: no params, so any window length works),
``num_layers`` encoder layers run, and the head reads the last step's output (which has
attended to every step of the window). Each encoder layer is PyTorch's with
``batch_first=True``, ``dropout=0`` and ReLU; by default post-norm (``norm_first=False``,
PyTorch's default and the original transformer's)::

    h = norm1(h + attention(h));  h = norm2(h + ff2(relu(ff1(h))))

and with ``norm_first=True`` pre-norm::

    h = h + attention(norm1(h));  h = h + ff2(relu(ff1(norm2(h))))

Post-norm is the default because it is what ``nn.TransformerEncoderLayer`` does unless
told otherwise (so weights from a default PyTorch model import as they are) and because
its instability in deep stacks, which pre-norm fixes, does not arise at the two or three
layers a price window needs; pre-norm is there for deeper stacks. Neither adds a final
norm after the stack (``nn.TransformerEncoder(norm=None)``). Params::

    {"input": {"w": [input, d_model], "b": [d_model]},
     "layers": [{"attention": {"qkv", "out"}, "norm1": {"scale", "bias"},
                 "ff1": {"w": [d_model, ff], "b": [ff]}, "ff2": {"w": [ff, d_model], "b": [d_model]},
                 "norm2": {"scale", "bias"}}, ...],
     "head": {"w": [d_model, output], "b": [output]}}

(attention as in ``nn/attention.py``). The attention is bidirectional within the window
(no causal mask): the model forecasts what follows the window, never a step inside it.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.nn import attention, layers

Params = dict[str, Any]


def sinusoid_table(time: int, d_model: int) -> np.ndarray:
    """The sinusoidal position code of "Attention is all you need", as float64 numpy ``[time, d_model]``.

    ``pe[t, 2i] = sin(t / 10000 ** (2i / d_model))``, ``pe[t, 2i + 1] = cos(t / 10000 ** (2i / d_model))``
    for positions ``t = 0 .. time - 1`` (the window's oldest step is 0).
    """
    positions = np.arange(time, dtype=np.float64)[:, None]
    rates = 10000.0 ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    code = np.zeros((time, d_model))
    code[:, 0::2] = np.sin(positions * rates)
    code[:, 1::2] = np.cos(positions * rates[: d_model // 2])
    return code


def positional_encoding(time: int, d_model: int, dtype: Any = jnp.float32) -> jax.Array:
    """``sinusoid_table(time, d_model)`` as a JAX array of ``dtype`` (shapes are static, so it is a constant)."""
    return jnp.asarray(sinusoid_table(time, d_model), dtype)


@dataclasses.dataclass(frozen=True)
class TransformerConfig:
    """Static, hashable description of the transformer encoder.

    Attributes:
        input_size: features per time step.
        d_model: width of the encoder (PyTorch's ``d_model``).
        num_heads: attention heads (``nhead``), a divisor of ``d_model``.
        num_layers: encoder layers.
        dim_feedforward: width of each layer's feed-forward block.
        output_size: values predicted per window.
        norm_first: pre-norm (True) or post-norm (False, PyTorch's default).
    """

    input_size: int = 1
    d_model: int = 32
    num_heads: int = 4
    num_layers: int = 2
    dim_feedforward: int = 128
    output_size: int = 1
    norm_first: bool = False

    def __post_init__(self) -> None:
        for name in ("input_size", "d_model", "num_layers", "dim_feedforward", "output_size"):
            validation.check_positive_int(name, getattr(self, name))
        attention.check_heads("d_model", self.d_model, self.num_heads)
        if not isinstance(self.norm_first, bool):
            raise TypeError(f"norm_first must be a bool, got {type(self.norm_first).__name__}")

    @property
    def hidden_size(self) -> int:
        """The encoder's width (``d_model``), under the name the other networks use."""
        return self.d_model

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """Fresh params: Glorot-uniform projections (the seed's scale), zero biases, unit layer norms."""
        d, ff = self.d_model, self.dim_feedforward
        keys = jax.random.split(key, 3 * self.num_layers + 2)
        stack = [
            {
                "attention": attention.init_attention(keys[3 * k], d, dtype),
                "norm1": layers.init_layer_norm(d, dtype),
                "ff1": layers.init_dense(keys[3 * k + 1], d, ff, dtype),
                "ff2": layers.init_dense(keys[3 * k + 2], ff, d, dtype),
                "norm2": layers.init_layer_norm(d, dtype),
            }
            for k in range(self.num_layers)
        ]
        return {
            "input": layers.init_dense(keys[-2], self.input_size, d, dtype),
            "layers": stack,
            "head": layers.init_dense(keys[-1], d, self.output_size, dtype),
        }

    def _layer(self, p: Params, h: jax.Array) -> jax.Array:
        def attend(x: jax.Array) -> jax.Array:
            return attention.multi_head_attention(p["attention"], x, x, self.num_heads)

        def feed_forward(x: jax.Array) -> jax.Array:
            return layers.dense(p["ff2"], jax.nn.relu(layers.dense(p["ff1"], x)))

        if self.norm_first:
            h = h + attend(layers.layer_norm(p["norm1"], h))
            return h + feed_forward(layers.layer_norm(p["norm2"], h))
        h = layers.layer_norm(p["norm1"], h + attend(h))
        return layers.layer_norm(p["norm2"], h + feed_forward(h))

    def encode(self, params: Params, x: jax.Array) -> jax.Array:
        """The encoder's output at every step: ``[time, input_size]`` -> ``[time, d_model]``."""
        with jax.named_scope("transformer_encode"):
            h = layers.dense(params["input"], x) + positional_encoding(x.shape[0], self.d_model, x.dtype)
            for p in params["layers"]:
                h = self._layer(p, h)
            return h

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """One window ``[time, input_size]`` -> ``[output_size]``: the head on the last step's output.

        Args:
            params: from ``init``.
            x: ``[time, input_size]``, oldest step first.

        Returns:
            ``[output_size]``.
        """
        with jax.named_scope("transformer_apply"):
            return layers.dense(params["head"], self.encode(params, x)[-1])
