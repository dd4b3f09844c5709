"""jaxlstm: LSTM price forecasting as pure JAX functions, with a thin stateful wrapper.

The functional core composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``: networks are
pure ``(init, apply)`` pairs over plain pytrees (``jaxlstm.nn``), ``fit_arrays`` is the one
pure trainer, and ``run_stacked`` runs any fit or predict over a leading models axis.
``LSTMForecaster`` wraps it for prices in, prices out; subclass ``Forecaster`` to backtest
your own model.

Importing jaxlstm changes nothing in the host process (no ``jax.config`` update, no folder):
JAX's persistent compilation cache is on only when asked for (``enable_compilation_cache``,
the ``jaxlstm`` command, or ``JAXLSTM_COMPILATION_CACHE=1``).
"""

from jaxlstm import baselines, data, evaluation, metrics, nn
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.forecasters.forecast import Forecast
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.interop.torch import params_from_torch, params_to_torch
from jaxlstm._src.interop.torch_modules import to_torch_module
from jaxlstm._src.io.cache import ModelCache
from jaxlstm._src.io.compile_cache import disable_compilation_cache, enable_compilation_cache, environment_setting
from jaxlstm._src.nn.cell import LSTMCarry, lstm_step
from jaxlstm._src.nn.lstm import LSTMConfig, apply, init_params, predict_multi_step
from jaxlstm._src.stacked import predict_many, run_stacked, train_many
from jaxlstm._src.training import (
    StopReason,
    TrainConfig,
    TrainData,
    TrainResult,
    fit_arrays,
    make_optimizer,
    train,
)
from jaxlstm._src.version import __version__
from jaxlstm._src.xla_options import COMPILER_OPTIONS

# The one opt-in read at import: the user asked for the cache in the environment.
if environment_setting():
    enable_compilation_cache()

__all__ = [
    "COMPILER_OPTIONS",
    "Forecast",
    "Forecaster",
    "LSTMCarry",
    "LSTMConfig",
    "LSTMForecaster",
    "ModelCache",
    "StopReason",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "__version__",
    "apply",
    "baselines",
    "data",
    "disable_compilation_cache",
    "enable_compilation_cache",
    "evaluation",
    "fit_arrays",
    "init_params",
    "lstm_step",
    "make_optimizer",
    "metrics",
    "nn",
    "params_from_torch",
    "params_to_torch",
    "predict_many",
    "predict_multi_step",
    "run_stacked",
    "to_torch_module",
    "train",
    "train_many",
]
