"""``LSTMForecaster``: the thin stateful shell over the pure LSTM functions.

State lives here and only here: the fitted params, the encoding fitted on training
prices, the last window, the loss history. Everything it computes goes through pure,
compiled functions: ``prep.windows`` cuts the windows, ``prep.encodings`` encodes them,
``training.fit_arrays`` trains, ``stacked.run_stacked`` runs many models at once and
``encodings.forecast_prices`` forecasts.

One model's fit, many symbols' ``fit_many``, a vectorised backtest and calibration refits
all go through ``_prepare`` (windows, split, encoding) and ``_adopt`` (taking over a
trained result); only whether ``fit_arrays`` runs once or over a models axis differs.
"""

from __future__ import annotations

import datetime
import os
import pathlib
from collections.abc import Sequence
from typing import Any, NamedTuple, Self, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.forecasters import progress
from jaxlstm._src.forecasters.base import Forecaster, price_series
from jaxlstm._src.io import persistence
from jaxlstm._src.nn import lstm
from jaxlstm._src.prep import encodings, fingerprints, horizons, windows
from jaxlstm._src.xla_options import COMPILER_OPTIONS

#: ``metadata["model"]`` of a saved ``LSTMForecaster``.
MODEL_KIND = "LSTMForecaster"

_forecast_jit = jax.jit(
    encodings.forecast_prices, static_argnames=("network", "encoding", "steps"), compiler_options=COMPILER_OPTIONS
)


def _forecast_one_model(
    params: Any, state: Any, window: jax.Array, *, network: Any, encoding: Any, steps: int
) -> jax.Array:
    """One model's recursive price forecast (what ``run_stacked`` maps over models)."""
    return encodings.forecast_prices(network, params, encoding, state, window, steps)


class _Prepared(NamedTuple):
    """Training inputs of one series: price windows, split, fitted encoding and encoded arrays."""

    windows: np.ndarray
    following: np.ndarray
    n_train: int
    n_val: int
    encoding_state: dict[str, float]
    data: training.TrainData


