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

import dataclasses
import datetime
import functools
import os
import pathlib
import warnings
from collections.abc import Sequence
from typing import Any, NamedTuple, Self, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.forecasters import bands, continuation, intervals, lstm_state, population, progress
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.io import model_files as persistence
from jaxlstm._src.io.series import close_of
from jaxlstm._src.nn import networks
from jaxlstm._src.prep import encodings, seasons, windows
from jaxlstm._src.prep import features as feature_lib
from jaxlstm._src.prep import inputs as inputs_lib


def _forecast_one_model(
    params: Any, state: Any, window: jax.Array, *, network: Any, encoding: Any, steps: int
) -> jax.Array:
    """One model's recursive price forecast (what ``run_stacked`` maps over models)."""
    return encodings.forecast_prices(network, params, encoding, state, window, steps)


def _fit_one_model(
    key: jax.Array,
    params: Any,
    data: training.TrainData,
    opt_state: Any,
    tag: jax.Array,
    *,
    config: Any,
    network: Any,
    callback: Any = None,
) -> training.TrainResult:
    """One model's ``fit_arrays`` from its own optimiser state (what ``run_stacked`` maps over models).

    ``tag`` routes the per-epoch progress of a verbose fit (``progress.RELAY``, a static
    ``callback``); rows without a progress bar carry a tag no bar listens to.
    """
    return training.fit_arrays(
        key, params, data, config, network=network, opt_state=opt_state, callback=callback, callback_tag=tag
    )


def _direct_one_model(
    params: Any, state: Any, window: jax.Array, *, network: Any, inputs: inputs_lib.ModelInputs, steps: int
) -> jax.Array:
    """One model's direct multi-horizon forecast (what ``run_stacked`` maps over models)."""
    return inputs_lib.forecast_direct(network, params, inputs, state, window, steps)


