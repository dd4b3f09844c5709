"""Networks as pure ``(init, apply)`` pairs over plain pytrees, and the per-example losses.

A network is written for ONE example and batched with ``jax.vmap``. ``LSTMConfig`` is the
static, hashable description of the stacked LSTM; ``cfg.init(key)`` / ``cfg.apply(params,
x)`` are the pair that ``jaxlstm.fit_arrays`` and ``jaxlstm.run_stacked`` call, and the
module functions ``init_params`` / ``apply`` / ``predict_multi_step`` take batched inputs.
"""

from jaxlstm._src.nn.cell import LSTMCarry, glorot_uniform, init_lstm_layer, lstm_step, zero_carry
from jaxlstm._src.nn.lstm import LSTMConfig, apply, config_of, init_params, predict_multi_step
from jaxlstm._src.training import huber, mae, mse, weighted_loss

__all__ = [
    "LSTMCarry",
    "LSTMConfig",
    "apply",
    "config_of",
    "glorot_uniform",
    "huber",
    "init_lstm_layer",
    "init_params",
    "lstm_step",
    "mae",
    "mse",
    "predict_multi_step",
    "weighted_loss",
    "zero_carry",
]
