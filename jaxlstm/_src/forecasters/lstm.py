"""``LSTMForecaster``: the thin stateful shell over the pure LSTM functions.

State lives here and only here: the fitted params, the encoding fitted on training
prices, the last window, the loss history. Everything it computes goes through the
pure, compiled functions in ``model``, ``train`` and ``targets``.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Self

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training as train_lib
from jaxlstm._src import validation
from jaxlstm._src.forecasters.base import BaseForecaster
from jaxlstm._src.forecasters.forecast import Forecast
from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.prep import encodings as targets
from jaxlstm._src.prep import horizons
from jaxlstm._src.xla_options import COMPILER_OPTIONS

#: ``metadata["model"]`` of a saved ``LSTMForecaster``.
MODEL_KIND = "LSTMForecaster"

_forecast_jit = jax.jit(targets.forecast_prices, static_argnames=("target", "steps"), compiler_options=COMPILER_OPTIONS)


def _forecast_stacked(
    params: model_lib.Params, target: str, state: dict[str, jax.Array], windows: jax.Array, steps: int
) -> jax.Array:
    """``forecast_prices`` of ``G`` models at once: every argument has a leading ``[G]`` axis."""
    return jax.vmap(lambda p, e, w: targets.forecast_prices(p, target, e, w, steps))(params, state, windows)


_forecast_stacked_jit = jax.jit(
    _forecast_stacked, static_argnames=("target", "steps"), compiler_options=COMPILER_OPTIONS
)
_encode_windows = jax.jit(targets.encode_windows, static_argnames="target")
_encode_targets = jax.jit(targets.encode_targets, static_argnames="target")


@dataclasses.dataclass(frozen=True)
class _Settings:
    """Validated constructor arguments (static, hashable, JSON-ready via ``asdict``)."""

    hidden_size: int = 32
    sequence_length: int = 20
    learning_rate: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    early_stopping: bool = True
    num_layers: int = 1
    seed: int = 0
    patience: int = 10
    validation_fraction: float = 0.1
    target: str = "relative"
    loss_threshold: float | None = None

    def __post_init__(self) -> None:
        validation.check_positive_int("hidden_size", self.hidden_size)
        validation.check_positive_int("sequence_length", self.sequence_length, minimum=2)
        validation.check_positive_float("learning_rate", self.learning_rate)
        validation.check_positive_int("epochs", self.epochs)
        validation.check_positive_int("batch_size", self.batch_size)
        if not isinstance(self.early_stopping, bool):
            raise TypeError(f"early_stopping must be a bool, got {type(self.early_stopping).__name__}")
        validation.check_positive_int("num_layers", self.num_layers)
        validation.check_positive_int("seed", self.seed, minimum=0)
        validation.check_positive_int("patience", self.patience)
        validation.check_fraction("validation_fraction", self.validation_fraction, low_open=False)
        targets.check_encoding(self.target)
        if self.loss_threshold is not None:
            validation.check_positive_float("loss_threshold", self.loss_threshold)

    def train_config(self) -> train_lib.TrainConfig:
        """The training settings as a ``TrainConfig`` (no early stopping: no patience, keep the last params)."""
        return train_lib.TrainConfig(
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            patience=self.patience if self.early_stopping else None,
            loss_threshold=self.loss_threshold,
            restore_best=self.early_stopping,
        )


class _ProgressBar:
    """Per-epoch progress on stderr: tqdm when installed, a plain line otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, desc="training", unit="epoch", leave=False)

    def __call__(self, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        epoch, train_loss, val_loss = int(epoch), float(train_loss), float(val_loss)
        text = f"loss {train_loss:.3g}" + ("" if np.isnan(val_loss) else f", val {val_loss:.3g}")
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(text)
        else:
            sys.stderr.write(f"\rtraining epoch {epoch}/{self.total}: {text}   ")
            sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")


class _ProgressRelay:
    """The one callback the compiled training loop knows; it forwards to the active bar.

    A fresh closure per ``fit`` would be a new static argument and force a recompile,
    so the compiled loop always calls this same object.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sink: _ProgressBar | None = None

    def __call__(self, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        sink = self.sink
        if sink is not None:
            sink(epoch, train_loss, val_loss)


_PROGRESS = _ProgressRelay()


class _Prepared(NamedTuple):
    """Training inputs of one series: price windows, split, encoding and encoded arrays."""

    windows: np.ndarray
    following: np.ndarray
    n_train: int
    n_val: int
    encoding: dict[str, float]
    device_encoding: dict[str, jax.Array]
    xs: jax.Array
    ys: jax.Array


def _price_windows(prices: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``[n - length, length]`` windows of ``prices`` and the ``[n - length]`` prices after them."""
    windows = np.lib.stride_tricks.sliding_window_view(prices[:-1], length)
    return windows, prices[length:]


class LSTMForecaster(BaseForecaster):
    """Prices in, prices out: fit an LSTM on a price series and forecast it recursively.

    Args:
        hidden_size: LSTM units per layer.
        sequence_length: prices per input window.
        learning_rate: Adam step size.
        epochs: maximum training epochs.
        batch_size: windows per Adam step.
        early_stopping: hold back the last ``validation_fraction`` of windows
            (chronologically) and stop when their loss has not improved for ``patience``
            epochs, keeping the best params; ``False`` trains on every window for all epochs.
        num_layers: stacked LSTM layers.
        seed: seeds initialisation and shuffling (same seed and data, same model).
        patience: see ``early_stopping``.
        validation_fraction: share of windows held back for early stopping.
        target: ``"relative"`` (default: log price relative to each window's last price,
            scaled by the training log-return spread) or ``"minmax"`` (the seed's min-max
            scaled price levels); see ``targets``. Walk-forward backtests
            (``benchmarks/accuracy.py``) chose the default: min-max levels lost clearly to
            the naive forecast on BTC/USD and to "relative" on every series tried.
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.

    Example::

        m = LSTMForecaster(epochs=50).fit(prices)
        fc = m.forecast("1d")        # Forecast(timestamps, predicted, lower, upper, 0.95)
        m.save("models/BTCUSD"); m2 = LSTMForecaster.load("models/BTCUSD")
    """

    name = "lstm"
    #: ``save`` stores the conformal calibration residuals, so a loaded model keeps its intervals.
    _persists_calibration = True
    #: ``_predict`` takes a ``[batch, time]`` stack of windows (one compiled call).
    _vectorized_predict = True
    #: Forecast steps whose calibration residuals a saved model keeps (the "7d" horizon).
    _saved_calibration_steps = 168

    def __init__(
        self,
        hidden_size: int = 32,
        sequence_length: int = 20,
        learning_rate: float = 1e-3,
        epochs: int = 100,
        batch_size: int = 32,
        early_stopping: bool = True,
        num_layers: int = 1,
        seed: int = 0,
        *,
        patience: int = 10,
        validation_fraction: float = 0.1,
        target: str = "relative",
        loss_threshold: float | None = None,
        symbol: str | None = None,
    ) -> None:
        super().__init__()
        self._settings = _Settings(
            hidden_size=hidden_size,
            sequence_length=sequence_length,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            num_layers=num_layers,
            seed=seed,
            patience=patience,
            validation_fraction=validation_fraction,
            target=target,
            loss_threshold=loss_threshold,
        )
        if symbol is not None and not isinstance(symbol, str):
            raise TypeError(f"symbol must be a str or None, got {type(symbol).__name__}")
        self.symbol = symbol
        self._min_fit_length = sequence_length + 1
        self._min_window_length = sequence_length
        self.params_: model_lib.Params | None = None
        self.encoding_: dict[str, float] | None = None
        self.history_: dict[str, np.ndarray] | None = None
        self.metrics_: dict[str, Any] | None = None
        self.trained_at_: str | None = None
        self._device_encoding: dict[str, jax.Array] | None = None

    # ------------------------------------------------------------------ configuration

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments as a dict (the scikit-learn convention)."""
        return {**dataclasses.asdict(self._settings), "symbol": self.symbol}

    def __repr__(self) -> str:
        defaults = _Settings()
        changed = [f"{k}={v!r}" for k, v in dataclasses.asdict(self._settings).items() if getattr(defaults, k) != v]
        if self.symbol is not None:
            changed.append(f"symbol={self.symbol!r}")
        return f"LSTMForecaster({', '.join(changed)})"

    @property
    def sequence_length(self) -> int:
        return self._settings.sequence_length

    @property
    def model_config(self) -> model_lib.LSTMConfig:
        """The architecture as an ``LSTMConfig``."""
        s = self._settings
        return model_lib.LSTMConfig(input_size=1, hidden_size=s.hidden_size, output_size=1, num_layers=s.num_layers)

    @property
    def train_config(self) -> train_lib.TrainConfig:
        """The training settings as a ``TrainConfig``."""
        return self._settings.train_config()

    # ------------------------------------------------------------------ fitting

    def fit(self, data: Any, *, verbose: bool = False) -> Self:
        """Trains on a price series.

        Args:
            data: prices as a 1-D array/list, a pandas Series (DatetimeIndex kept for
                forecast timestamps), an OHLCV DataFrame, ``jaxlstm.data.OHLCV`` or ccxt rows
                ``[[ms, open, high, low, close, volume], ...]`` (the close is used); at least
                ``sequence_length + 1`` finite positive prices.
            verbose: show a per-epoch progress bar on stderr.

        Returns:
            ``self``, with ``params_``, ``encoding_``, ``history_`` and ``metrics_`` set.
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        return super().fit(data, verbose=verbose)

    def _split(self, n_windows: int) -> int:
        """Number of validation windows (0 when early stopping is off or data is too short)."""
        s = self._settings
        if not s.early_stopping:
            return 0
        n_val = int(n_windows * s.validation_fraction)
        return n_val if 1 <= n_val < n_windows else 0

    def _prepare(self, prices: np.ndarray) -> _Prepared:
        """Windows, chronological split and the encoding fitted on the training part only."""
        s = self._settings
        windows, following = _price_windows(prices, s.sequence_length)
        n_val = self._split(windows.shape[0])
        n_train = windows.shape[0] - n_val
        encoding = targets.fit_encoding(s.target, prices[: n_train + s.sequence_length])
        device_encoding = {k: jnp.asarray(v, jnp.float32) for k, v in encoding.items()}
        device_windows = jnp.asarray(windows, jnp.float32)
        xs = _encode_windows(s.target, device_encoding, device_windows)
        ys = _encode_targets(s.target, device_encoding, device_windows, jnp.asarray(following, jnp.float32))
        if not (bool(jnp.all(jnp.isfinite(xs))) and bool(jnp.all(jnp.isfinite(ys)))):
            raise ValueError("data gives non-finite model inputs after encoding (are prices too extreme for float32?)")
        return _Prepared(windows, following, n_train, n_val, encoding, device_encoding, xs, ys)

    def _initial_state(self) -> tuple[model_lib.Params, jax.Array]:
        """Initial params and the shuffling key, both derived from ``seed``."""
        key_init, key_train = jax.random.split(jax.random.key(self._settings.seed))
        return model_lib.init_params(key_init, self.model_config), key_train

    def _fit_params(self, prices: np.ndarray, verbose: bool = False) -> None:
        prep = self._prepare(prices)
        params, key_train = self._initial_state()
        n = prep.n_train
        validation_data = (prep.xs[n:], prep.ys[n:]) if prep.n_val else None
        bar = _ProgressBar(self._settings.epochs) if verbose else None
        with _PROGRESS._lock:
            _PROGRESS.sink = bar
            try:
                result = train_lib.train(
                    key_train,
                    params,
                    prep.xs[:n],
                    prep.ys[:n],
                    self.train_config,
                    validation_data=validation_data,
                    callback=_PROGRESS if verbose else None,
                )
                jax.effects_barrier()
            finally:
                _PROGRESS.sink = None
                if bar is not None:
                    bar.close()
        self._adopt(prep, result)

    def _adopt(self, prep: _Prepared, result: train_lib.TrainResult) -> None:
        """Takes over a finished training run's params, history and metrics."""
        if result.epochs_run == 0:
            raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
        n = prep.n_train
        self.params_ = result.params
        self.encoding_ = prep.encoding
        self._device_encoding = prep.device_encoding
        self.history_ = {"train_loss": result.train_loss, "val_loss": result.val_loss}
        self.metrics_ = {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "stop_reason": result.stop_reason,
            "final_train_loss": float(result.train_loss[-1]),
            "best_val_loss": float(np.min(result.val_loss)) if prep.n_val else None,
            "n_train_windows": int(n),
            "n_val_windows": int(prep.n_val),
            **self._validation_errors(prep.windows[n:], prep.following[n:]),
        }
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    @classmethod
    def fit_many(
        cls,
        data: Mapping[str, Any],
        *,
        devices: Sequence[jax.Device] | None = None,
        workers: int | None = None,
        **settings: Any,
    ) -> dict[str, LSTMForecaster]:
        """Fits one model per symbol, compiled once (``vmap`` over blocks of symbols; sharded over devices).

        Every model gets the same settings (and so the same initial params and shuffling
        key as a lone ``fit`` with that seed). Series of different lengths are padded with
        zero-weight windows; a padded model sees its own windows in a different minibatch
        schedule than a lone ``fit`` would, so its params differ slightly unless every
        series has the same length.

        Args:
            data: ``{symbol: prices}``, each in any form ``fit`` accepts.
            devices: devices to shard the symbols over (default: all visible devices).
            workers: on one CPU device, threads training blocks of symbols at the same time
                (default: one per available core; see ``jaxlstm.train_many``).
            **settings: constructor keywords shared by all models (``hidden_size``, ``epochs``...).

        Returns:
            ``{symbol: fitted LSTMForecaster}``, each saveable on its own.
        """
        from jaxlstm._src import stacked as multi
        from jaxlstm._src.io import ohlcv as market_data

        if not isinstance(data, Mapping) or not data:
            raise TypeError(f"data must be a non-empty mapping of symbol -> prices, got {type(data).__name__}")
        if "symbol" in settings:
            raise TypeError("fit_many takes the symbols from data's keys, not from symbol=")
        models, series, preps = {}, {}, {}
        for symbol, item in data.items():
            if not isinstance(symbol, str):
                raise TypeError(f"data keys must be symbol strings, got {type(symbol).__name__} {symbol!r}")
            model = cls(**settings, symbol=symbol)
            name = f"data[{symbol!r}]"
            prices, timestamps = market_data.as_price_series(item, name=name)
            prices = model._check_prices(name, prices, model._min_fit_length, "to fit")
            models[symbol], series[symbol], preps[symbol] = model, (prices, timestamps), model._prepare(prices)
        first = next(iter(models.values()))
        n_max = max(p.n_train for p in preps.values())
        m_max = max(p.n_val for p in preps.values())

        def padded(rows: jax.Array, count: int, width: int) -> np.ndarray:
            out = np.zeros((width, *rows.shape[1:]), np.float32)
            out[:count] = np.asarray(rows)
            return out

        def weights(count: int, width: int) -> np.ndarray:
            return (np.arange(width) < count).astype(np.float32)

        order = list(models)
        stacked = [
            np.stack([padded(preps[s].xs[: preps[s].n_train], preps[s].n_train, n_max) for s in order]),
            np.stack([padded(preps[s].ys[: preps[s].n_train], preps[s].n_train, n_max) for s in order]),
            np.stack([weights(preps[s].n_train, n_max) for s in order]),
            np.stack([padded(preps[s].xs[preps[s].n_train :], preps[s].n_val, m_max) for s in order]),
            np.stack([padded(preps[s].ys[preps[s].n_train :], preps[s].n_val, m_max) for s in order]),
            np.stack([weights(preps[s].n_val, m_max) for s in order]),
        ]
        params, key_train = first._initial_state()
        count = len(order)
        params = jax.tree.map(lambda a: jnp.broadcast_to(a, (count, *a.shape)), params)
        keys = jnp.stack([key_train] * count)
        result = multi.train_many(keys, params, *stacked, first.train_config, devices=devices, workers=workers)
        for i, symbol in enumerate(order):
            runs = int(result.epochs_run[i])
            lone = train_lib.TrainResult(
                params=jax.tree.map(lambda a: jnp.asarray(np.asarray(a[i])), result.params),
                train_loss=np.asarray(result.train_loss[i, :runs]),
                val_loss=np.asarray(result.val_loss[i, :runs]) if preps[symbol].n_val else np.zeros((0,)),
                epochs_run=runs,
                best_epoch=int(result.best_epoch[i]),
                stop_reason=result.stop_reason[i],
            )
            models[symbol]._adopt(preps[symbol], lone)
            models[symbol]._adopt_series(*series[symbol])
        return models

    def _validation_errors(self, windows: np.ndarray, following: np.ndarray) -> dict[str, float | None]:
        """One-step MAE in price units on the held-back windows, with naive's for scale."""
        if windows.shape[0] == 0:
            return {"val_mae": None, "val_naive_mae": None}
        predicted = np.asarray(
            _forecast_jit(
                self.params_, self._settings.target, self._device_encoding, jnp.asarray(windows, jnp.float32), 1
            )
        )[:, 0]
        return {
            "val_mae": float(np.mean(np.abs(predicted - following))),
            "val_naive_mae": float(np.mean(np.abs(windows[:, -1] - following))),
        }

    # ------------------------------------------------------------------ context

    def observe(self, data: Any) -> Self:
        """Moves the forecast origin to the end of ``data`` without retraining.

        A cached model keeps forecasting from the prices it was trained on; ``observe``
        hands it newer prices (any form ``fit`` accepts, at least ``sequence_length``) so
        ``forecast`` continues from them. The params and the fitted encoding are unchanged.

        Returns:
            ``self``.
        """
        from jaxlstm._src.io import ohlcv as market_data

        self._check_fitted()
        prices, timestamps = market_data.as_price_series(data, name="data")
        prices = self._check_prices("data", prices, self.sequence_length, "to forecast from")
        self.prices_ = prices[-self.sequence_length :]
        if timestamps is not None:
            self.last_timestamp_ = np.datetime64(timestamps[-1], "ns")
            self.interval_ = horizons.as_interval(market_data.infer_interval(timestamps), name="inferred data interval")
        else:
            # Plain prices carry no time: forecast steps count from the epoch (see base).
            self.last_timestamp_ = None
        return self

    # ------------------------------------------------------------------ prediction

    def _forecast_window(self) -> np.ndarray:
        return self.prices_[-self.sequence_length :]

    def _check_window(self, window: Any) -> np.ndarray:
        window = self._check_prices("window", window, self.sequence_length, "to forecast from")
        if window.shape[0] != self.sequence_length:
            raise ValueError(
                f"window must hold exactly sequence_length={self.sequence_length} prices, got {window.shape[0]}"
            )
        return window

    def predict_multi_step(self, window: Any, steps: int) -> np.ndarray:
        """Recursive forecast of the ``steps`` prices after ``window``.

        Args:
            window: ``[sequence_length]`` the most recent prices, oldest first.
            steps: number of future steps, >= 1.

        Returns:
            ``[steps]`` float64 predicted prices (computed in float32).
        """
        self._check_fitted()
        window = self._check_window(window)
        steps = validation.check_positive_int("steps", steps)
        return self._predict(window, steps)

    @classmethod
    def forecast_many(
        cls,
        forecasters: Mapping[str, LSTMForecaster],
        horizon: str | None = None,
        steps: int | None = None,
        confidence: float = 0.95,
        *,
        interval_method: str | None = None,
        workers: int | None = None,
    ) -> dict[str, Forecast]:
        """``forecast`` of many fitted models, their recursive forecasts computed together.

        Models that share an architecture, window length, encoding and step count are
        stacked and forecast by compiled ``vmap`` calls; on a CPU the stack is split into
        blocks of a few models run by one thread per core (``workers``, as in ``fit_many``).
        Each result equals the model's own ``forecast`` (to float rounding).

        Args:
            forecasters: ``{symbol: fitted LSTMForecaster}``, e.g. from ``fit_many``.
            horizon, steps, confidence, interval_method: as in ``forecast``; a horizon is
                converted to steps with each model's own data interval.
            workers: threads running blocks on a CPU device (default: one per available
                core; 1: one vmapped call per group).

        Returns:
            ``{symbol: Forecast}`` in the order of ``forecasters``.
        """
        from jaxlstm._src import parallel

        if not isinstance(forecasters, Mapping) or not forecasters:
            raise TypeError(
                f"forecasters must be a non-empty mapping of symbol -> fitted LSTMForecaster, got {type(forecasters).__name__}"
            )
        confidence = validation.check_fraction("confidence", confidence)
        groups: dict[tuple[Any, ...], list[str]] = {}
        for symbol, model in forecasters.items():
            if not isinstance(model, LSTMForecaster):
                raise TypeError(f"forecasters[{symbol!r}] must be an LSTMForecaster, got {type(model).__name__}")
            if model.params_ is None:
                raise RuntimeError(f"forecasters[{symbol!r}] is not fitted yet: call fit(data) or load(path) first")
            count = model._forecast_steps(horizon, steps)
            dtype = model.params_["layers"][0]["w"].dtype
            key = (model._settings.target, model.model_config, model.sequence_length, count, str(dtype))
            groups.setdefault(key, []).append(symbol)

        predicted: dict[str, np.ndarray] = {}
        for (target, _, _, count, _), symbols in groups.items():
            models = [forecasters[s] for s in symbols]
            # Stacked on the host: one transfer per leaf instead of a jnp.stack dispatch each.
            stack = lambda trees: jax.tree.map(lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *trees)
            windows = jnp.asarray(np.stack([m._forecast_window() for m in models]).astype(np.float32))
            args = (stack([m.params_ for m in models]), stack([m._device_encoding for m in models]), windows)
            plan = parallel.plan_blocks(workers, len(models), windows.devices().pop().platform)
            args, _ = parallel.pad_leading(args, plan.blocks, parallel.repeat_first)
            out = parallel.run_blocks(
                lambda p, e, w: _forecast_stacked_jit.lower(p, target, e, w, count).compile(), args, plan
            )
            for symbol, row in zip(symbols, np.asarray(out, np.float64)):
                if not np.all(np.isfinite(row)):
                    raise ValueError(
                        f"forecasters[{symbol!r}] produced a non-finite forecast; retrain it (the params may be damaged)"
                    )
                predicted[symbol] = row
        return {s: forecasters[s]._forecast_from(predicted[s], confidence, interval_method) for s in forecasters}

    def predict(self, window: Any) -> float:
        """The next price after ``window`` (``[sequence_length]`` prices)."""
        return float(self.predict_multi_step(window, 1)[0])

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        # Cast on the host: jnp.asarray(..., float32) of float64 data is a compiled convert
        # op, ~40 us, more than the one-step forecast itself.
        out = _forecast_jit(
            self.params_, self._settings.target, self._device_encoding, np.asarray(window, np.float32), steps
        )
        out = np.asarray(out, np.float64)
        if not np.all(np.isfinite(out)):
            raise ValueError("the model produced a non-finite forecast; retrain it (the params may be damaged)")
        return out

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    # ------------------------------------------------------------------ persistence

    def _metadata(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "model": MODEL_KIND,
            "symbol": self.symbol,
            "trained_at": self.trained_at_,
            "config": dataclasses.asdict(self._settings),
            "encoding": {"target": self._settings.target, **self.encoding_},
            "data": {
                "interval_seconds": float(self.interval_ / np.timedelta64(1, "s")),
                "last_timestamp": None
                if self.last_timestamp_ is None
                else np.datetime_as_string(self.last_timestamp_, unit="ns"),
                "last_window": [float(p) for p in self._forecast_window()],
                "volatility": float(self.volatility_),
            },
            "metrics": self.metrics_,
            "history": {k: [float(x) for x in v] for k, v in self.history_.items()},
            "intervals": {
                "method": self.interval_method,
                "calibration": self.calibration,
                "residuals": self.calibration_state(self._saved_calibration_steps),
            },
        }

    @classmethod
    def _from_parts(cls, params: Any, metadata: dict[str, Any], source: str) -> LSTMForecaster:
        if not isinstance(metadata, dict) or metadata.get("model") != MODEL_KIND:
            got = metadata.get("model") if isinstance(metadata, dict) else type(metadata).__name__
            raise ValueError(f"{source} does not hold an {MODEL_KIND} (model kind {got!r})")
        try:
            config = dict(metadata["config"])
            data = metadata["data"]
            encoding = {k: float(v) for k, v in metadata["encoding"].items() if k != "target"}
            forecaster = cls(**config, symbol=metadata.get("symbol"))
            expected = jax.eval_shape(lambda: model_lib.init_params(jax.random.key(0), forecaster.model_config))
            params = jax.tree.map(jnp.asarray, params)
            if jax.tree.structure(params) != jax.tree.structure(expected) or any(
                a.shape != b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected))
            ):
                raise ValueError("params do not match the saved config")
            window = validation.as_float_array("last_window", data["last_window"], ndim=1)
            forecaster.params_ = params
            forecaster.encoding_ = encoding
            forecaster._device_encoding = {k: jnp.asarray(v, jnp.float32) for k, v in encoding.items()}
            forecaster.prices_ = window
            forecaster.interval_ = horizons.as_interval(np.timedelta64(round(data["interval_seconds"] * 1e9), "ns"))
            forecaster.last_timestamp_ = (
                None if data["last_timestamp"] is None else np.datetime64(data["last_timestamp"], "ns")
            )
            forecaster.volatility_ = validation.check_positive_float("volatility", data["volatility"], allow_zero=True)
            forecaster.metrics_ = metadata.get("metrics")
            forecaster.history_ = {k: np.asarray(v, np.float64) for k, v in metadata.get("history", {}).items()}
            forecaster.trained_at_ = metadata.get("trained_at")
            saved_intervals = metadata.get("intervals") or {}
            forecaster.interval_method = saved_intervals.get("method")
            forecaster.calibration = saved_intervals.get("calibration", forecaster.calibration)
            forecaster.restore_calibration(saved_intervals.get("residuals", {}))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{source} has invalid metadata: {err}") from None
        return forecaster

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Saves the fitted model as a folder (orbax params + ``metadata.json``), atomically.

        The previous model at ``path`` stays intact until the new one is complete.

        Returns:
            The model folder.
        """
        from jaxlstm._src.io import persistence

        return persistence.save_model(path, jax.tree.map(np.asarray, self.params_), self._metadata())

    @classmethod
    def load(cls, path: str | os.PathLike) -> LSTMForecaster:
        """Loads a model saved with ``save``; checksums and format version are verified.

        Raises:
            FileNotFoundError: nothing at ``path``.
            ValueError: damaged files, another format version, or not an LSTMForecaster.
        """
        from jaxlstm._src.io import persistence

        params, metadata = persistence.load_model(path)
        return cls._from_parts(params, metadata, f"model at {str(path)!r}")

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The seed's single-file export: metadata and weights in one JSON document.

        Args:
            path: also write the document there atomically, when given.

        Returns:
            The JSON text.
        """
        import json

        from jaxlstm._src.io import persistence

        doc = {
            "format": "jaxlstm.forecaster",
            "format_version": persistence.FORMAT_VERSION,
            "metadata": self._metadata(),
            "weights": persistence.params_to_json(jax.tree.map(np.asarray, self.params_)),
        }
        if path is not None:
            persistence.write_json_atomic(path, doc)
        return json.dumps(doc, allow_nan=False, sort_keys=True)

    @classmethod
    def from_json(cls, source: str | os.PathLike) -> LSTMForecaster:
        """Rebuilds a forecaster from ``to_json`` output: the JSON text or a file path."""
        import json

        from jaxlstm._src.io import persistence

        if isinstance(source, str) and source.lstrip().startswith("{"):
            try:
                doc = json.loads(source, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except ValueError as err:
                raise ValueError(f"source is not valid JSON: {err}") from None
            where = "JSON text"
        elif isinstance(source, (str, os.PathLike)):
            doc = persistence.read_json(source)
            where = f"JSON file {str(source)!r}"
        else:
            raise TypeError(f"source must be JSON text or a path, got {type(source).__name__}")
        if not isinstance(doc, dict) or doc.get("format") != "jaxlstm.forecaster":
            raise ValueError(f"{where} is not a jaxlstm.forecaster document (an LSTMForecaster.to_json export)")
        if doc.get("format_version") != persistence.FORMAT_VERSION:
            raise ValueError(
                f"{where} has format_version {doc.get('format_version')!r}; "
                f"this version of jaxlstm reads format_version {persistence.FORMAT_VERSION}"
            )
        params = persistence.params_from_json(doc.get("weights"))
        return cls._from_parts(params, doc.get("metadata"), where)