def _encoded(
    model_inputs: inputs_lib.ModelInputs, state: Any, raw_windows: Any, closes: Any, future: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Encoded inputs ``[N, time, features]`` and targets ``[N, H]`` (float32, host) of ``N`` raw windows.

    The windows are padded to their shape bucket (copies of the first, dropped after) before
    they reach compiled code, so that series of other lengths reuse the compiled encoder.

    Raises:
        ValueError: an encoded value is not finite.
    """
    count = raw_windows.shape[0]
    size = windows.bucket_size(count, windows.MIN_FORECAST_BUCKET)
    bucket = functools.partial(windows.pad_rows, size=size, fill="first")
    inputs = _encode_jit(model_inputs, state, bucket(np.asarray(raw_windows, np.float32)))
    targets = model_inputs.encoding.encode_targets(
        state["encoding"], jnp.asarray(bucket(closes), jnp.float32), jnp.asarray(bucket(future), jnp.float32)
    )
    xs, ys = np.asarray(inputs)[:count], np.asarray(targets)[:count]
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("data gives non-finite model inputs after encoding (are prices too extreme for float32?)")
    return xs, ys


_encode_jit = jax.jit(inputs_lib.ModelInputs.encode, static_argnums=0)


#: The learning rate compiled into the optimiser of every fit: each model's own rate (and
#: weight decay) is injected into its optimiser state, so models that differ only in those
#: share one compiled program and train together in one call.
_COMPILED_LEARNING_RATE = 1e-3


class Prepared(NamedTuple):
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
            scaled price levels); or ``"log"``, ``"window"`` (see ``jaxlstm.data``). Walk-forward backtests
            (``benchmarks/accuracy.py``) chose the default: min-max levels lost clearly to
            the naive forecast on BTC/USD and to "relative" on every series tried.
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.
        band, calibration: the prediction band (see ``jaxlstm.Forecaster``).
        weight_decay: decoupled weight decay (AdamW); 0 is plain Adam.
        ensemble: ``K`` members trained together in one compiled call (seeds ``seed`` to
            ``seed + K - 1``), or a list of member settings dicts (keys ``seed``,
            ``learning_rate``, ``weight_decay``; see ``population``). With ``K > 1`` every
            params leaf has a leading ``[K]`` members axis and forecasts combine the members.
        combine: ``"mean"`` or ``"median"`` of the members' price forecasts.
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
        season_length: None (default: no season), an integer ``m >= 2``, or ``"auto"``: the
            season ``prep.seasons.detect_season`` finds in the log closes of the training
            part (the prices before the held-back tail; with a spacing, only its calendar
            seasons are tested), resolved at each fit into ``season_length_``. With a season
            the window covers ``1.25 * max(H, m)`` prices (``H``: ``direct_steps``, else 1)
            when ``sequence_length`` is shorter (``input_length``); a detected season the
            data is too short to train with is not used.

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
        learning_rate: float = 3e-4,
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
        band: str = "adaptive",
        calibration: str = "both",
        weight_decay: float = 0.0,
        ensemble: int | Sequence[dict[str, Any]] = 1,
        combine: str = "mean",
        architecture: str = "lstm",
        features: Sequence[str] = ("close",),
        direct_steps: int | None = None,
        num_heads: int = 4,
        season_length: int | str | None = None,
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
        self.weight_decay = validation.check_positive_float("weight_decay", weight_decay, allow_zero=True)
        self.ensemble = population.check_ensemble(ensemble)
        self.combine = population.check_combine(combine)
        self._member_settings = population.member_settings(
            self.ensemble, self.seed, self.learning_rate, self.weight_decay
        )
        self.architecture = networks.check_architecture(architecture)
        self.features = feature_lib.check_features(features)
        self.direct_steps = (
            None if direct_steps is None else validation.check_positive_int("direct_steps", direct_steps)
        )
        self.num_heads = validation.check_positive_int("num_heads", num_heads)
        self.season_length = seasons.check_season_length(season_length)
        #: The season in use: ``season_length``, or what the last fit detected for ``"auto"`` (None: none).
        self.season_length_: int | None = None if self.season_length == "auto" else cast(int | None, season_length)
        validation.check_network_sizes(self.hidden_size, self.num_layers, self.input_length, self.direct_steps)
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
        #: Optimiser state(s) at the end of the last fit or update (leading ``[K]`` axis for ensembles).
        self.opt_state_: Any = None
        #: The trials of the search that chose this model's settings (``jaxlstm.tune``), else None.
        self.tuning_: Any = None
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
        return inputs_lib.ModelInputs(self.features, self._encoding(), self.input_length)

    @property
    def input_length(self) -> int:
        """Steps the network reads: ``sequence_length``, at least ``1.25 * max(H, season_length_)`` with a season."""
        return seasons.default_window(self.sequence_length, self.direct_steps or 1, self.season_length_)

    def use_season(self, season: int | None) -> None:
        """Sets ``season_length_`` (and the window it implies) of an unfitted model: what a fit detected or a saved model used.

        ``fit`` and ``load`` call it; set by hand, the params would not match the windows.
        """
        self.__dict__["season_length_"] = season
        self.__dict__.pop("model_inputs", None)

    def resolve_season(self, series: np.ndarray, interval: Any = None) -> int | None:
        """For ``season_length="auto"``: detects the season of a validated series' training part and uses it.

        The training part is the series before the tail a fit holds back (``planned_holdout``
        with no season); nothing after it moves the season. A season whose window leaves
        the series too short to fit (``min_fit_length`` plus one held-back window) is dropped.

        Returns:
            ``season_length_``.
        """
        if self.season_length != "auto":
            return self.season_length_
        self.use_season(None)
        n = series.shape[0]
        train = close_of(series)[: n - (self.planned_holdout(n) or 0)]
        found = seasons.detect_season(np.log(train), interval=interval) if train.shape[0] > 2 else None
        self.use_season(found)
        if found is not None and n < self.min_fit_length + 1:
            self.use_season(None)
        return self.season_length_

    @classmethod
    def fit_rows(
        cls,
        models: Sequence[Forecaster],
        series: Sequence[np.ndarray],
        *,
        interval: Any = None,
        **options: Any,
    ) -> None:
        # "auto" seasons are resolved first: the held-back tail and the calibration cut
        # that the base computes depend on the window the season implies.
        spacing = list(interval) if isinstance(interval, (list, tuple)) else [interval] * len(models)
        for model, prices, step in zip(models, series, spacing, strict=False):
            if isinstance(model, LSTMForecaster):
                model.resolve_season(prices, step)
        super().fit_rows(models, series, interval=interval, **options)

    def _unfitted_copy(self) -> Forecaster:
        # A head-refit calibration copy reads the same windows as the model it calibrates.
        copy = cast(LSTMForecaster, super()._unfitted_copy())
        copy.use_season(self.season_length_)
        return copy

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
            weight_decay=self.weight_decay,
        )

    @property
    def band_steps(self) -> int:  # type: ignore[override]
        """Forecast steps the band is calibrated on: ``Forecaster.band_steps``, at most what a direct head emits."""
        return min(Forecaster.band_steps, self.direct_steps or Forecaster.band_steps)

    @property
    def n_members(self) -> int:
        """Members of the ensemble (1 for a single model)."""
        return len(self._member_settings)

    @property
    def min_fit_length(self) -> int:
        return self.window_length + (self.direct_steps or 1)

    @property
    def window_length(self) -> int:
        """Candles one forecast reads: ``sequence_length`` plus the history the features need first."""
        return self.model_inputs.window_length

    def _encoding(self) -> encodings.Encoding:
        return encodings.get_encoding(self.encoding)

    def _fit_static(self, **changes: Any) -> dict[str, Any]:
        """The static arguments of ``fit_arrays`` (models with equal ones train in one call).

        The learning rate and weight decay are not among them: each model (and member)
        carries its own in its optimiser state (``_member_start``). AdamW is compiled in
        when any member decays its weights (a member with 0 then gets exactly Adam's steps).

        Args:
            **changes: ``TrainConfig`` fields to replace (``update`` and ``tune`` change the
                epochs and the stopping rules).
        """
        decay = any(m["weight_decay"] > 0 for m in self._member_settings)
        config = dataclasses.replace(
            self.train_config, learning_rate=_COMPILED_LEARNING_RATE, weight_decay=1.0 if decay else 0.0, **changes
        )
        return {"config": config, "network": self.model_config}

    def _member_start(self, member: int) -> tuple[Any, jax.Array, Any]:
        """Member ``member``'s initial params, shuffling key and optimiser state (from its seed and rates)."""
        settings = self._member_settings[member]
        key_init, key_train = jax.random.split(jax.random.key(settings["seed"]))
        params = self.model_config.init(key_init)
        return params, key_train, self._fresh_opt_state(params, member)

    def _fresh_opt_state(self, params: Any, member: int) -> Any:
        """A new optimiser state for ``params`` with member ``member``'s learning rate and weight decay."""
        settings = self._member_settings[member]
        optimizer = training.make_optimizer(self._fit_static()["config"])
        hyper = {"learning_rate": settings["learning_rate"]}
        if any(m["weight_decay"] > 0 for m in self._member_settings):
            hyper["weight_decay"] = settings["weight_decay"]
        return training.init_opt_state(optimizer, params, **hyper)

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
            **fit_options: ``interval=`` for data without timestamps and ``gaps=`` for gaps in dated data
                (see ``Forecaster.fit``).

        Returns:
            ``self``, with ``params_``, ``encoding_state_``, ``history_`` and ``metrics_`` set.
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        return super().fit(data, verbose=verbose, **fit_options)

    def prepare(self, series: np.ndarray) -> Prepared:
        """The training inputs of a validated series (see ``_prepare``), for ``train_prepared``.

        An unfitted model with ``season_length="auto"`` resolves its season here first
        (without a spacing: every lag is scanned); a fitted one keeps its own.
        """
        if self.params_ is None:
            self.resolve_season(series)
        return self._prepare(series)

    @classmethod
    def train_prepared(
        cls,
        models: Sequence[LSTMForecaster],
        preps: Sequence[Prepared],
        epochs: Sequence[int],
        *,
        salt: int = 0,
        workers: int | None = None,
        devices: Sequence[jax.Device] | None = None,
    ) -> int:
        """Trains each model ``epochs[i]`` more epochs on its prepared data, all in one runner call per group.

        An unfitted model starts from its seeds; a fitted one continues from its params and
        optimiser state (its shuffling key folded with ``salt``, so that a continuation
        does not replay the first run's minibatch order). Every member of every model is a
        row of ``population.train_rows``; each model then takes over its results (params, history,
        metrics), as after ``fit``, without a band. ``jaxlstm.tune`` trains its rungs here.

        Returns:
            The number of runner calls (groups of equal static settings and shapes).
        """
        rows, owners = [], []
        for i, (model, prep, count) in enumerate(zip(models, preps, epochs, strict=True)):
            static = model._fit_static(epochs=count)
            for j in range(model.n_members):
                if model.params_ is None:
                    start = model._member_start(j)
                else:
                    key = jax.random.fold_in(model._member_start(j)[1], salt)
                    start = (model._member_params()[j], key, model._member_opt_state(j))
                rows.append((static, prep.data, start))
                owners.append(i)
        results = population.train_rows(_fit_one_model, rows, workers=workers, devices=devices)
        done: dict[int, list[training.TrainResult]] = {}
        for i, result in zip(owners, results, strict=True):
            done.setdefault(i, []).append(result)
        for i, found in done.items():
            models[i]._adopt(preps[i], found)
        return len({(tuple(sorted(static.items())), np.shape(data.xs)[1:]) for static, data, _ in rows})

    def _prepare(self, series: np.ndarray) -> Prepared:
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
        count = raw_windows.shape[0]
        xs, ys = _encoded(model_inputs, state, raw_windows, closes, future)
        ones = np.ones((count,), np.float32)
        start = count - n_val
        # Both parts padded to the shape bucket of the window count (zero-weight rows), so
        # that series of other lengths reuse the compiled trainer.
        size, size_val = windows.bucketed_split(count, fraction, gap=steps - 1)
        data = training.TrainData(
            *windows.pad_rows((xs[:n_train], ys[:n_train], ones[:n_train]), size),
            *windows.pad_rows((xs[start:], ys[start:], ones[start:]), size_val),
        )
        return Prepared(raw_windows, future[:, 0], n_train, n_val, encoding_state, feature_state, data)

    def _fit(self, prices: np.ndarray, verbose: bool = False, **fit_options: Any) -> None:
        type(self)._fit_together([self], [prices], verbose=verbose, **fit_options)

    @classmethod
    def _fit_together(
        cls,
        models: Sequence[Forecaster],
        prices: Sequence[np.ndarray],
        *,
        workers: int | None = None,
        devices: Sequence[jax.Device] | None = None,
        verbose: bool = False,
        **fit_options: Any,
    ) -> None:
        """Trains many models (and every ensemble member) in compiled ``vmap`` calls, one per group of equal static settings.

        Series of different lengths are padded with zero-weight windows, which leave each
        model as a lone ``fit`` would train it (to float rounding). With ``verbose``
        the first model's first member draws a per-epoch progress bar.
        """
        if fit_options:
            raise TypeError(f"LSTMForecaster.fit got unexpected options {sorted(fit_options)}")
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        lstms = [cast(LSTMForecaster, m) for m in models]
        preps = [m._prepare(p) for m, p in zip(lstms, prices, strict=True)]
        rows = [
            (m._fit_static(), prep.data, m._member_start(j))
            for m, prep in zip(lstms, preps)
            for j in range(m.n_members)
        ]
        bar = progress.ProgressBar(lstms[0].epochs) if verbose else None
        tag = None if bar is None else progress.RELAY.open(bar)
        results = None
        try:
            results = population.train_rows(
                _fit_one_model,
                rows,
                workers=workers,
                devices=devices,
                progress_tag=tag,
                progress_callback=progress.RELAY,
            )
        finally:
            if bar is not None and tag is not None:
                progress.RELAY.close(tag)
                if results is None:
                    bar.close()
                else:
                    bar.close(int(results[0].epochs_run), str(results[0].stop_reason))
        found = iter(results)
        for m, prep in zip(lstms, preps):
            m._adopt_trained(prep, [next(found) for _ in range(m.n_members)])

    def _adopt_trained(self, prep: Prepared, results: Sequence[training.TrainResult]) -> None:
        """``_adopt`` for a fit: a member that diverged is dropped (with a warning), a model whose every member did raises.

        A member diverged when its loss was not finite at its last epoch, or when its
        one-step forecasts of the held-back windows (the last training windows without
        any) are not finite positive prices. The members kept become the ``ensemble``
        setting, so that the settings keep describing the params (and ``save`` and
        ``load`` agree). A model that raises is left unfitted.
        """
        members = list(self._member_settings)
        ensemble = self.ensemble
        kept = [j for j, r in enumerate(results) if int(r.epochs_run) > 0 and np.isfinite(r.train_loss[-1])]
        while kept:  # each pass adopts the members left and checks their forecasts
            self._set_members(ensemble if len(kept) == len(members) else tuple(members[j] for j in kept))
            self._adopt(prep, [results[j] for j in kept])
            healthy = self._healthy_members(prep)
            if healthy.all():
                break
            kept = [j for j, ok in zip(kept, healthy, strict=True) if ok]
        if not kept:
            self._set_members(ensemble)
            self._reset_fitted()
            rates = ", ".join(f"{r:g}" for r in sorted({m["learning_rate"] for m in members}))
            who = "" if len(members) == 1 else f" in all {len(members)} ensemble members"
            raise ValueError(
                f"training diverged{who} with learning_rate={rates}: a non-finite loss, or forecasts of the "
                "held-back windows that are not finite positive prices; try a lower learning_rate (the default is "
                f"{self.default_params()['learning_rate']:g}), early_stopping=True or fewer epochs, and check the "
                "data for extreme or broken prices"
            )
        if len(kept) < len(members):
            dropped = [members[j] for j in range(len(members)) if j not in kept]
            warnings.warn(
                f"{len(dropped)} of {len(members)} ensemble members diverged in training and were dropped "
                f"({dropped}); the model keeps {len(kept)}, listed by its ensemble setting; a lower learning_rate "
                "may keep them",
                UserWarning,
                stacklevel=2,
            )

    def _set_members(self, ensemble: int | tuple[dict[str, Any], ...]) -> None:
        """Replaces the ``ensemble`` setting: the one change of a setting after construction, made by a fit."""
        self.__dict__["ensemble"] = ensemble
        self._member_settings = population.member_settings(ensemble, self.seed, self.learning_rate, self.weight_decay)

    def _healthy_members(self, prep: Prepared) -> np.ndarray:
        """``[K]`` whether each member forecasts finite positive prices one step after the held-back windows."""
        n = prep.n_train
        check = prep.windows[n + prep.gap :] if prep.n_val else prep.windows[:n][-64:]
        rows = self._member_rows(check, 1)
        return np.all(np.isfinite(rows) & (rows > 0), axis=(1, 2))

    def _adopt(self, prep: Prepared, results: Sequence[training.TrainResult]) -> None:
        """Takes over finished training runs (one per member): params, optimiser states, history, metrics.

        An ensemble's history is the members' mean loss per epoch (over the members still
        training) and its metrics list each member's epochs.
        """
        if any(r.epochs_run == 0 for r in results):
            raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
        n = prep.n_train
        if len(results) == 1:
            self.params_ = jax.tree.map(jnp.asarray, results[0].params)
            self.opt_state_ = jax.tree.map(np.asarray, results[0].opt_state)
        else:
            self.params_ = jax.tree.map(jnp.asarray, population.stack_trees([r.params for r in results]))
            self.opt_state_ = population.stack_trees([r.opt_state for r in results])
        self.encoding_state_ = prep.encoding_state
        self.feature_state_ = prep.feature_state
        longest = max(int(r.epochs_run) for r in results)
        padded = lambda key: np.stack(
            [
                np.pad(
                    np.asarray(getattr(r, key), np.float64), (0, longest - int(r.epochs_run)), constant_values=np.nan
                )
                for r in results
            ]
        )
        train_loss = np.nanmean(padded("train_loss"), axis=0)
        val_loss = np.nanmean(padded("val_loss"), axis=0) if prep.n_val else np.zeros((0,))
        self.history_ = {"train_loss": train_loss, "val_loss": val_loss}
        reasons = list(dict.fromkeys(str(r.stop_reason) for r in results))
        members = (
            {"member_epochs_run": [int(r.epochs_run) for r in results], "members": len(results)}
            if len(results) > 1
            else {}
        )
        self.metrics_ = {
            "epochs_run": longest,
            "best_epoch": int(results[0].best_epoch),
            "stop_reason": "/".join(reasons),
            "final_train_loss": float(np.mean([r.train_loss[-1] for r in results])),
            "best_val_loss": float(np.mean([np.min(r.val_loss) for r in results])) if prep.n_val else None,
            **members,
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

    def holdout_size(self) -> int | None:
        # One validation window per held-back target close, and a direct model's window
        # also targets the H - 1 closes after its first.
        metrics = self.metrics_
        if metrics is None:
            return None
        n_val = int(metrics.get("n_val_windows") or 0)
        return n_val + (self.direct_steps or 1) - 1 if n_val else 0

    def planned_holdout(self, n: int) -> int | None:
        # What holdout_size will be after a fit on n prices (the split _prepare makes).
        steps = self.direct_steps or 1
        count = n - self.window_length - steps + 1
        if count < 1:
            return None
        _, n_val = windows.chronological_split(
            count, self.validation_fraction if self.early_stopping else 0.0, gap=steps - 1
        )
        return n_val + steps - 1 if n_val else 0

    # ------------------------------------------------------------------ context

    def observe(self, data: Any, *, interval: Any = None) -> Self:
        """Moves the forecast origin to the end of ``data`` without retraining.

        A cached model keeps forecasting from the prices it was trained on; ``observe``
        hands it newer prices (any form ``fit`` accepts, at least ``window_length``) so
        ``forecast`` continues from them. The params and the fitted encoding are unchanged.

        Args:
            data: the newer prices.
            interval: their spacing when they have no timestamps (see ``Forecaster.fit``);
                otherwise the model keeps the interval it was trained with.

        Returns:
            ``self``.
        """
        self._check_fitted()
        series, timestamps, spacing = self._read_series(data, "data", interval)
        series = self.check_prices("data", series, self.window_length, "to forecast from")
        self.prices_ = series[-self.window_length :]
        # Plain prices carry no time: their forecasts have no timestamps (see base).
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        if spacing is not None:
            self.interval_ = spacing
        return self

    def update(self, data: Any, *, epochs: int = 5, interval: Any = None, allow_gap: bool = False) -> Self:
        """Continues training on the prices that came after the ones the model has seen.

        The new prices must continue the model's last one (checked whenever the model's
        prices are dated, i.e. ``last_timestamp_`` is set):

        * dated data must be at the model's interval and its first new price one
          interval after ``last_timestamp_``. Rows at or before ``last_timestamp_``
          (an overlap) are dropped with a warning that counts them, after their closes
          are checked against the prices the model holds: the whole fitted series after
          ``fit``, the last window after ``load`` (the overlap must hold the model's last
          timestamp, and a close that differs means other data: refused). Data that
          ends at or before ``last_timestamp_`` is refused; so is a gap (a missing
          step between the last price and the new ones, or among the new ones) unless
          ``allow_gap=True``, which trains across it as if it were one step.
        * undated data (a list or array) is refused unless ``interval=`` says that the
          prices continue right after ``last_timestamp_`` at that interval, which must be
          the model's.

        A model fitted on undated prices has no time to check against: any prices are
        taken as its continuation (those with timestamps give it a ``last_timestamp_``).
        ``last_timestamp_`` moves to the last new price.

        Online learning without looking back over all history: the new prices, preceded by
        the model's own last window, give one window per new price; those windows (the
        newest only) train the current params, continuing from the saved optimiser state
        (its Adam moments and step count), for ``epochs`` epochs with no early stopping.
        Every ensemble member is updated, together in one call.

        Encoding policy: the encoding fitted by ``fit`` is kept. The network learned its
        mapping in those units; refitting the scale on a few new prices would change what
        every input means. For ``encoding="relative"`` (log returns over a fixed scale) new
        price levels need no refit; with ``"minmax"`` prices beyond the fitted range are
        extrapolated, and ``fit`` is the way to rescale.

        Calibration: before training, the model forecasts from each origin among the new
        prices; those errors are out of sample and join the conformal residuals (the most
        recent ``_max_calibration_origins`` are kept), so the band follows what the model
        does on the newest data.

        Args:
            data: the new prices (any form ``fit`` accepts), at least 1 (``direct_steps``
                for a direct model) after the ones the model saw.
            epochs: passes over the new windows, >= 1.
            interval: for undated data: the prices continue right after the model's last
                timestamp at this interval (``"1h"``...), which must be the model's.
            allow_gap: train on dated data that does not continue the last price without
                a gap (each gap is then learned as one step).

        Returns:
            ``self``, with ``params_``, ``opt_state_``, ``prices_``, ``last_timestamp_`` and
            ``metrics_["updates"]`` updated.

        Raises:
            ValueError: data that does not continue the model's prices as above, or too
                few new prices; the model is then unchanged.
        """
        self._check_fitted()
        epochs = validation.check_positive_int("epochs", epochs)
        if not isinstance(allow_gap, bool):
            raise TypeError(f"allow_gap must be a bool, got {type(allow_gap).__name__} {allow_gap!r}")
        new, timestamps, spacing = self._read_series(data, "data", interval)
        steps = self.direct_steps or 1
        new = self.check_prices("data", new, steps, "to update on")
        assert self.prices_ is not None
        held = continuation.Held(self.prices_, self.last_timestamp_, self.interval_, self.input_columns)
        new, last_timestamp, spacing = continuation.continuation(
            held, new, timestamps, spacing, interval is not None, allow_gap
        )
        if new.shape[0] < steps:
            raise ValueError(
                f"data must hold at least {steps} prices after the model's last timestamp to update {self!r}, "
                f"got {new.shape[0]}"
            )
        assert self.prices_ is not None and self.encoding_state_ is not None and self.feature_state_ is not None
        length = self.window_length
        series = np.concatenate([self.prices_[-length:], new])
        model_inputs = self.model_inputs
        if series.ndim == 2:
            feature_lib.check_values(self.features, model_inputs.columns, series)
        calibration = self._extended_calibration(series, new.shape[0])
        # One window per new target (a direct model's window targets the next direct_steps).
        raw_windows, future = windows.sliding_windows(series, length, horizon=steps)
        if series.ndim == 1:
            raw_windows = raw_windows[..., 0]
        closes, future = model_inputs.closes(raw_windows), future[..., 0]
        state = model_inputs.device_state(self.encoding_state_, self.feature_state_)
        xs, ys = _encoded(model_inputs, state, raw_windows, closes, future)
        xs_pad, ys_pad, ones = windows.pad_rows(
            (xs, ys, np.ones((xs.shape[0],), np.float32)), windows.bucket_size(len(xs))
        )
        update_data = training.TrainData(xs_pad, ys_pad, ones, xs[:0], ys[:0], ones[:0])
        count = int((self.metrics_ or {}).get("updates", 0)) + 1
        static = self._fit_static(epochs=epochs, patience=None, loss_threshold=None, restore_best=False)
        starts = []
        for j, params in enumerate(self._member_params()):
            opt_state = self._member_opt_state(j)
            if opt_state is None:
                opt_state = self._fresh_opt_state(params, j)
            key = jax.random.fold_in(jax.random.key(self._member_settings[j]["seed"]), count)
            starts.append((static, update_data, (params, key, opt_state)))
        results = population.train_rows(_fit_one_model, starts)
        if any(r.epochs_run < epochs for r in results):
            raise ValueError("update diverged (non-finite loss); the model is unchanged, check the data")
        params = [r.params for r in results]
        states = [r.opt_state for r in results]
        many = self.n_members > 1
        self.params_ = jax.tree.map(jnp.asarray, population.stack_trees(params) if many else params[0])
        self.opt_state_ = population.stack_trees(states) if many else jax.tree.map(np.asarray, states[0])
        assert self.metrics_ is not None
        self.metrics_ = {
            **self.metrics_,
            "updates": count,
            "update_train_loss": float(np.mean([r.train_loss[-1] for r in results])),
        }
        self.prices_ = series
        self.last_timestamp_ = last_timestamp
        self.interval_ = spacing
        # The models that scored the old residuals belong to the old params: from now on
        # the residuals are fixed arrays, as in a model restored from a file.
        self.calibration_models_ = {}
        self.band_ = calibration
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return self

    def _member_opt_state(self, member: int) -> Any:
        """Member ``member``'s optimiser state, or None when the model has none (saved before it was kept)."""
        if self.opt_state_ is None:
            return None
        return self.opt_state_ if self.n_members == 1 else population.tree_row(self.opt_state_, member)

    def _extended_calibration(self, series: np.ndarray, count: int) -> bands.Band:
        """The band of the calibration residuals so far plus the current model's out-of-sample errors on ``count`` new prices.

        ``series`` is the model's last window followed by the new prices; one row per
        origin among the new prices, NaN past the new data. The most recent
        ``_max_calibration_origins`` rows are kept.
        """
        assert self.band_ is not None, "fitted models have a band"
        kind = bands.band_class(self.band)
        if not kind.needs_residuals:
            return self.band_
        steps = self.band_steps
        length = self.window_length
        origins = np.arange(length, series.shape[0])
        assert origins.shape[0] == count
        fresh = self._predict_many(windows.windows_before(series, origins, length), steps)
        index = origins[:, None] + np.arange(steps)[None, :]
        closes = close_of(series)
        actual = np.where(index < closes.shape[0], closes[np.minimum(index, closes.shape[0] - 1)], np.nan)
        new_rows = intervals.log_ratio_residuals(actual, fresh)
        merged = {}
        for source in self.calibration_sources():
            old = self.band_.residuals.get(source)
            if old is None or old.shape[1] < steps:  # restored with fewer steps: start afresh
                old = np.zeros((0, steps))
            merged[source] = np.concatenate([old[:, :steps], new_rows])[-self._max_calibration_origins :]
        return kind(merged, self.volatility_ or 0.0)

    # ------------------------------------------------------------------ prediction

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many(window[None, :], steps)[0]

    def _predict_many(self, price_windows: Any, steps: int) -> np.ndarray:
        return type(self)._predict_rows([self], [price_windows], steps)[0]

    def member_forecasts(self, price_windows: Any, steps: int) -> np.ndarray:
        """Every member's price forecasts from each window, before they are combined.

        Args:
            price_windows: ``[N, time]`` windows (``[N, time, len(input_columns)]`` for a
                model with features), or a list of such windows; at least ``window_length``
                candles each (the last ``window_length`` are read).
            steps: forecast steps.

        Returns:
            ``[K, N, steps]`` float64 (``K = 1`` for a single model), from one call of the runner.

        Raises:
            ValueError: a member forecasts a non-finite or non-positive price (as ``forecast`` does).
        """
        self._check_fitted()
        steps = validation.check_steps(steps)
        return self.check_forecast(self._member_rows(price_windows, steps))

    def _member_rows(self, price_windows: Any, steps: int) -> np.ndarray:
        """``member_forecasts`` unchecked (a non-finite value stays in: the callers decide what it means)."""
        return type(self)._member_predictions([self], [price_windows], steps)[0]

    @classmethod
    def _predict_rows(
        cls, models: Sequence[Forecaster], windows_: Sequence[Any], steps: int, *, workers: int | None = None
    ) -> list[np.ndarray]:
        """Each model's ``[N_i, steps]`` forecasts, its members combined (see ``_member_predictions``)."""
        lstms = [cast(LSTMForecaster, m) for m in models]
        rows = cls._member_predictions(lstms, windows_, steps, workers=workers)
        return [population.combine_members(r, m.combine) if m.n_members > 1 else r[0] for m, r in zip(lstms, rows)]

    @classmethod
    def _member_predictions(
        cls, models: Sequence[LSTMForecaster], windows_: Sequence[Any], steps: int, *, workers: int | None = None
    ) -> list[np.ndarray]:
        """``[K_i, N_i, steps]`` member forecasts of many models: one ``run_stacked`` call per group.

        A group is the models of one network, inputs, forecast kind and padded window count
        (``prep.windows.bucket_size``: copies of a window whose results are dropped); each of their
        members is a row.
        """
        plans = [m._forecast_plan(steps) for m in models]
        stacks = []
        for m, w in zip(models, windows_, strict=True):
            # Cast on the host: jnp.asarray(..., float32) of float64 data is a compiled convert op.
            stack = np.asarray(np.stack(w) if isinstance(w, list) else w, np.float32)
            stacks.append(stack[:, -m.window_length :])
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, (function, static, _) in enumerate(plans):
            # Window counts are padded to their shape bucket: rows of very different counts (a
            # held-back tail of 50 origins, a head refit's 500) run apart rather than padded together.
            count = windows.bucket_size(stacks[i].shape[0], windows.MIN_FORECAST_BUCKET)
            groups.setdefault((function, tuple(static.items()), models[i].window_length, count), []).append(i)
        out: list[Any] = [None] * len(models)
        for (function, static, _, count), members in groups.items():
            owners = [i for i in members for _ in range(models[i].n_members)]
            # One row per model and ensemble member, stacked on the host: one transfer per leaf.
            params = population.stack_trees([tree for i in members for tree in models[i]._member_params()])
            states = jax.tree.map(lambda *v: np.stack(v), *[plans[i][2] for i in owners])
            stack = np.stack([windows.pad_rows(stacks[i], count, fill="first") for i in owners])
            rows = np.asarray(
                stacked.run_stacked(function, (params, states, stack), static=dict(static), workers=workers),
                np.float64,
            )
            first = 0
            for i in members:
                k = models[i].n_members
                out[i] = rows[first : first + k, : stacks[i].shape[0]]
                first += k
        return out

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

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> Any:
        """The band of ``Forecaster``; an ensemble's is also never narrower than its members' own range.

        The conformal band calibrates the combined forecast's errors; where the members
        disagree more than that band allows, it is widened to their range
        (``intervals.MEMBERS_RANGE`` ends ``Forecast.band``, for every forecast of an ensemble,
        so the method is one).
        """
        forecast = super()._forecast_from(predicted, confidence)
        if self.n_members == 1 or self.band == "volatility":
            return forecast
        members = self.member_forecasts(self.forecast_window()[None], predicted.shape[0])[:, 0]
        return dataclasses.replace(
            forecast,
            lower=np.minimum(forecast.lower, members.min(axis=0)),
            upper=np.maximum(forecast.upper, members.max(axis=0)),
            band=f"{forecast.band}{intervals.MEMBERS_RANGE}",
        )

    def _member_params(self) -> list[Any]:
        """Each member's params (one entry for a single model)."""
        if self.n_members == 1:
            return [self.params_]
        return [population.tree_row(self.params_, j) for j in range(self.n_members)]

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    def check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        if self.features == (feature_lib.CLOSE,):
            return super().check_prices(name, value, minimum, purpose)
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
                f"{self.input_length} steps the network reads"
                + (f", and the head forecasts {self.direct_steps} steps" if purpose == "to fit" else "")
            )
        return super().check_prices(name, value, minimum, purpose)

    def check_window(self, window: Any) -> np.ndarray:
        # Models that read several columns also take a window as candles (a DataFrame,
        # OHLCV, ccxt rows): its last window_length rows. An array is [time, columns].
        if len(self.input_columns) > 1 and not isinstance(window, np.ndarray) and not isinstance(window, jax.Array):
            window = self._read_series(window, "window")[0][-self.window_length :]
        return super().check_window(window)

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Saves the fitted model as a folder (orbax params + ``metadata.json``), atomically.

        The previous model at ``path`` stays intact until the new one is complete.

        Raises:
            ValueError: the model's settings and fitted state disagree (what ``load`` would
                report as damaged); nothing is written.

        Returns:
            The model folder.
        """
        return persistence.save_model(path, *lstm_state.saved_parts(self))

    def params_template(self) -> Any:
        """Shapes and dtypes of ``params_`` (with the members axis of an ensemble)."""
        one = jax.eval_shape(lambda: self.model_config.init(jax.random.key(0)))
        return lstm_state.with_members(one, self.n_members)

    def opt_state_template(self) -> Any:
        """Shapes, dtypes and structure of ``opt_state_`` (with the members axis of an ensemble)."""
        one = jax.eval_shape(lambda: self._fresh_opt_state(self.model_config.init(jax.random.key(0)), 0))
        return lstm_state.with_members(one, self.n_members)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LSTMForecaster:
        """Loads a model saved with ``save``; checksums and format version are verified.

        Raises:
            FileNotFoundError: nothing at ``path``.
            ValueError: damaged files, another format version, or not an LSTMForecaster.
        """
        params, metadata = persistence.load_model(path)
        return lstm_state.from_parts(cls, params, metadata, f"model at {str(path)!r}")

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The seed's single-file export: metadata and weights in one sealed JSON document.

        Args:
            path: also write the document there atomically, when given.

        Returns:
            The JSON text.
        """
        return persistence.export_json(*lstm_state.saved_parts(self), path)

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
        return lstm_state.from_parts(cls, params, metadata, where)
