"""Networks as pure ``(init, apply)`` pairs over plain pytrees, and the per-example losses.

A network is written for ONE example and batched with ``jax.vmap``. Each has a static,
hashable config whose ``cfg.init(key)`` / ``cfg.apply(params, x[time, features]) ->
[output]`` are the pair that ``jaxlstm.fit_arrays`` and ``jaxlstm.run_stacked`` call:

* ``LSTMConfig``: the stacked LSTM (module functions ``init_params`` / ``apply`` /
  ``predict_multi_step`` take batched inputs);
* ``BiLSTMConfig``: a bidirectional LSTM (PyTorch ``nn.LSTM(bidirectional=True)``);
* ``AttentionLSTMConfig``: an LSTM whose head reads every hidden state through
  scaled dot-product attention (PyTorch ``nn.MultiheadAttention``);
* ``TransformerConfig``: a post-norm (or pre-norm) transformer encoder with sinusoidal
  positions (a stack of PyTorch ``nn.TransformerEncoderLayer``);
* ``make_network("esrnn", season_length=m)``: Smyl's ES-RNN, Holt-Winters level and season
  with learned smoothing coefficients feeding an LSTM (no PyTorch counterpart; its config
  class is not a public name, the 90-name budget being spent).

``make_network(name, ...)`` builds one by its ``ARCHITECTURES`` name. ``lstm_step`` is the
cell itself (``zero_carry`` gives its first ``LSTMCarry``). The per-example training losses
(``mse_loss``, ``mae_loss``, ``huber_loss``) are what ``jaxlstm.fit_arrays(loss=...)`` takes;
the forecast metrics of the same names without ``_loss`` are in ``jaxlstm.metrics``.
"""

from jaxlstm._src.nn.attention import AttentionLSTMConfig
from jaxlstm._src.nn.bilstm import BiLSTMConfig
from jaxlstm._src.nn.cell import LSTMCarry, lstm_step, zero_carry
from jaxlstm._src.nn.lstm import LSTMConfig, apply, init_params, predict_multi_step
from jaxlstm._src.nn.networks import ARCHITECTURES, make_network
from jaxlstm._src.nn.transformer import TransformerConfig
from jaxlstm._src.training import huber as huber_loss
from jaxlstm._src.training import mae as mae_loss
from jaxlstm._src.training import mse as mse_loss

__all__ = [
    "ARCHITECTURES",
    "AttentionLSTMConfig",
    "BiLSTMConfig",
    "LSTMCarry",
    "LSTMConfig",
    "TransformerConfig",
    "apply",
    "huber_loss",
    "init_params",
    "lstm_step",
    "mae_loss",
    "make_network",
    "mse_loss",
    "predict_multi_step",
    "zero_carry",
]
