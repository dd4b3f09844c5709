"""jaxlstm: LSTM price forecasting as pure JAX functions, with a thin stateful wrapper.

The functional core composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``: networks are
pure ``(init, apply)`` pairs over plain pytrees (``jaxlstm.nn``), ``fit_arrays`` is the one
pure trainer, and ``run_stacked`` runs any fit or predict over a leading models axis.
``LSTMForecaster`` wraps it for prices in, prices out; subclass ``Forecaster`` to backtest
your own model.

Importing jaxlstm changes nothing in the host process (no ``jax.config`` update, no folder):
JAX's persistent compilation cache is on only when asked for (``enable_compilation_cache``,
the ``jaxlstm`` command, or ``JAXLSTM_COMPILATION_CACHE=1``). The public names are imported
on first use, so ``import jaxlstm`` alone (and ``jaxlstm --help``) does not import JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

from jaxlstm._src.io.compile_cache import environment_setting
from jaxlstm._src.version import __version__

#: Public name -> the module that defines it (a public sub-module maps to itself). Add a
#: public name here; it is imported when first used (PEP 562).
_EXPORTS: dict[str, str] = {
    # public sub-modules
    "baselines": "jaxlstm.baselines",
    "data": "jaxlstm.data",
    "evaluation": "jaxlstm.evaluation",
    "metrics": "jaxlstm.metrics",
    "nn": "jaxlstm.nn",
    # forecasters and the cache
    "Forecast": "jaxlstm._src.forecasters.forecast",
    "Forecasts": "jaxlstm._src.forecasters.forecast",
    "Forecaster": "jaxlstm._src.forecasters.base",
    "LSTMForecaster": "jaxlstm._src.forecasters.lstm",
    "ModelCache": "jaxlstm._src.forecasters.model_cache",
    # tuning
    "TunedLSTMForecaster": "jaxlstm._src.forecasters.tuning",
    "TuningTable": "jaxlstm._src.forecasters.tuning",
    "tune": "jaxlstm._src.forecasters.tuning",
    # interop and compilation cache
    "params_from_torch": "jaxlstm._src.interop.torch",
    "params_to_torch": "jaxlstm._src.interop.torch",
    "to_torch_module": "jaxlstm._src.interop.torch_modules",
    "enable_compilation_cache": "jaxlstm._src.io.compile_cache",
    # the functional core
    "LSTMConfig": "jaxlstm._src.nn.lstm",
    "apply": "jaxlstm._src.nn.lstm",
    "init_params": "jaxlstm._src.nn.lstm",
    "predict_multi_step": "jaxlstm._src.nn.lstm",
    "run_stacked": "jaxlstm._src.stacked",
    "StopReason": "jaxlstm._src.training",
    "TrainConfig": "jaxlstm._src.training",
    "TrainData": "jaxlstm._src.training",
    "TrainResult": "jaxlstm._src.training",
    "fit_arrays": "jaxlstm._src.training",
    "make_optimizer": "jaxlstm._src.training",
    "train": "jaxlstm._src.training",
}

# Kept equal to _EXPORTS and __version__ by tests/test_public_api.py.
__all__ = [
    "Forecast",
    "Forecaster",
    "Forecasts",
    "LSTMConfig",
    "LSTMForecaster",
    "ModelCache",
    "StopReason",
    "TrainConfig",
    "TrainData",
    "TrainResult",
    "TunedLSTMForecaster",
    "TuningTable",
    "__version__",
    "apply",
    "baselines",
    "data",
    "enable_compilation_cache",
    "evaluation",
    "fit_arrays",
    "init_params",
    "make_optimizer",
    "metrics",
    "nn",
    "params_from_torch",
    "params_to_torch",
    "predict_multi_step",
    "run_stacked",
    "to_torch_module",
    "train",
    "tune",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxlstm' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if module == f"{__name__}.{name}" else getattr(imported, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    # The public names and the module's dunders, not the helpers this module imports for itself.
    return sorted(set(__all__) | {name for name in globals() if name.startswith("__")})


# The one opt-in read at import: the user asked for the cache in the environment.
if environment_setting():
    from jaxlstm._src.io.compile_cache import enable_compilation_cache

    enable_compilation_cache()
