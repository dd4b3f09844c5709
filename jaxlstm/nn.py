"""Networks as pure ``(init, apply)`` pairs over plain pytrees, and the per-example losses.

A network is written for ONE example and batched with ``jax.vmap``. Each has a static,
hashable config whose ``cfg.init(key)`` / ``cfg.apply(params, x[time, features]) ->
[output]`` are the pair that ``jaxlstm.fit_arrays`` and ``jaxlstm.run_stacked`` call:

* ``LSTMConfig``: the stacked LSTM (module functions ``init_params`` / ``apply`` /
  ``predict_multi_step`` take batched inputs);
* ``BiLSTMConfig``: a bidirectional LSTM (PyTorch ``nn.LSTM(bidirectional=True)``);
* ``AttentionLSTMConfig``: an LSTM whose head reads every hidden state through
  scaled dot-product attention (``multi_head_attention``, PyTorch ``nn.MultiheadAttention``);
* ``TransformerConfig``: a post-norm (or pre-norm) transformer encoder with sinusoidal
  positions (a stack of PyTorch ``nn.TransformerEncoderLayer``).

``make_network(name, ...)`` builds one by its ``ARCHITECTURES`` name.
"""

from jaxlstm._src.nn.attention import AttentionLSTMConfig, multi_head_attention
from jaxlstm._src.nn.bilstm import BiLSTMConfig
from jaxlstm._src.nn.cell import LSTMCarry, glorot_uniform, init_lstm_layer, lstm_layer, lstm_step, zero_carry
from jaxlstm._src.nn.layers import layer_norm
from jaxlstm._src.nn.lstm import LSTMConfig, apply, config_of, init_params, predict_multi_step
from jaxlstm._src.nn.networks import ARCHITECTURES, make_network
from jaxlstm._src.nn.transformer import TransformerConfig, positional_encoding
from jaxlstm._src.training import huber, mae, mse, weighted_loss

__all__ = [
    "ARCHITECTURES",
    "AttentionLSTMConfig",
    "BiLSTMConfig",
    "LSTMCarry",
    "LSTMConfig",
    "TransformerConfig",
    "apply",
    "config_of",
    "glorot_uniform",
    "huber",
    "init_lstm_layer",
    "init_params",
    "layer_norm",
    "lstm_layer",
    "lstm_step",
    "mae",
    "make_network",
    "mse",
    "multi_head_attention",
    "positional_encoding",
    "predict_multi_step",
    "weighted_loss",
    "zero_carry",
]