class LSTMForecaster(Forecaster):
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
        encoding: ``"relative"`` (default: log price relative to each window's last price,
            scaled by the training log-return spread) or ``"minmax"`` (the seed's min-max
            scaled price levels); see ``jaxlstm.data.ENCODINGS``. Walk-forward backtests
            (``benchmarks/accuracy.py``) chose the default: min-max levels lost clearly to
            the naive forecast on BTC/USD and to "relative" on every series tried.
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.
        band, calibration: the prediction band (see ``jaxlstm.Forecaster``).

    Example::

        m = LSTMForecaster(epochs=50).fit(prices)
        fc = m.forecast("1d")        # Forecast(timestamps, predicted, lower, upper, 0.95, band=...)
        m.save("models/BTCUSD"); m2 = LSTMForecaster.load("models/BTCUSD")
    """

    name = "lstm"

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

    def _reset_fitted(self) -> None:
        super()._reset_fitted()
        self.params_: lstm.Params | None = None
        self.encoding_state_: dict[str, float] | None = None
        self.history_: dict[str, np.ndarray] | None = None
        self.metrics_: dict[str, Any] | None = None
        self.trained_at_: str | None = None

    # ------------------------------------------------------------------ configuration

    @property
    def model_config(self) -> lstm.LSTMConfig:
        """The network as an ``LSTMConfig``."""
        return lstm.LSTMConfig(input_size=1, hidden_size=self.hidden_size, output_size=1, num_layers=self.num_layers)

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
        return self.sequence_length + 1

    @property
    def window_length(self) -> int:
        return self.sequence_length

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
                ``sequence_length + 1`` finite positive prices.
            verbose: show a per-epoch progress bar on stderr.
            **fit_options: ``interval=`` for data without timestamps (see ``Forecaster.fit``).

        Returns:
            ``self``, with ``params_``, ``encoding_state_``, ``history_`` and ``metrics_`` set.
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        return super().fit(data, verbose=verbose, **fit_options)

    def _prepare(self, prices: np.ndarray) -> _Prepared:
        """Windows, chronological split and the encoding fitted on the training part only."""
        length = self.sequence_length
        price_windows, following = windows.sliding_windows(prices, length)
        price_windows, following = price_windows[..., 0], following[:, 0]
        fraction = self.validation_fraction if self.early_stopping else 0.0
        n_train, n_val = windows.chronological_split(price_windows.shape[0], fraction)
        encoding = self._encoding()
        state = encoding.fit(prices[: n_train + length])
        device = encodings.device_state(state)
        inputs = jnp.asarray(price_windows, jnp.float32)
        xs = encoding.encode_inputs(device, inputs)
        ys = encoding.encode_targets(device, inputs, jnp.asarray(following, jnp.float32)[:, None])
        if not (bool(jnp.all(jnp.isfinite(xs))) and bool(jnp.all(jnp.isfinite(ys)))):
            raise ValueError("data gives non-finite model inputs after encoding (are prices too extreme for float32?)")
        ones = jnp.ones((xs.shape[0],), jnp.float32)
        data = training.TrainData(
            xs[:n_train], ys[:n_train], ones[:n_train], xs[n_train:], ys[n_train:], ones[n_train:]
        )
        return _Prepared(price_windows, following, n_train, n_val, state, data)

    def _initial_state(self) -> tuple[lstm.Params, jax.Array]:
        """Initial params and the shuffling key, both derived from ``seed``."""
        key_init, key_train = jax.random.split(jax.random.key(self.seed))
        return lstm.init_params(key_init, self.model_config), key_train

    def _fit(self, prices: np.ndarray, verbose: bool = False, **fit_options: Any) -> None:
        if fit_options:
            raise TypeError(f"LSTMForecaster.fit got unexpected options {sorted(fit_options)}")
        prep = self._prepare(prices)
        params, key = self._initial_state()
        bar = progress.ProgressBar(self.epochs) if verbose else None
        tag = None if bar is None else progress.RELAY.open(bar)
        result = None
        try:
            result = training.fit_arrays_jit(
                key,
                params,
                prep.data,
                **self._fit_static(),
                callback=None if bar is None else progress.RELAY,
                callback_tag=None if tag is None else jnp.asarray(tag, jnp.int32),
            )
            result = training.to_host(jax.block_until_ready(result))
        finally:
            if bar is not None and tag is not None:
                progress.RELAY.close(tag)
                if result is None:
                    bar.close()
                else:
                    bar.close(int(result.epochs_run), str(result.stop_reason))
        self._adopt(prep, result)

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
            **self._validation_errors(prep.windows[n:], prep.following[n:]),
        }
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def _validation_errors(self, price_windows: np.ndarray, following: np.ndarray) -> dict[str, float | None]:
        """One-step MAE in price units on the held-back windows, with naive's for scale."""
        if price_windows.shape[0] == 0:
            return {"val_mae": None, "val_naive_mae": None}
        predicted = self._predict_many(price_windows, 1)[:, 0]
        return {
            "val_mae": float(np.mean(np.abs(predicted - following))),
            "val_naive_mae": float(np.mean(np.abs(price_windows[:, -1] - following))),
        }

    def _holdout_size(self) -> int | None:
        # One validation window per held-back target price.
        metrics = self.metrics_
        return None if metrics is None else int(metrics.get("n_val_windows") or 0)

    # ------------------------------------------------------------------ context

    def observe(self, data: Any, *, interval: Any = None) -> Self:
        """Moves the forecast origin to the end of ``data`` without retraining.

        A cached model keeps forecasting from the prices it was trained on; ``observe``
        hands it newer prices (any form ``fit`` accepts, at least ``sequence_length``) so
        ``forecast`` continues from them. The params and the fitted encoding are unchanged.

        Args:
            data: the newer prices.
            interval: their spacing when they have no timestamps (see ``Forecaster.fit``);
                otherwise the model keeps the interval it was trained with.

        Returns:
            ``self``.
        """
        self._check_fitted()
        prices, timestamps, spacing = price_series(data, "data", interval)
        prices = self._check_prices("data", prices, self.sequence_length, "to forecast from")
        self.prices_ = prices[-self.sequence_length :]
        # Plain prices carry no time: their forecasts have no timestamps (see base).
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        if spacing is not None:
            self.interval_ = spacing
        return self

    # ------------------------------------------------------------------ prediction

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many(window[None, :], steps)[0]

    def _predict_many(self, price_windows: Any, steps: int) -> np.ndarray:
        # Cast on the host: jnp.asarray(..., float32) of float64 data is a compiled convert
        # op, ~40 us, more than the one-step forecast itself.
        stack = np.asarray(np.stack(price_windows) if isinstance(price_windows, list) else price_windows, np.float32)
        out = _forecast_jit(
            self.model_config,
            self.params_,
            self._encoding(),
            self._device_state(),
            stack[..., -self.sequence_length :],
            steps,
        )
        return np.asarray(out, np.float64)

    def _device_state(self) -> dict[str, np.float32]:
        assert self.encoding_state_ is not None, "fitted models have an encoding state"
        return {k: np.float32(v) for k, v in self.encoding_state_.items()}

    @classmethod
    def _predict_together(
        cls, models: Sequence[Forecaster], windows_: Sequence[np.ndarray], steps: int, *, workers: int | None = None
    ) -> np.ndarray:
        """Forecasts of stacked models (groups of equal network and encoding) by ``run_stacked``."""
        lstms = [cast(LSTMForecaster, m) for m in models]
        out = np.empty((len(lstms), steps))
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, m in enumerate(lstms):
            groups.setdefault((m.model_config, m.encoding, m.sequence_length), []).append(i)
        for (network, encoding, length), members in groups.items():
            # Stacked on the host: one transfer per leaf instead of a jnp.stack dispatch each.
            params = jax.tree.map(
                lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *[lstms[i].params_ for i in members]
            )
            states = jax.tree.map(lambda *v: np.stack(v), *[lstms[i]._device_state() for i in members])
            stack = np.stack([np.asarray(windows_[i][-length:], np.float32) for i in members])
            static = {"network": network, "encoding": encodings.get_encoding(encoding), "steps": steps}
            rows = stacked.run_stacked(_forecast_one_model, (params, states, stack), static=static, workers=workers)
            out[members] = np.asarray(rows, np.float64)
        return out

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    # ------------------------------------------------------------------ persistence

    def _metadata(self) -> dict[str, Any]:
        self._check_fitted()
        assert self.encoding_state_ is not None and self.history_ is not None
        settings = self.get_params()
        return {
            "model": MODEL_KIND,
            "symbol": settings.pop("symbol"),
            "trained_at": self.trained_at_,
            "settings": settings,
            "encoding": {"name": self.encoding, "state": dict(self.encoding_state_)},
            "data": {
                "interval_seconds": None if self.interval_ is None else float(self.interval_ / np.timedelta64(1, "s")),
                "last_timestamp": None
                if self.last_timestamp_ is None
                else np.datetime_as_string(self.last_timestamp_, unit="ns"),
                "last_window": [float(p) for p in self._forecast_window()],
                "volatility": float(self.volatility_ or 0.0),
            },
            "metrics": self.metrics_,
            "history": {k: [float(x) for x in v] for k, v in self.history_.items()},
            # The steps the band is calibrated on: the loaded model has the same band.
            "calibration": self.calibration_state(self._band_steps),
            "trained_on": None if self.trained_on_ is None else self.trained_on_.to_json(),
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
            expected = forecaster._encoding().fit(np.ones(3))
            state = {k: validation.check_positive_float(f"encoding {k}", encoding["state"][k]) for k in expected}
            shapes = jax.eval_shape(lambda: lstm.init_params(jax.random.key(0), forecaster.model_config))
            params = jax.tree.map(jnp.asarray, params)
            if str(jax.tree.structure(params)) != str(jax.tree.structure(shapes)) or any(
                a.shape != b.shape for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(shapes))
            ):
                raise ValueError("params do not match the saved settings")
            data = metadata["data"]
            window = validation.as_float_array("last_window", data["last_window"], ndim=1)
            forecaster._check_window(window)
            seconds = data["interval_seconds"]
            interval_ns = (
                None if seconds is None else validation.check_positive_float("interval_seconds", seconds) * 1e9
            )
            if interval_ns is not None and interval_ns >= 2**62:
                raise ValueError(f"interval_seconds {seconds} is out of range")
            forecaster.params_ = params
            forecaster.encoding_state_ = state
            forecaster.prices_ = window
            forecaster.interval_ = (
                None if interval_ns is None else horizons.as_interval(np.timedelta64(round(interval_ns), "ns"))
            )
            stamp = data["last_timestamp"]
            forecaster.last_timestamp_ = None if stamp is None else np.datetime64(stamp, "ns")
            forecaster.volatility_ = validation.check_positive_float("volatility", data["volatility"], allow_zero=True)
            forecaster.metrics_ = dict(metadata["metrics"])
            forecaster.history_ = {k: np.asarray(v, np.float64) for k, v in dict(metadata["history"]).items()}
            forecaster.trained_at_ = metadata.get("trained_at")
            forecaster.restore_calibration(metadata["calibration"])
            # Models saved before fingerprints were recorded have none: their data is unknown.
            trained_on = metadata.get("trained_on")
            forecaster.trained_on_ = None if trained_on is None else fingerprints.DataFingerprint.from_json(trained_on)
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
