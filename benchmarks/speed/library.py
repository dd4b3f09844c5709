"""The calls into jaxlstm that several sections of the speed benchmark share.

The demo data and its scaled windows, the seed model's initial params, the training
config, ``LSTMForecaster``, and the library's compiled training core (whose argument
layout is internal): when the library's API changes, these and each section's own block
of calls are what to port. jaxlstm is imported inside the functions, after the harness
has switched its persistent compilation cache off (see ``benchmarks.run``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np

from benchmarks.speed.settings import Settings


@functools.lru_cache(maxsize=1)
def demo() -> Any:
    """The bundled demo candles, parsed once per process."""
    from jaxlstm.data import load_demo

    return load_demo()


def demo_candles(n: int) -> Any:
    """The last ``n`` bundled demo candles as an ``OHLCV`` (keeps timestamps for "1d")."""
    candles = demo()
    if n > candles.close.shape[0]:
        raise ValueError(f"the demo data has {candles.close.shape[0]} candles, fewer than {n}")
    fields = {f.name: getattr(candles, f.name) for f in dataclasses.fields(candles)}
    sliced = {k: (v[-n:] if isinstance(v, np.ndarray) else v) for k, v in fields.items()}
    return type(candles)(**sliced)


def scaled_windows(n_candles: int, window: int) -> tuple[np.ndarray, Any, Any]:
    """Min-max scaled windows of the last ``n_candles`` demo closes.

    Returns:
        ``(prices [n_candles] float64, xs [n_candles - window, window, 1], ys [n_candles - window, 1])``.
    """
    import jax.numpy as jnp

    import jaxlstm as jl

    prices = np.asarray(demo().close[-n_candles:], np.float64)
    encoding = jl.data.MinMaxEncoding()
    scaled = encoding.scale(encoding.fit(prices), jnp.asarray(prices, jnp.float32)).astype(jnp.float32)
    xs, ys = jl.data.sliding_windows(scaled, window)
    return prices, xs, ys


def init_params(hidden: int) -> Any:
    """The one-layer model's initial params for ``hidden`` units, from ``jax.random.key(0)``."""
    import jax

    import jaxlstm as jl

    return jl.init_params(jax.random.key(0), jl.LSTMConfig(hidden_size=hidden))


def train_config(s: Settings, epochs: int, batch_size: int | None = None, restore_best: bool | None = None) -> Any:
    """``TrainConfig`` with the run's learning rate and no early stopping.

    Args:
        s: the run's settings.
        epochs: epochs to train.
        batch_size: windows per step; ``None`` takes ``s.batch_size``.
        restore_best: passed on when given; ``None`` keeps the library's default.
    """
    import jaxlstm as jl

    extra = {} if restore_best is None else {"restore_best": restore_best}
    return jl.TrainConfig(
        learning_rate=s.learning_rate,
        epochs=epochs,
        batch_size=s.batch_size if batch_size is None else batch_size,
        patience=None,
        **extra,
    )


def forecaster_class() -> tuple[Any, str | None]:
    """``jaxlstm.LSTMForecaster`` when the wrapper exists, else ``(None, why)``."""
    try:
        import jaxlstm

        return jaxlstm.LSTMForecaster, None
    except (ImportError, AttributeError) as err:
        return None, f"jaxlstm.LSTMForecaster not available: {err!r}"


def quick_forecaster(cls: Any, s: Settings) -> Any:
    """An ``LSTMForecaster`` fitted for one epoch, for sections run without the training section."""
    return cls(hidden_size=s.hidden, sequence_length=s.window, epochs=1, early_stopping=False).fit(
        demo_candles(s.candles)
    )


# -- the compiled training core (internal API), used by the scaling and profile sections


def train_core_args(key: Any, params: Any, xs: Any, ys: Any) -> tuple[Any, ...]:
    """Positional arguments of ``jaxlstm.fit_arrays`` for one model: every window weighted 1, no validation set.

    Args:
        key: a typed PRNG key.
        params: the model's params.
        xs, ys: ``[n, time, 1]`` windows and ``[n, 1]`` targets.

    Returns:
        ``(key, params, TrainData(xs, ys, weights [n], xs_val [0, time, 1], ys_val [0, 1], weights_val [0]))``.
    """
    import jax.numpy as jnp

    import jaxlstm as jl

    data = jl.TrainData(
        xs,
        ys,
        jnp.ones((xs.shape[0],), jnp.float32),
        jnp.zeros((0, *xs.shape[1:]), jnp.float32),
        jnp.zeros((0, ys.shape[-1]), jnp.float32),
        jnp.zeros((0,), jnp.float32),
    )
    return (key, params, data)


def _core_static(params: Any) -> dict[str, Any]:
    """The static arguments ``jaxlstm.train`` passes to the compiled ``fit_arrays``."""
    from jaxlstm._src import training
    from jaxlstm._src.nn.lstm import config_of

    return {"network": config_of(params), "loss": training.mse, "optimizer": None, "callback": None}


def train_core(args: tuple[Any, ...], cfg: Any) -> Any:
    """Runs the compiled ``fit_arrays`` as ``jaxlstm.train`` calls it (so it shares that compiled program)."""
    from jaxlstm._src import training

    return training.fit_arrays_jit(*args, cfg, **_core_static(args[1]))


def lower_train_core(args: tuple[Any, ...], cfg: Any) -> Any:
    """The compiled ``fit_arrays`` lowered for ``args`` (compile it with ``common.aot``)."""
    from jaxlstm._src import training

    return training.fit_arrays_jit.lower(*args, cfg, **_core_static(args[1]))
