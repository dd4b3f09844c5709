"""``LSTMForecaster``: the thin stateful shell over the pure network functions.

State lives here and only here: the fitted params, the encoding (and feature scaling)
fitted on training data, the last window, the loss history. Everything it computes goes
through pure, compiled functions: ``prep.windows`` cuts the windows, ``prep.inputs``
encodes them (the close through ``prep.encodings``, other features through
``prep.features``), ``training.fit_arrays`` trains, ``stacked.run_stacked`` runs many models
at once, and ``encodings.forecast_prices`` (recursive) or ``inputs.forecast_direct``
(direct multi-horizon) forecasts. The network is any of ``nn.networks.ARCHITECTURES``;
nothing here depends on which.

One model's fit, many symbols' ``fit_many``, a vectorised backtest and calibration refits
all go through ``_prepare`` (windows, split, encoding) and ``_adopt`` (taking over a
trained result); only whether ``fit_arrays`` runs once or over a models axis differs.
"""

from __future__ import annotations

import datetime
import functools
import itertools
import os
import pathlib
import sys
import threading
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, Self, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.io import persistence
from jaxlstm._src.nn import networks
from jaxlstm._src.prep import encodings, horizons, windows
from jaxlstm._src.prep import features as feature_lib
from jaxlstm._src.prep import inputs as inputs_lib
from jaxlstm._src.xla_options import COMPILER_OPTIONS

#: ``metadata["model"]`` of a saved ``LSTMForecaster``.
MODEL_KIND = "LSTMForecaster"


def _forecast_one_model(
    params: Any, state: Any, window: jax.Array, *, network: Any, encoding: Any, steps: int
) -> jax.Array:
    """One model's recursive price forecast (what ``run_stacked`` maps over models)."""
    return encodings.forecast_prices(network, params, encoding, state, window, steps)


def _direct_one_model(
    params: Any, state: Any, window: jax.Array, *, network: Any, inputs: inputs_lib.ModelInputs, steps: int
) -> jax.Array:
    """One model's direct multi-horizon forecast (what ``run_stacked`` maps over models)."""
    return inputs_lib.forecast_direct(network, params, inputs, state, window, steps)


_FORECAST_JIT = {
    fn: jax.jit(fn, static_argnames=(*static, "steps"), compiler_options=COMPILER_OPTIONS)
    for fn, static in ((_forecast_one_model, ("network", "encoding")), (_direct_one_model, ("network", "inputs")))
}
_encode_jit = jax.jit(inputs_lib.ModelInputs.encode, static_argnums=0)


class _ProgressBar:
    """Per-epoch progress on stderr: tqdm when installed, a plain line otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.epoch = 0
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar = None
        else:
            self._bar = tqdm(total=total, desc="training", unit="epoch", leave=False)

    def __call__(self, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        epoch, train_loss, val_loss = int(epoch), float(train_loss), float(val_loss)
        if epoch <= self.epoch:  # callbacks are unordered: never move backwards
            return
        text = f"loss {train_loss:.3g}" + ("" if np.isnan(val_loss) else f", val {val_loss:.3g}")
        if self._bar is not None:
            self._bar.update(epoch - self.epoch)
            self._bar.set_postfix_str(text)
        else:
            sys.stderr.write(f"\rtraining epoch {epoch}/{self.total}: {text}   ")
            sys.stderr.flush()
        self.epoch = epoch

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\n")


class _ProgressRelay:
    """The one progress callback the compiled loop knows; routes each fit's epochs by tag.

    A fresh closure per fit would be a new static argument and force a recompile, so every
    verbose fit passes this same object and its own traced tag. No lock is held while a
    fit runs, so fits in other threads (verbose or not) are never serialised by progress.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[int, _ProgressBar] = {}
        self._tags = itertools.count()

    def open(self, bar: _ProgressBar) -> int:
        with self._lock:
            tag = next(self._tags) % (2**31)
            self._sinks[tag] = bar
        return tag

    def close(self, tag: int) -> None:
        with self._lock:
            self._sinks.pop(tag, None)

    def __call__(self, tag: Any, epoch: Any, train_loss: Any, val_loss: Any) -> None:
        sink = self._sinks.get(int(tag))
        if sink is not None:
            sink(epoch, train_loss, val_loss)


_PROGRESS = _ProgressRelay()


