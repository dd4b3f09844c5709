"""A bidirectional stacked LSTM encoder with a dense head, equal to PyTorch ``nn.LSTM(bidirectional=True)``.

Each layer runs one LSTM forwards and one backwards over the window (the backward one
reads the last step first) and concatenates their hidden states at every step, ``[h_fwd,
h_bwd]``; the next layer reads those ``2 * hidden`` values. The head reads each
direction's summary of the whole window: the forward state after the last step and the
backward state after the first step, ``[h_fwd[T - 1], h_bwd[0]]`` (PyTorch's ``h_n[-2]``
and ``h_n[-1]``). Params::

    {"layers": [{"forward": {"w", "b"}, "backward": {"w", "b"}}, ...],
     "head": {"w": [2 * hidden, output], "b": [output]}}

with each direction in ``nn/cell.py``'s fused layout (``w [hidden + in_k, 4 * hidden]``,
``in_0 = input_size``, ``in_k = 2 * hidden`` above). A window is read in both directions,
so the recursive forecast has no pipelined form: it runs one window after another
(``encodings.forecast_prices``' generic path).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src import validation
from jaxlstm._src.nn import cell, layers

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class BiLSTMConfig:
    """Static, hashable description of the bidirectional LSTM.

    Attributes:
        input_size: features per time step.
        hidden_size: LSTM units per direction and layer.
        output_size: values predicted per window.
        num_layers: stacked bidirectional layers.
    """

    input_size: int = 1
    hidden_size: int = 32
    output_size: int = 1
    num_layers: int = 1

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            validation.check_positive_int(name, getattr(self, name))

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """Fresh params: each direction's layer as ``cell.init_lstm_layer``, a Glorot head.

        Args:
            key: a PRNG key.
            dtype: float dtype of every leaf.

        Returns:
            The params pytree of this module's docstring.
        """
        keys = jax.random.split(key, 2 * self.num_layers + 1)
        stack = []
        for k in range(self.num_layers):
            inputs = self.input_size if k == 0 else 2 * self.hidden_size
            stack.append(
                {
                    "forward": cell.init_lstm_layer(keys[2 * k], inputs, self.hidden_size, dtype),
                    "backward": cell.init_lstm_layer(keys[2 * k + 1], inputs, self.hidden_size, dtype),
                }
            )
        return {"layers": stack, "head": layers.init_dense(keys[-1], 2 * self.hidden_size, self.output_size, dtype)}

    def encode(self, params: Params, x: jax.Array) -> jax.Array:
        """Every step's ``[h_fwd, h_bwd]`` of the top layer: ``[time, input]`` -> ``[time, 2 * hidden]``."""
        with jax.named_scope("bilstm_encode"):
            for layer in params["layers"]:
                forward = cell.lstm_layer(layer["forward"], x)
                backward = cell.lstm_layer(layer["backward"], x, reverse=True)
                x = jnp.concatenate([forward, backward], axis=-1)
            return x

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """One window ``[time, input_size]`` -> ``[output_size]``.

        Args:
            params: from ``init``.
            x: ``[time, input_size]``, oldest step first.

        Returns:
            ``[output_size]``: the head on ``[h_fwd[T - 1], h_bwd[0]]``.
        """
        with jax.named_scope("bilstm_apply"):
            states = self.encode(params, x)
            hidden = states.shape[-1] // 2
            summary = jnp.concatenate([states[-1, :hidden], states[0, hidden:]])
            return layers.dense(params["head"], summary)


def config_of(params: Params) -> BiLSTMConfig:
    """Reads the architecture back from a params pytree's shapes."""
    try:
        first = params["layers"][0]["forward"]
        hidden = first["b"].shape[-1] // 4
        return BiLSTMConfig(
            input_size=first["w"].shape[-2] - hidden,
            hidden_size=hidden,
            output_size=params["head"]["b"].shape[-1],
            num_layers=len(params["layers"]),
        )
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise TypeError(
            "params must be {'layers': [{'forward', 'backward'}, ...], 'head'} as made by BiLSTMConfig.init, "
            f"got {type(params).__name__} ({err!r})"
        ) from None
