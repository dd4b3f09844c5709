"""jaxlstm: LSTM price forecasting as pure JAX functions, with a thin stateful wrapper.

The functional core (``init_params``, ``lstm_step``, ``apply``, ``predict_multi_step``,
``train``) composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``; ``LSTMForecaster``
wraps it for prices in, prices out.
"""

from jaxlstm._src.io.compile_cache import (
    disable_compilation_cache,
    enable_compilation_cache,
)
from jaxlstm._src.io.compile_cache import (
    enable_from_environment as _enable_compilation_cache_from_environment,
)
from jaxlstm._src.version import __version__

# New processes reuse compiled training and forecast code (see compilation_cache for
# the folder and how to turn it off: JAXLSTM_COMPILATION_CACHE=0).
_enable_compilation_cache_from_environment()

from jaxlstm import baselines, data, metrics
from jaxlstm._src.forecasters.forecast import Forecast
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.interop.torch import params_from_torch, params_to_torch
from jaxlstm._src.io.cache import ModelCache
from jaxlstm._src.nn.cell import LSTMCarry, glorot_uniform, init_lstm_layer, lstm_step, zero_carry
from jaxlstm._src.nn.lstm import LSTMConfig, apply, config_of, init_params, predict_multi_step
from jaxlstm._src.prep.scaling import MinMaxScaler, fit_scaler, inverse_transform, transform
from jaxlstm._src.prep.windows import sliding_windows
from jaxlstm._src.stacked import ManyTrainResult, StackedWindows, predict_many, stack_windows, train_many
from jaxlstm._src.training import (
    STOP_REASONS,
    TrainConfig,
    TrainResult,
    make_optimizer,
    mse_loss,
    run_epoch,
    train,
    train_step,
)
from jaxlstm._src.xla_options import COMPILER_OPTIONS

__all__ = [
    "COMPILER_OPTIONS",
    "STOP_REASONS",
    "Forecast",
    "LSTMCarry",
    "LSTMConfig",
    "LSTMForecaster",
    "ManyTrainResult",
    "MinMaxScaler",
    "ModelCache",
    "StackedWindows",
    "TrainConfig",
    "TrainResult",
    "apply",
    "config_of",
    "disable_compilation_cache",
    "enable_compilation_cache",
    "fit_scaler",
    "glorot_uniform",
    "init_lstm_layer",
    "init_params",
    "inverse_transform",
    "lstm_step",
    "make_optimizer",
    "mse_loss",
    "params_from_torch",
    "params_to_torch",
    "predict_many",
    "predict_multi_step",
    "run_epoch",
    "sliding_windows",
    "stack_windows",
    "train",
    "train_many",
    "train_step",
    "transform",
    "zero_carry",
]