class _Prepared(NamedTuple):
    """Training inputs of one series: raw windows, split, fitted encoding and feature scaling, encoded arrays."""

    windows: np.ndarray
    following: np.ndarray
    n_train: int
    n_val: int
    encoding_state: dict[str, float]
    feature_state: inputs_lib.FeatureState
    data: training.TrainData

    @property
    def gap(self) -> int:
        """Windows between the training and the held-back ones (in neither part)."""
        return self.windows.shape[0] - self.n_train - self.n_val


class LSTMForecaster(Forecaster):
    """Prices in, prices out: fit a network on a price series (and optionally candle features) and forecast it.

    Args:
        hidden_size: units per layer (LSTM units per direction; the transformer's width).
        sequence_length: prices per input window.
        learning_rate: Adam step size.
        epochs: maximum training epochs.
        batch_size: windows per Adam step.
        early_stopping: hold back the last ``validation_fraction`` of windows
            (chronologically) and stop when their loss has not improved for ``patience``
            epochs, keeping the best params; ``False`` trains on every window for all epochs.
        num_layers: stacked layers.
        seed: seeds initialisation and shuffling (same seed and data, same model).
        patience: see ``early_stopping``.
        validation_fraction: share of windows held back for early stopping.
        encoding: ``"relative"`` (default: log price relative to each window's last price,
            scaled by the training log-return spread) or ``"minmax"`` (the seed's min-max
            scaled price levels); see ``jaxlstm.data.ENCODINGS``. Walk-forward backtests
            (``benchmarks/accuracy.py``) chose the default: min-max levels lost clearly to
            the naive forecast on BTC/USD and to "relative" on every series tried.
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.
        band, calibration: the prediction band (see ``jaxlstm.Forecaster``).
        architecture: the network (``jaxlstm.nn.ARCHITECTURES``): ``"lstm"`` (the seed's
            stacked LSTM), ``"bilstm"`` (bidirectional), ``"attention"`` (an LSTM whose head
            reads every hidden state through attention) or ``"transformer"`` (an encoder
            with ``num_layers`` layers of width ``hidden_size``).
        features: the inputs per time step, e.g. ``("close", "volume", "rsi")``:
            ``"close"`` is the close as ``encoding`` encodes it, the others are causal
            candle features (``jaxlstm.data.FEATURES``), standardised with training
            statistics. Anything beyond the close needs candles (an OHLCV DataFrame,
            ``jaxlstm.data.OHLCV``, ccxt rows or a CSV path) and ``direct_steps``; the
            columns read are ``input_columns`` (the close first), and a window for
            ``predict_multi_step`` is ``window_length`` candles (any of those forms, or a
            ``[time, len(input_columns)]`` array).
        direct_steps: None forecasts recursively (one step, fed back); an int ``H`` trains a
            head that emits the next ``H`` steps at once, so forecasts are limited to ``H``
            steps. Required with features: a covariate has no future value to feed back.
        num_heads: attention heads of ``"attention"`` and ``"transformer"`` (a divisor of ``hidden_size``).

    Example::

        m = LSTMForecaster(epochs=50).fit(prices)
        fc = m.forecast("1d")        # Forecast(timestamps, predicted, lower, upper, 0.95, band=...)
        m.save("models/BTCUSD"); m2 = LSTMForecaster.load("models/BTCUSD")
    """

    name = "lstm"
    #: Forecast steps whose calibration residuals a saved model keeps (the "7d" horizon).
    _saved_calibration_steps: ClassVar[int] = 168

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
        encoding: str = "relative",
        loss_threshold: float | None = None,
        symbol: str | None = None,
        band: str = "conformal",
        calibration: str = "auto",
        architecture: str = "lstm",
        features: Sequence[str] = ("close",),
        direct_steps: int | None = None,
        num_heads: int = 4,
    ) -> None:
        super().__init__(band=band, calibration=calibration)
        self.hidden_size = validation.check_positive_int("hidden_size", hidden_size)
        self.sequence_length = validation.check_positive_int("sequence_length", sequence_length, minimum=2)
        self.learning_rate = validation.check_positive_float("learning_rate", learning_rate)
        self.epochs = validation.check_positive_int("epochs", epochs)
        self.batch_size = validation.check_positive_int("batch_size", batch_size)
        if not isinstance(early_stopping, bool):
            raise TypeError(f"early_stopping must be a bool, got {type(early_stopping).__name__} {early_stopping!r}")
        self.early_stopping = early_stopping
        self.num_layers = validation.check_positive_int("num_layers", num_layers)
        self.seed = validation.check_positive_int("seed", seed, minimum=0)
        if self.seed >= 2**63:
            raise ValueError(f"seed must be below 2**63, got {seed}")
        self.patience = validation.check_positive_int("patience", patience)
        self.validation_fraction = validation.check_fraction("validation_fraction", validation_fraction, low_open=False)
        self.encoding = encodings.get_encoding(encoding).name
        self.loss_threshold = (
            None if loss_threshold is None else validation.check_positive_float("loss_threshold", loss_threshold)
        )
        if symbol is not None and not isinstance(symbol, str):
            raise TypeError(f"symbol must be a str or None, got {type(symbol).__name__}")
        self.symbol = symbol
        self.architecture = networks.check_architecture(architecture)
        self.features = feature_lib.check_features(features)
        self.direct_steps = (
            None if direct_steps is None else validation.check_positive_int("direct_steps", direct_steps)
        )
        self.num_heads = validation.check_positive_int("num_heads", num_heads)
        if self.direct_steps is None and self.features != (feature_lib.CLOSE,):
            raise ValueError(
                f"features {self.features} need direct_steps=H (a head that forecasts H steps at once): a recursive "
                "forecast feeds each predicted close back as the next input, and the other features have no "
                "predicted value to feed back"
            )
        self.model_config  # noqa: B018 (a network these sizes cannot build, e.g. heads not dividing the width, fails now)

    def _reset_fitted(self) -> None:
        super()._reset_fitted()
        self.params_: Any = None
        self.encoding_state_: dict[str, float] | None = None
        self.feature_state_: inputs_lib.FeatureState | None = None
        self.history_: dict[str, np.ndarray] | None = None
        self.metrics_: dict[str, Any] | None = None
        self.trained_at_: str | None = None

    # ------------------------------------------------------------------ configuration

    # Cached: settings change only through set_params, which builds a fresh instance, and the
    # forecast path reads these on every call (building them costs more than a 1-step forecast).
    @functools.cached_property
    def model_config(self) -> Any:
        """The network's config (``LSTMConfig`` for ``architecture="lstm"``; see ``jaxlstm.nn.make_network``)."""
        return networks.make_network(
            self.architecture,
            input_size=len(self.features),
            hidden_size=self.hidden_size,
            output_size=self.direct_steps or 1,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
        )

    @functools.cached_property
    def model_inputs(self) -> inputs_lib.ModelInputs:
        """How windows of candles become the network's inputs (features, encoding, length)."""
        return inputs_lib.ModelInputs(self.features, self._encoding(), self.sequence_length)

    @property
    def input_columns(self) -> tuple[str, ...]:
        return self.model_inputs.columns

    @property
    def train_config(self) -> training.TrainConfig:
        """The training settings as a ``TrainConfig`` (no early stopping: no patience, keep the last params)."""
        return training.TrainConfig(
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            batch_size=self.batch_size,
            patience=self.patience if self.early_stopping else None,
            loss_threshold=self.loss_threshold,
            restore_best=self.early_stopping,
        )

    @property
    def min_fit_length(self) -> int:
        return self.window_length + (self.direct_steps or 1)

    @property
    def window_length(self) -> int:
        """Candles one forecast reads: ``sequence_length`` plus the history the features need first."""
        return self.model_inputs.window_length

    def _encoding(self) -> encodings.Encoding:
        return encodings.get_encoding(self.encoding)

    def _fit_static(self) -> dict[str, Any]:
        """The static arguments of ``fit_arrays`` (models with equal ones train in one call)."""
        return {"config": self.train_config, "network": self.model_config}

    # ------------------------------------------------------------------ fitting

    def fit(self, data: Any, *, verbose: bool = False, **fit_options: Any) -> Self:
        """Trains on a price series.

        Args:
            data: prices as a 1-D array/list, a pandas Series (DatetimeIndex kept for
                forecast timestamps), an OHLCV DataFrame, ``jaxlstm.data.OHLCV`` or ccxt rows
                ``[[ms, open, high, low, close, volume], ...]`` (the close is used); at least
                ``min_fit_length`` finite positive prices. Features that read other columns
                need candles (not a 1-D series; a CSV path is read too) with those columns.
            verbose: show a per-epoch progress bar on stderr.

        Returns:
            ``self``, with ``params_``, ``encoding_state_``, ``history_`` and ``metrics_`` set.
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        return super().fit(data, verbose=verbose, **fit_options)

    def _prepare(self, series: np.ndarray) -> _Prepared:
        """Windows, chronological split, and the encoding and feature scaling fitted on the training part only.

        A window holds ``window_length`` candles and is followed by ``H`` targets (``H =
        direct_steps``, 1 for the recursive model). The last ``validation_fraction`` of
        windows is held back, and the ``H - 1`` windows before it are dropped, so that no
        held-back close is a training target; the encoding and the feature statistics see
        only the training windows and their targets.
        """
        model_inputs = self.model_inputs
        length = model_inputs.window_length
        steps = self.direct_steps or 1
        if series.ndim == 2:
            feature_lib.check_values(self.features, model_inputs.columns, series)
        raw_windows, future = windows.sliding_windows(series, length, horizon=steps)
        if series.ndim == 1:
            raw_windows = raw_windows[..., 0]
        closes, future = model_inputs.closes(raw_windows), future[..., 0]
        fraction = self.validation_fraction if self.early_stopping else 0.0
        n_train, n_val = windows.chronological_split(raw_windows.shape[0], fraction, gap=steps - 1)
        encoding_state, feature_state = model_inputs.fit(series[: n_train + length + steps - 1])
        state = model_inputs.device_state(encoding_state, feature_state)
        xs = _encode_jit(model_inputs, state, np.asarray(raw_windows, np.float32))
        ys = model_inputs.encoding.encode_targets(
            state["encoding"], jnp.asarray(closes, jnp.float32), jnp.asarray(future, jnp.float32)
        )
        if not (bool(jnp.all(jnp.isfinite(xs))) and bool(jnp.all(jnp.isfinite(ys)))):
            raise ValueError("data gives non-finite model inputs after encoding (are prices too extreme for float32?)")
        ones = jnp.ones((xs.shape[0],), jnp.float32)
        start = xs.shape[0] - n_val
        data = training.TrainData(xs[:n_train], ys[:n_train], ones[:n_train], xs[start:], ys[start:], ones[start:])
        return _Prepared(raw_windows, future[:, 0], n_train, n_val, encoding_state, feature_state, data)

    def _initial_state(self) -> tuple[Any, jax.Array]:
        """Initial params and the shuffling key, both derived from ``seed``."""
        key_init, key_train = jax.random.split(jax.random.key(self.seed))
        return self.model_config.init(key_init), key_train

    def _fit(self, prices: np.ndarray, verbose: bool = False, **fit_options: Any) -> None:
        if fit_options:
            raise TypeError(f"LSTMForecaster.fit got unexpected options {sorted(fit_options)}")
        prep = self._prepare(prices)
        params, key = self._initial_state()
        bar = _ProgressBar(self.epochs) if verbose else None
        tag = None if bar is None else _PROGRESS.open(bar)
        try:
            result = training.fit_arrays_jit(
                key,
                params,
                prep.data,
                **self._fit_static(),
                callback=None if bar is None else _PROGRESS,
                callback_tag=None if tag is None else jnp.asarray(tag, jnp.int32),
            )
            result = jax.block_until_ready(result)
        finally:
            if bar is not None and tag is not None:
                _PROGRESS.close(tag)
                bar.close()
        self._adopt(prep, training.to_host(result))

    @classmethod
    def _fit_together(
        cls,
        models: Sequence[Forecaster],
        prices: Sequence[np.ndarray],
        *,
        workers: int | None = None,
        devices: Sequence[jax.Device] | None = None,
    ) -> None:
        """Trains many models in compiled ``vmap`` calls, one per group of equal static settings.

        Series of different lengths are padded with zero-weight windows; a padded model sees
        its own windows in a different minibatch schedule than a lone ``fit`` would, so its
        params differ slightly unless every series has the same length.
        """
        lstms = [cast(LSTMForecaster, m) for m in models]
        preps = [m._prepare(p) for m, p in zip(lstms, prices, strict=True)]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, model in enumerate(lstms):
            groups.setdefault(tuple(sorted(model._fit_static().items())), []).append(i)
        for static, members in groups.items():
            data = [preps[i].data for i in members]
            fields = []
            for field in zip(*data, strict=True):
                stacked_field, _ = windows.pad_stack([np.asarray(a) for a in field])
                fields.append(stacked_field)
            # Padding rows get weight 0 from the stacked weights themselves.
            stacked_data = training.TrainData(*fields)
            starts = [lstms[i]._initial_state() for i in members]
            params = jax.tree.map(lambda *leaves: np.stack([np.asarray(a) for a in leaves]), *[s[0] for s in starts])
            keys = jnp.stack([s[1] for s in starts])
            out = stacked.run_stacked(
                training.fit_arrays,
                (keys, params, stacked_data),
                static=dict(static),
                workers=workers,
                devices=devices,
            )
            out = jax.device_get(out)
            for row, i in enumerate(members):
                lstms[i]._adopt(preps[i], training.unstack(out, row))

    def _adopt(self, prep: _Prepared, result: training.TrainResult) -> None:
        """Takes over a finished training run's params, history and metrics."""
        if result.epochs_run == 0:
            raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
        n = prep.n_train
        self.params_ = jax.tree.map(jnp.asarray, result.params)
        self.encoding_state_ = prep.encoding_state
        self.feature_state_ = prep.feature_state
        val_loss = result.val_loss if prep.n_val else np.zeros((0,))
        self.history_ = {"train_loss": np.asarray(result.train_loss), "val_loss": np.asarray(val_loss)}
        self.metrics_ = {
            "epochs_run": int(result.epochs_run),
            "best_epoch": int(result.best_epoch),
            "stop_reason": str(result.stop_reason),
            "final_train_loss": float(result.train_loss[-1]),
            "best_val_loss": float(np.min(val_loss)) if prep.n_val else None,
            "n_train_windows": int(n),
            "n_val_windows": int(prep.n_val),
            **self._validation_errors(prep.windows[n + prep.gap :], prep.following[n + prep.gap :]),
        }
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def _validation_errors(self, raw_windows: np.ndarray, following: np.ndarray) -> dict[str, float | None]:
        """One-step MAE in price units on the held-back windows, with naive's for scale."""
        if raw_windows.shape[0] == 0:
            return {"val_mae": None, "val_naive_mae": None}
        predicted = self._predict_many(raw_windows, 1)[:, 0]
        return {
            "val_mae": float(np.mean(np.abs(predicted - following))),
            "val_naive_mae": float(np.mean(np.abs(self.model_inputs.closes(raw_windows)[:, -1] - following))),
        }

    def _holdout_size(self) -> int | None:
        # One validation window per held-back target close, and a direct model's window
        # also targets the H - 1 closes after its first.
        metrics = self.metrics_
        if metrics is None:
            return None
        n_val = int(metrics.get("n_val_windows") or 0)
        return n_val + (self.direct_steps or 1) - 1 if n_val else 0

    # ------------------------------------------------------------------ context

    def observe(self, data: Any) -> Self:
        """Moves the forecast origin to the end of ``data`` without retraining.

        A cached model keeps forecasting from the prices it was trained on; ``observe``
        hands it newer prices (any form ``fit`` accepts, at least ``window_length``) so
        ``forecast`` continues from them. The params and the fitted encoding are unchanged.

        Returns:
            ``self``.
        """
        self._check_fitted()
        series, timestamps, interval = self._read_series(data, "data")
        series = self._check_prices("data", series, self.window_length, "to forecast from")
        self.prices_ = series[-self.window_length :]
        if timestamps is not None:
            self.last_timestamp_ = np.datetime64(timestamps[-1], "ns")
            self.interval_ = interval
        else:
            # Plain prices carry no time: forecast steps count from the epoch (see base).
            self.last_timestamp_ = None
        return self

    # ------------------------------------------------------------------ prediction

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many(window[None, :], steps)[0]

    def _predict_many(self, price_windows: Any, steps: int) -> np.ndarray:
        # Cast on the host: jnp.asarray(..., float32) of float64 data is a compiled convert
        # op, ~40 us, more than the one-step forecast itself.
        stack = np.asarray(np.stack(price_windows) if isinstance(price_windows, list) else price_windows, np.float32)
        function, static, state = self._forecast_plan(steps)
        out = _FORECAST_JIT[function](self.params_, state, stack[:, -self.window_length :], **static)
        return np.asarray(out, np.float64)

    def _forecast_plan(self, steps: int) -> tuple[Any, dict[str, Any], Any]:
        """``(one-model forecast function, its static arguments, the fitted state it takes)``.

        The recursive close-only model runs ``encodings.forecast_prices``; a direct model
        ``inputs.forecast_direct``, which refuses more steps than its head emits. ``steps``
        is checked by the callers (a positive int).
        """
        if self.direct_steps is None:
            static = {"network": self.model_config, "encoding": self._encoding(), "steps": steps}
            return _forecast_one_model, static, self._device_state()
        if steps > self.direct_steps:
            raise ValueError(
                f"steps must be at most {self.direct_steps} for {self!r}: its head forecasts direct_steps="
                f"{self.direct_steps} steps at once, got steps={steps}; train with a larger direct_steps"
                + (" or direct_steps=None (recursive)" if self.features == (feature_lib.CLOSE,) else "")
            )
        assert self.encoding_state_ is not None and self.feature_state_ is not None, "fitted models have a state"
        state = self.model_inputs.device_state(self.encoding_state_, self.feature_state_)
        return _direct_one_model, {"network": self.model_config, "inputs": self.model_inputs, "steps": steps}, state

    def _device_state(self) -> dict[str, np.float32]:
        assert self.encoding_state_ is not None, "fitted models have an encoding state"
        return {k: np.float32(v) for k, v in self.encoding_state_.items()}

    @classmethod
    def _predict_together(
        cls, models: Sequence[Forecaster], windows_: Sequence[np.ndarray], steps: int, *, workers: int | None = None
    ) -> np.ndarray:
        """Forecasts of stacked models (groups of equal network, inputs and forecast kind) by ``run_stacked``."""
        lstms = [cast(LSTMForecaster, m) for m in models]
        out = np.empty((len(lstms), steps))
        plans = [m._forecast_plan(steps) for m in lstms]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (function, static, _) in enumerate(plans):
            groups.setdefault((function, tuple(static.items()), lstms[i].window_length), []).append(i)
        for (function, static, length), members in groups.items():
            # Stacked on the host: one transfer per leaf instead of a jnp.stack dispatch each.
            params = jax.tree.map(
                lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *[lstms[i].params_ for i in members]
            )
            states = jax.tree.map(lambda *v: np.stack(v), *[plans[i][2] for i in members])
            stack = np.stack([np.asarray(windows_[i][-length:], np.float32) for i in members])
            rows = stacked.run_stacked(function, (params, states, stack), static=dict(static), workers=workers)
            out[members] = np.asarray(rows, np.float64)
        return out

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    def _check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        if self.features == (feature_lib.CLOSE,):
            return super()._check_prices(name, value, minimum, purpose)
        # The feature-specific problems first, so that their messages name the feature.
        columns = self.input_columns
        if len(columns) > 1 and isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == len(columns):
            feature_lib.check_values(self.features, columns, value, name)
        longest = feature_lib.longest_warmup(self.features)
        rows = np.shape(value)[0] if np.ndim(value) else 0
        if longest is not None and rows < minimum:
            raise ValueError(
                f"{name} must have at least {minimum} candles {purpose} with {self!r}, got {rows}: feature "
                f"{longest!r} needs {feature_lib.FEATURES[longest].warmup} candles of history before the first of the "
                f"{self.sequence_length} steps the network reads"
                + (f", and the head forecasts {self.direct_steps} steps" if purpose == "to fit" else "")
            )
        return super()._check_prices(name, value, minimum, purpose)

    def _check_window(self, window: Any) -> np.ndarray:
        # Models that read several columns also take a window as candles (a DataFrame,
        # OHLCV, ccxt rows): its last window_length rows. An array is [time, columns].
        if len(self.input_columns) > 1 and not isinstance(window, np.ndarray) and not isinstance(window, jax.Array):
            window = self._read_series(window, "window")[0][-self.window_length :]
        return super()._check_window(window)

    # ------------------------------------------------------------------ persistence

    def _metadata(self) -> dict[str, Any]:
        self._check_fitted()
        assert self.encoding_state_ is not None and self.interval_ is not None and self.history_ is not None
        settings = self.get_params()
        return {
            "model": MODEL_KIND,
            "symbol": settings.pop("symbol"),
            "trained_at": self.trained_at_,
            "settings": settings,
            "encoding": {"name": self.encoding, "state": dict(self.encoding_state_)},
            "features": {name: dict(v) for name, v in (self.feature_state_ or {}).items()},
            "data": {
                "interval_seconds": float(self.interval_ / np.timedelta64(1, "s")),
                "last_timestamp": None
                if self.last_timestamp_ is None
                else np.datetime_as_string(self.last_timestamp_, unit="ns"),
                "last_window": np.asarray(self._forecast_window(), np.float64).tolist(),
                "volatility": float(self.volatility_ or 0.0),
            },
            "metrics": self.metrics_,
            "history": {k: [float(x) for x in v] for k, v in self.history_.items()},
            "calibration": self.calibration_state(min(self._saved_calibration_steps, self.direct_steps or sys.maxsize)),
        }

    @classmethod
    def _from_parts(cls, params: Any, metadata: Any, source: str) -> LSTMForecaster:
        """Rebuilds a fitted model from saved params and metadata; anything odd is a ValueError."""
        if not isinstance(metadata, dict) or metadata.get("model") != MODEL_KIND:
            got = metadata.get("model") if isinstance(metadata, dict) else type(metadata).__name__
            raise ValueError(f"{source} does not hold an {MODEL_KIND} (model kind {got!r})")
        try:
            settings = dict(metadata["settings"])
            forecaster = cls(**settings, symbol=metadata.get("symbol"))
            encoding = metadata["encoding"]
            if encoding["name"] != forecaster.encoding:
                raise ValueError(f"encoding {encoding['name']!r} does not match the settings' {forecaster.encoding!r}")
            state, feature_state = forecaster.model_inputs.check_state(encoding["state"], metadata.get("features", {}))
            shapes = jax.eval_shape(lambda: forecaster.model_config.init(jax.random.key(0)))
            params = jax.tree.map(jnp.asarray, params)
            if str(jax.tree.structure(params)) != str(jax.tree.structure(shapes)) or any(
                a.shape != b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(shapes))
            ):
                raise ValueError("params do not match the saved settings")
            data = metadata["data"]
            window = forecaster._check_window(np.asarray(data["last_window"], np.float64))
            interval_ns = validation.check_positive_float("interval_seconds", data["interval_seconds"]) * 1e9
            if interval_ns >= 2**62:
                raise ValueError(f"interval_seconds {data['interval_seconds']} is out of range")
            forecaster.params_ = params
            forecaster.encoding_state_ = state
            forecaster.feature_state_ = feature_state
            forecaster.prices_ = window
            forecaster.interval_ = horizons.as_interval(np.timedelta64(round(interval_ns), "ns"))
            stamp = data["last_timestamp"]
            forecaster.last_timestamp_ = None if stamp is None else np.datetime64(stamp, "ns")
            forecaster.volatility_ = validation.check_positive_float("volatility", data["volatility"], allow_zero=True)
            forecaster.metrics_ = dict(metadata["metrics"])
            forecaster.history_ = {k: np.asarray(v, np.float64) for k, v in dict(metadata["history"]).items()}
            forecaster.trained_at_ = metadata.get("trained_at")
            forecaster.restore_calibration(metadata["calibration"])
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
            raise ValueError(f"{source} is damaged: invalid metadata ({type(err).__name__}: {err})") from None
        return forecaster

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Saves the fitted model as a folder (orbax params + ``metadata.json``), atomically.

        The previous model at ``path`` stays intact until the new one is complete.

        Returns:
            The model folder.
        """
        return persistence.save_model(path, jax.tree.map(np.asarray, self.params_), self._metadata())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LSTMForecaster:
        """Loads a model saved with ``save``; checksums and format version are verified.

        Raises:
            FileNotFoundError: nothing at ``path``.
            ValueError: damaged files, another format version, or not an LSTMForecaster.
        """
        params, metadata = persistence.load_model(path)
        return cls._from_parts(params, metadata, f"model at {str(path)!r}")

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The seed's single-file export: metadata and weights in one sealed JSON document.

        Args:
            path: also write the document there atomically, when given.

        Returns:
            The JSON text.
        """
        return persistence.export_json(jax.tree.map(np.asarray, self.params_), self._metadata(), path)

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> LSTMForecaster:
        """Rebuilds a forecaster from ``to_json`` output: the JSON text or a file path.

        Raises:
            FileNotFoundError: ``source`` names no file.
            ValueError: not an LSTMForecaster export, another format version, or damaged.
        """
        params, metadata = persistence.import_json(source)
        where = (
            "JSON text" if isinstance(source, str) and source.lstrip().startswith("{") else f"JSON file {str(source)!r}"
        )
        return cls._from_parts(params, metadata, where)
