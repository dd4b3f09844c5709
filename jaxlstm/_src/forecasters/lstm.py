"""``LSTMForecaster``: the settings of a network forecaster, and the glue that hands them to the modules that work.

State lives here and only here: the fitted params, the encoding (and feature scaling)
fitted on training data, the last window, the loss history. The work is done elsewhere:
``prepared`` turns a series into training arrays, ``population.Members`` starts each
ensemble member, ``rows`` runs every fit and forecast as rows of ``stacked.run_stacked``,
``continuation`` holds ``update``'s rules, ``bands`` the band, ``lstm_state`` the saved
format. The network is any of ``nn.networks.ARCHITECTURES``; nothing here depends on which.
"""

from __future__ import annotations

import datetime
import functools
import warnings
from collections.abc import Sequence
from typing import Any, Self, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training, validation
from jaxlstm._src.forecasters import (
    bands,
    continuation,
    intervals,
    lstm_state,
    population,
    prepared,
    progress,
    rows,
    shrinkage,
    time_columns,
)
from jaxlstm._src.forecasters import global_models as global_lib
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts
from jaxlstm._src.io.series import close_of
from jaxlstm._src.nn import networks
from jaxlstm._src.prep import calendars, encodings, seasons, windows
from jaxlstm._src.prep import features as feature_lib
from jaxlstm._src.prep import inputs as inputs_lib

Prepared = prepared.Prepared


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
            scaled by the training log-return spread; chosen by ``benchmarks/accuracy.py``),
            ``"minmax"`` (the seed's scaled price levels), ``"log"``, ``"window"`` (see
            ``prep/encodings.py``) or ``"seasonal"`` (with ``season_length``: the classical
            multiplicative season of the training part removed, then ``"relative"``; windows
            carry their positions, ``forecasters/time_columns.py``).
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.
        band, calibration: the prediction band (see ``jaxlstm.Forecaster``); ``band="quantile"``
            (needs ``direct_steps``) trains quantile heads next to the point forecast
            (``training.QuantileLoss``: the pinball loss) and reads the 80% and 95% bands
            from them (``bands.QUANTILE_LEVELS``; other levels: the adaptive band).
        weight_decay: decoupled weight decay (AdamW); 0 is plain Adam.
        ensemble: ``K`` members trained together in one compiled call (seeds ``seed`` to
            ``seed + K - 1``), or a list of member settings dicts (keys ``seed``,
            ``learning_rate``, ``weight_decay``; see ``population``). With ``K > 1`` every
            params leaf has a leading ``[K]`` members axis and forecasts combine the members.
        combine: ``"mean"`` or ``"median"`` of the members' price forecasts.
        architecture: the network (``jaxlstm.nn.ARCHITECTURES``): ``"lstm"`` (the seed's),
            ``"bilstm"``, ``"attention"`` (an LSTM whose head attends over every hidden
            state), ``"transformer"`` (``num_layers`` encoder layers of width ``hidden_size``) or
            ``"esrnn"`` (Smyl's ES-RNN: Holt-Winters level and season of the encoded closes,
            with learned smoothing coefficients, feeding an LSTM; its season is
            ``season_length_``, none is level-only smoothing; ``nn/esrnn.py``).
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
        shrink: None (default: the model's forecast as it is) or ``"auto"``: ``fit`` shrinks
            the forecast toward the last price, ``last * (predicted / last) ** w``, with ``w``
            in [0, 1] chosen from the out-of-sample multi-step forecasts it makes for the band
            from the held-back tail (the head refit's only without a tail; nothing after the
            fitted series): 0 (naive) unless the model's predicted changes beat naive with
            ``t > 1``, near 1 when they clearly do (``shrinkage.fit_weight``). ``shrink_``
            holds ``w`` and its evidence; every forecast, backtest and band (calibrated on
            the shrunk forecasts' own errors) uses it. Needs a conformal or adaptive band:
            with ``band="volatility"`` or ``"quantile"``, or too few out-of-sample origins,
            ``shrink_`` is None and the model is used as it is.
        series_embedding: a global model's learned vector per series, read at every step (0: none).
        calendar: None (default: no calendar inputs), ``"auto"`` or a tuple of parts of
            ``jaxlstm.data``'s calendar (``"hour"``, ``"weekday"``, ``"week"``, ``"month"``,
            ``"quarter"``): known-future inputs, each row of a window also reads the
            sine/cosine calendar of the step after it (``prep/calendars.py``), from the
            timestamps of dated data, which must be regularly spaced. ``"auto"`` takes the
            parts that repeat at the data's spacing (hourly: hour and weekday; daily:
            weekday; weekly: week) and none without timestamps; ``calendar_`` holds the parts
            in use. A window for ``predict_multi_step`` then carries two clock columns
            (``input_columns``).

    ``fit`` on several series (a mapping or a long ``unique_id, ds, y`` frame) trains one
    global model; ``forecast`` then returns ``Forecasts`` (see ``global_models``).

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
        shrink: str | None = None,
        series_embedding: int = 0,
        calendar: str | Sequence[str] | None = None,
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
        self.encoding = encodings.check_encoding_name(encoding, season_length)
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
        self.shrink = shrinkage.check_shrink(shrink)
        self.series_embedding = validation.check_positive_int("series_embedding", series_embedding, minimum=0)
        self.calendar = calendars.check_calendar(calendar)
        #: The calendar parts in use (what ``"auto"`` chose at the last fit; ``()``: none) and the spacing they step by.
        self.calendar_: tuple[str, ...] = self.calendar if isinstance(self.calendar, tuple) else ()
        self.calendar_step_ = 0
        #: The season in use: ``season_length``, or what the last fit detected for ``"auto"`` (None: none).
        self.season_length_: int | None = None if self.season_length == "auto" else cast(int | None, season_length)
        validation.check_network_sizes(self.hidden_size, self.num_layers, self.input_length, self.direct_steps)
        prepared.check_head(self.features, self.direct_steps)
        if self.band == "quantile" and self.direct_steps is None:
            raise ValueError(
                "band='quantile' needs direct_steps=H: its quantile heads emit the H steps' lower and upper "
                "quantiles at once, which a recursive forecast cannot feed back; got direct_steps=None"
            )
        self.model_config  # noqa: B018 (a network these sizes cannot build, e.g. heads not dividing the width, fails now)

    def _reset_fitted(self) -> None:
        super()._reset_fitted()
        #: Params and optimiser state(s) of the last fit or update (leading ``[K]`` axis for ensembles).
        self.params_: Any = None
        self.opt_state_: Any = None
        self.tuning_: Any = None  # the trials of the search that chose these settings (jaxlstm.tune)
        self.encoding_state_: dict[str, float] | None = None
        self.feature_state_: inputs_lib.FeatureState | None = None
        self.history_: dict[str, np.ndarray] | None = None
        self.metrics_: dict[str, Any] | None = None
        self.trained_at_: str | None = None
        #: The shrinkage toward the last price ``fit`` chose (``shrink="auto"``); None: the model as it is.
        self.shrink_: shrinkage.Shrinkage | None = None
        self.__dict__.pop("_quantile_memo", None)
        #: A global model's series, each a fitted model sharing the network (None: a model of one series).
        self.series_: dict[str, Any] | None = None

    # Cached: settings change only through set_params, which builds a fresh instance, and the
    # forecast path reads these on every call (building them costs more than a 1-step forecast).
    @functools.cached_property
    def model_config(self) -> Any:
        """The network's config (``LSTMConfig`` for ``architecture="lstm"``; see ``jaxlstm.nn.make_network``)."""
        return networks.make_network(
            self.architecture,
            input_size=self.model_inputs.width,
            hidden_size=self.hidden_size,
            # band="quantile": the point forecast's H values, then H per quantile head (training.QuantileLoss).
            output_size=(self.direct_steps or 1) * (1 + len(self._quantiles)),
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            # Only the ES-RNN reads the season; None (or an "auto" that found none) is level-only smoothing.
            season_length=self.season_length_ or 1,
        )

    @functools.cached_property
    def model_inputs(self) -> inputs_lib.ModelInputs:
        """How windows of candles become the network's inputs (features, encoding, length)."""
        return inputs_lib.ModelInputs(
            self.features,
            self._encoding(),
            self.input_length,
            self.calendar_,
            self.calendar_step_,
            position=self.encoding == encodings.SEASONAL,
        )

    @property
    def input_length(self) -> int:
        """Steps the network reads: ``sequence_length``, at least ``1.25 * max(H, season_length_)`` with a season."""
        return seasons.default_window(self.sequence_length, self.direct_steps or 1, self.season_length_)

    def use_season(self, season: int | None) -> None:
        """Sets ``season_length_`` (and the window it implies) of an unfitted model: what a fit detected or a saved model used.

        ``fit`` and ``load`` call it; set by hand, the params would not match the windows.
        """
        self.__dict__["season_length_"] = season
        self.__dict__["_season_resolved"] = True
        self.__dict__.pop("model_inputs", None)
        self.__dict__.pop("model_config", None)

    def use_calendar(self, parts: Sequence[str], seconds: int) -> None:
        """Sets ``calendar_`` and its spacing (what a fit resolved or a saved model used) and the inputs they imply."""
        self.__dict__["calendar_"] = tuple(parts)
        self.__dict__["calendar_step_"] = int(seconds) if parts else 0
        self.__dict__.pop("model_inputs", None)
        self.__dict__.pop("model_config", None)

    def with_calendar(self, series: np.ndarray, timestamps: np.ndarray | None, interval: Any) -> np.ndarray:
        """A validated series to fit on, with the columns its windows carry (``time_columns.for_fit``)."""
        return time_columns.for_fit(self, series, timestamps, interval, self.__dict__.pop("_columns_ready", False))

    def read_data(
        self, data: Any, name: str, interval: Any = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
        """``(series, timestamps, interval)`` of new data as this model's windows hold it (``input_columns``).

        The candle columns read from ``data``, then the clock of its timestamps with calendar
        inputs; a model with ``encoding="seasonal"`` refuses (new data does not say its phase).
        """
        return self._read_series(data, name, interval)

    def _read_series(
        self, data: Any, name: str, interval: Any = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
        fitting = self.__dict__.pop("_fit_read", False)
        if self.calendar is None and not self.model_inputs.position:
            return super()._read_series(data, name, interval)
        # fit_rows receives the series of fit's read with its extra columns already.
        self.__dict__["_columns_ready"] = fitting
        return time_columns.read(self, data, name, interval, fitting)

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
        stamps = options.get("timestamps") or [None] * len(models)
        # Series read without the model (fit_many, backtest) gain the clock of their timestamps here.
        series = [
            model.with_calendar(prices, found, step) if isinstance(model, LSTMForecaster) else prices
            for model, prices, found, step in zip(models, series, stamps, spacing, strict=False)
        ]
        for model, prices, step in zip(models, series, spacing, strict=False):
            if isinstance(model, LSTMForecaster):
                model.resolve_season(prices, step)
                # The calibration forecasts measure the model itself: unshrunk.
                model.shrink_ = None
        super().fit_rows(models, series, interval=interval, **options)
        for model, prices in zip(models, series, strict=False):
            if isinstance(model, LSTMForecaster) and model._quantiles and model.params_ is not None:
                model._calibrate_heads(prices)
        for model, prices in zip(models, series, strict=True):
            if isinstance(model, LSTMForecaster) and model.shrink == "auto":
                model._fit_shrink(close_of(prices))

    def _calibrate_heads(self, series: np.ndarray) -> None:
        """Conformalises the quantile heads on the held-back tail of the fitted ``series`` (``bands.cqr_margins``).

        The tail's targets trained no params (early stopping chose the epoch on them, as the
        ``"auto"`` calibration source does); without a tail no level has a margin and the
        band is the adaptive one.
        """
        assert isinstance(self.band_, bands.QuantileBand), "band='quantile' fits a QuantileBand"
        n, steps, length = series.shape[0], self.direct_steps or 1, self.window_length
        origins = np.arange(max(length, n - (self.holdout_size() or 0)), n)
        if origins.size == 0:
            return
        heads = self._head_rows(windows.windows_before(series, origins, length))[:, 1:]
        closes = close_of(series)
        index = origins[:, None] + np.arange(steps)[None, :]
        actual = np.where(index < n, closes[np.minimum(index, n - 1)], np.nan)
        self.band_ = self.band_.with_margins(bands.cqr_margins(heads, actual))

    def _fit_shrink(self, closes: np.ndarray) -> None:
        """Chooses ``shrink_`` from the band's residuals and rebuilds the band on the shrunk forecasts' residuals.

        A quantile band reads its bounds from the heads, not from residuals around the point
        forecast: it is left as it is, unshrunk.
        """
        assert self.band_ is not None, "fitted models have a band"
        if isinstance(self.band_, bands.QuantileBand):
            return
        found = shrinkage.fit_weight(closes, self.band_.residuals)
        if found is None:
            return
        residuals = shrinkage.shrunk_residuals(closes, self.band_.residuals, found.weight)
        self.band_ = type(self.band_)(residuals, self.band_.volatility)
        self.shrink_ = found
        # The calibration models forecast what the residuals now measure.
        for source in self.calibration_models_.values():
            cast(LSTMForecaster, source.model).shrink_ = found

    @property
    def shrink_weight(self) -> float:
        """``w`` of ``last * (predicted / last) ** w`` in every forecast: ``shrink_.weight``, 1 without a shrinkage."""
        return 1.0 if self.shrink_ is None else self.shrink_.weight

    def _refit_budget(self, n: int) -> prepared.RefitBudget | None:
        # The optimiser steps each member's kept params took (its best epoch with early
        # stopping, else its last, times its minibatches per epoch). A head refit trained
        # longer would stand for a different model, and on noisy prices, where early stopping
        # keeps an early epoch, it would cost several times the model's own training.
        if self.metrics_ is None:
            return None
        kept = self.metrics_.get("member_best_epochs") or [self.metrics_["best_epoch"]]
        batches = prepared.minibatches(self.metrics_["n_train_windows"], self.batch_size)
        count = n - self.window_length - (self.direct_steps or 1) + 1
        return prepared.RefitBudget(tuple(max(1, int(epoch)) * batches for epoch in kept), count)

    def _unfitted_copy(self) -> Forecaster:
        # A head-refit calibration copy reads the same windows as the model it calibrates.
        copy = cast(LSTMForecaster, super()._unfitted_copy())
        copy.use_season(self.season_length_)
        copy.use_calendar(self.calendar_, self.calendar_step_)
        return copy

    @property
    def members(self) -> population.Members:
        """How each ensemble member starts training (its seed and rates, the network, the training settings)."""
        loss = training.QuantileLoss(self._quantiles) if self._quantiles else None
        return population.Members(tuple(self._member_settings), self.model_config, self.train_config, loss)

    @property
    def _quantiles(self) -> tuple[float, ...]:
        """The quantiles of the heads ``band="quantile"`` trains (``bands.quantile_pairs``), else none."""
        return bands.quantile_pairs() if self.band == "quantile" else ()

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
        return encodings.estimator_encoding(self.encoding, self.season_length_)

    def _fraction(self) -> float:
        return self.validation_fraction if self.early_stopping else 0.0

    # ------------------------------------------------------------------ fitting

    def fit(self, data: Any, *, verbose: bool = False, **fit_options: Any) -> Self:
        """Trains on a price series (``Forecaster.fit``), with a per-epoch progress bar on stderr when ``verbose``.

        ``data`` needs at least ``min_fit_length`` prices; features that read other columns
        need candles (not a 1-D series; a CSV path is read too) with those columns.

        Returns:
            ``self``, with ``params_``, ``encoding_state_``, ``history_`` and ``metrics_`` set.
        """
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        if global_lib.is_many(data):
            if isinstance(self.calendar, tuple) or self.encoding == encodings.SEASONAL:
                setting = f"calendar={self.calendar!r}" if isinstance(self.calendar, tuple) else "encoding='seasonal'"
                raise ValueError(f"{setting} is not supported by global models yet")
            self.use_calendar((), 0)
            self._reset_fitted()
            global_lib.fit_global(self, data, verbose=verbose, **fit_options)
            return self
        self.series_ = None
        self.__dict__["_fit_read"] = True
        try:
            return super().fit(data, verbose=verbose, **fit_options)
        finally:
            self.__dict__.pop("_fit_read", None)
            self.__dict__.pop("_columns_ready", None)

    def forecast(  # type: ignore[override]
        self, horizon: Any = None, steps: int | None = None, confidence: float = 0.95, *, level: Any = None
    ) -> Forecast | Forecasts:
        """``Forecaster.forecast``; a global model's is a ``Forecasts`` mapping, every series forecast together."""
        if self.series_ is None:
            return super().forecast(horizon, steps, confidence, level=level)
        return global_lib.forecast(self, horizon, steps, confidence, level)

    def prepare(self, series: np.ndarray, *, pad_to: int | None = None) -> Prepared:
        """The training inputs of a validated series (``prepared.prepare``, ``pad_to`` as it takes it), for ``train_prepared``.

        An unfitted model with ``season_length="auto"`` whose season no fit has resolved
        (a tuning trial) resolves it here first, without a spacing (every lag is scanned).
        """
        if self.params_ is None and not self.__dict__.get("_season_resolved"):
            self.resolve_season(series)
        return prepared.prepare(self.model_inputs, series, self.direct_steps or 1, self._fraction(), pad_to=pad_to)

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
        optimiser state (``Members.resumed`` with ``salt``). Each model then takes over its
        results as after ``fit``, without a band. ``jaxlstm.tune`` trains its rungs here.

        Returns:
            The number of runner calls (groups of equal static settings and shapes).
        """
        plans = [
            rows.member_rows(
                m.members, p.data, m.members.static(epochs=c), m._members() if m.params_ is not None else None, salt
            )
            for m, p, c in zip(models, preps, epochs, strict=True)
        ]
        for model, prep, found in zip(models, preps, rows.train_models(plans, workers=workers, devices=devices)):
            model._adopt(prep, found)
        return rows.call_count(plans)

    @classmethod
    def _fit_together(
        cls,
        models: Sequence[Forecaster],
        prices: Sequence[np.ndarray],
        *,
        workers: int | None = None,
        devices: Sequence[jax.Device] | None = None,
        verbose: bool = False,
        budgets: Sequence[prepared.RefitBudget | None] | None = None,
        **fit_options: Any,
    ) -> None:
        """Trains many models (and every ensemble member) as rows of one runner call per group of equal static settings.

        Series of different lengths are padded with zero-weight windows, which leave each
        model as a lone ``fit`` would train it (to float rounding). With ``verbose``
        the first model's first member draws a per-epoch progress bar. ``budgets``: per
        model None or a ``prepared.RefitBudget`` (head refits, see ``_refit_budget``): each
        member takes at most its optimiser steps, rounded up to whole epochs of its own
        windows, on data padded to the shapes of the model it calibrates, so the traced
        caps and the padding leave one compiled program for both.
        """
        if fit_options:
            raise TypeError(f"LSTMForecaster.fit got unexpected options {sorted(fit_options)}")
        if not isinstance(verbose, bool):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        lstms = [cast(LSTMForecaster, m) for m in models]
        budgets = [None] * len(lstms) if budgets is None else list(budgets)
        preps = [m.prepare(p, pad_to=b and b.windows) for m, p, b in zip(lstms, prices, budgets, strict=True)]
        caps = [
            None if b is None else [-(-steps // prepared.minibatches(prep.n_train, m.batch_size)) for steps in b.steps]
            for m, prep, b in zip(lstms, preps, budgets, strict=True)
        ]
        plans = [
            rows.member_rows(m.members, prep.data, m.members.static(), epochs=cap)
            for m, prep, cap in zip(lstms, preps, caps, strict=True)
        ]
        with progress.Shown(lstms[0].epochs if verbose else None) as shown:
            found = rows.train_models(
                plans, workers=workers, devices=devices, progress_tag=shown.tag, progress_callback=progress.RELAY
            )
            shown.finish(int(found[0][0].epochs_run), str(found[0][0].stop_reason))
        for m, prep, results in zip(lstms, preps, found):
            m._adopt_trained(prep, results)

    def _adopt_trained(self, prep: Prepared, results: Sequence[training.TrainResult]) -> None:
        """``_adopt`` for a fit: a member that diverged is dropped (with a warning), a model whose every member did raises.

        A member diverged when its loss was not finite at its last epoch, or when its
        one-step forecasts of the held-back windows (the last training windows without
        any) are not finite positive prices. The members kept become the ``ensemble``
        setting, so that save and load agree. A model that raises is left unfitted.
        """
        members, ensemble = list(self._member_settings), self.ensemble

        def adopt(kept: list[int]) -> np.ndarray:
            self.use_members(ensemble if len(kept) == len(members) else tuple(members[j] for j in kept))
            return self._adopt(prep, [results[j] for j in kept])

        kept = population.kept_members(results, adopt)
        if not kept:
            self.use_members(ensemble)
            self._reset_fitted()
            raise population.divergence_error(members, self.default_params()["learning_rate"])
        if len(kept) < len(members):
            warnings.warn(population.dropped_message(members, kept), UserWarning, stacklevel=2)

    def use_members(self, ensemble: int | tuple[dict[str, Any], ...]) -> None:
        """Replaces the ``ensemble`` setting: the one change of a setting after construction, made by a fit."""
        self.__dict__["ensemble"] = ensemble
        self._member_settings = population.member_settings(ensemble, self.seed, self.learning_rate, self.weight_decay)

    def _adopt(self, prep: Prepared, results: Sequence[training.TrainResult]) -> np.ndarray:
        """Takes over finished training runs (one per member): params, optimiser states, history, metrics.

        The one-step forecasts of the held-back windows are made once, in one call, for the
        validation MAE (the members combined) and the divergence check of ``_adopt_trained``.

        Returns:
            ``[K]`` whether each member forecasts finite positive prices one step after the
            held-back windows (the last training windows without any).
        """
        if any(r.epochs_run == 0 for r in results):
            raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
        self.params_ = jax.tree.map(jnp.asarray, population.adopted([r.params for r in results]))
        self.opt_state_ = jax.tree.map(np.asarray, population.adopted([r.opt_state for r in results]))
        self.encoding_state_, self.feature_state_ = prep.encoding_state, prep.feature_state
        self.history_, metrics = population.summary(results, bool(prep.n_val))
        check = prep.held_back if prep.n_val else prep.windows[: prep.n_train][-64:]
        found = self._member_rows(check, 1)
        predicted = population.combine_members(found, self.combine) if self.n_members > 1 else found[0]
        errors = prepared.validation_errors(prep, self.model_inputs, predicted[:, 0])
        self.metrics_ = {**metrics, "n_train_windows": int(prep.n_train), "n_val_windows": int(prep.n_val), **errors}
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return np.all(np.isfinite(found) & (found > 0), axis=(1, 2))

    def holdout_size(self) -> int | None:
        # One validation window per held-back target close; a direct model's window also
        # targets the H - 1 closes after its first.
        if self.metrics_ is None:
            return None
        n_val = int(self.metrics_.get("n_val_windows") or 0)
        return n_val + (self.direct_steps or 1) - 1 if n_val else 0

    def planned_holdout(self, n: int) -> int | None:
        steps = self.direct_steps or 1
        return prepared.planned_holdout(n - self.window_length - steps + 1, steps, self._fraction())

    def update(self, data: Any, *, epochs: int = 5, interval: Any = None, allow_gap: bool = False) -> Self:
        """Continues training on the prices that came after the ones the model has seen (online learning).

        The new prices must continue the model's last one, by the rules of
        ``jaxlstm._src.forecasters.continuation`` (dated data at the model's interval, an
        overlap checked and dropped, a gap refused unless ``allow_gap=True``, undated data
        only with ``interval=``). Preceded by the model's own last window, they give one
        window per new price; those windows train the current params from the saved
        optimiser state for ``epochs`` epochs, with no early stopping, every ensemble member
        together in one call. The encoding fitted by ``fit`` is kept (``fit`` rescales).
        Before training, the forecasts from each new origin join the calibration residuals
        (the most recent ``_max_calibration_origins`` are kept).

        A global model takes ``{name: new prices}`` or a long frame of some or all of its
        series, each continued by these rules, and trains its shared params on their new
        windows together (``global_models.update``).

        Args:
            data: the new prices (any form ``fit`` accepts), at least 1 (``direct_steps``
                for a direct model) after the ones the model saw.
            epochs: passes over the new windows, >= 1.
            interval: for undated data: the prices continue right after the model's last
                timestamp at this interval, which must be the model's.
            allow_gap: train on dated data that does not continue the last price without a gap.

        Returns:
            ``self``, with ``params_``, ``opt_state_``, ``prices_``, ``last_timestamp_`` and
            ``metrics_["updates"]`` updated.

        Raises:
            ValueError: data that does not continue the model's prices, or too few new
                prices; the model is then unchanged.
        """
        self._check_fitted()
        epochs = validation.check_positive_int("epochs", epochs)
        if not isinstance(allow_gap, bool):
            raise TypeError(f"allow_gap must be a bool, got {type(allow_gap).__name__} {allow_gap!r}")
        if self.series_ is not None:
            global_lib.update(self, data, epochs=epochs, interval=interval, allow_gap=allow_gap)
            return self
        found = continuation.read_update(self, data, "data", interval, allow_gap)
        band = self._extended_band(found.series)
        count = int((self.metrics_ or {}).get("updates", 0)) + 1
        members = self.members
        static = members.static(epochs=epochs, patience=None, loss_threshold=None, restore_best=False)
        starts = [members.continued(j, params, opt, count) for j, (params, opt) in enumerate(self._members())]
        results = rows.train_rows([rows.TrainRow(static, found.data, start) for start in starts])
        if any(r.epochs_run < epochs for r in results):
            raise ValueError("update diverged (non-finite loss); the model is unchanged, check the data")
        self.params_ = jax.tree.map(jnp.asarray, population.adopted([r.params for r in results]))
        self.opt_state_ = jax.tree.map(np.asarray, population.adopted([r.opt_state for r in results]))
        train_loss = float(np.mean([r.train_loss[-1] for r in results]))
        self.metrics_ = {**(self.metrics_ or {}), "updates": count, "update_train_loss": train_loss}
        self._continue_with(found, band)
        return self

    def _continue_with(self, found: continuation.Update, band: bands.Band) -> None:
        """Takes over the prices of an update (``found``) and the band extended from its new origins."""
        self.prices_, self.last_timestamp_, self.interval_ = found.series, found.last_timestamp, found.interval
        # The models that scored the old residuals belong to the old params: from now on
        # the residuals are fixed arrays, as in a model restored from a file.
        self.calibration_models_ = {}
        self.band_ = band
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def _members(self) -> list[tuple[Any, Any]]:
        """Each member's ``(params, optimiser state or None)`` (None: saved before the state was kept)."""
        return population.member_trees(self.params_, self.opt_state_, self.n_members)

    def _extended_band(self, series: np.ndarray, fresh: np.ndarray | None = None) -> bands.Band:
        """The band with the current model's out-of-sample errors from each new origin of ``series`` (window + new prices).

        ``fresh``: the ``[new, band_steps]`` forecasts from those origins when already made
        (a global model's update forecasts every series' in one call), else made here.
        """
        assert self.band_ is not None, "fitted models have a band"
        if not self.band_.needs_residuals:
            return self.band_
        origins = np.arange(self.window_length, series.shape[0])
        if fresh is None:
            fresh = self._predict_many(windows.windows_before(series, origins, self.window_length), self.band_steps)
        new_rows = bands.origin_residuals(close_of(series), origins, fresh)
        return self.band_.extended(new_rows, self.calibration_sources(), self._max_calibration_origins)

    # ------------------------------------------------------------------ prediction

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many(window[None, :], steps)[0]

    def _predict_many(self, price_windows: Any, steps: int) -> np.ndarray:
        return type(self)._predict_rows([self], [price_windows], steps)[0]

    def member_forecasts(self, price_windows: Any, steps: int) -> np.ndarray:
        """Every member's price forecasts from each window, before they are combined (shrunk as the forecast is, ``shrink_weight``).

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
        found = self._member_rows(price_windows, validation.check_steps(steps))
        return self.check_forecast(
            shrinkage.shrink_forecasts(_last_closes(price_windows, len(self.input_columns)), found, self.shrink_weight)
        )

    def _member_rows(self, price_windows: Any, steps: int) -> np.ndarray:
        """``member_forecasts`` unchecked (a non-finite value stays in: the callers decide what it means)."""
        return type(self).member_rows([self], [price_windows], steps)[0]

    @classmethod
    def member_rows(cls, models: Sequence[LSTMForecaster], windows_: Sequence[Any], steps: int) -> list[np.ndarray]:
        """Each model's ``[K_i, N_i, steps]`` member forecasts from its own windows, unchecked: one runner call per group."""
        return rows.forecast_rows([m._forecast_plan(steps) for m in models], windows_)

    @classmethod
    def _predict_rows(
        cls,
        models: Sequence[Forecaster],
        windows_: Sequence[Any],
        steps: int,
        *,
        workers: int | None = None,
        observed: Sequence[Any] | None = None,
    ) -> list[np.ndarray]:
        """Each model's ``[N_i, steps]`` forecasts, its members combined: one runner call per group (``rows.forecast_rows``)."""
        lstms = [cast(LSTMForecaster, m) for m in models]
        plans = [m._forecast_plan(steps) for m in lstms]
        found = rows.forecast_rows(plans, windows_, workers=workers, observed=observed)
        combined = [population.combine_members(r, m.combine) if m.n_members > 1 else r[0] for m, r in zip(lstms, found)]
        return [
            shrinkage.shrink_forecasts(_last_closes(w, len(m.input_columns)), r, m.shrink_weight)
            if m.shrink_weight != 1.0
            else r
            for m, w, r in zip(lstms, windows_, combined, strict=True)
        ]

    def forecast_window(self) -> np.ndarray:
        if self.series_ is not None:
            raise global_lib.one_series_only(self)
        return super().forecast_window()

    def _forecast_plan(self, steps: int) -> rows.ForecastPlan:
        """How this model forecasts ``steps`` steps; a direct model refuses more steps than its head emits."""
        if self.series_ is not None:
            raise global_lib.one_series_only(self)
        if self.direct_steps is not None and steps > self.direct_steps:
            raise ValueError(
                f"steps must be at most {self.direct_steps} for {self!r}: its head forecasts direct_steps="
                f"{self.direct_steps} steps at once, got steps={steps}; train with a larger direct_steps"
                + (" or direct_steps=None (recursive)" if self.features == (feature_lib.CLOSE,) else "")
            )
        if self.direct_steps is None and self.model_inputs.columns == (feature_lib.CLOSE,):
            state: Any = self._device_state()
        else:
            assert self.encoding_state_ is not None and self.feature_state_ is not None, "fitted models have a state"
            state = self.model_inputs.device_state(self.encoding_state_, self.feature_state_)
        members = [params for params, _ in self._members()]
        return rows.forecast_plan(self.model_config, self.model_inputs, state, members, steps, self.direct_steps)

    def _device_state(self) -> dict[str, np.float32]:
        assert self.encoding_state_ is not None, "fitted models have an encoding state"
        return {k: np.float32(v) for k, v in self.encoding_state_.items()}

    def band_offsets(self, steps: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, str]:
        """``Forecaster.band_offsets``; with ``band="quantile"`` at a level of ``bands.QUANTILE_LEVELS``, the quantile heads'.

        The heads forecast the quantiles of the window ``forecast`` continues, so this band
        belongs to the forecasts of ``forecast`` (and ``forecast_from`` around them); at other
        levels it is the adaptive conformal band.
        """
        level = round(float(confidence) * 100, 9)
        margins = self.band_.margins if isinstance(self.band_, bands.QuantileBand) else {}
        if self._quantiles and np.isfinite(margins.get(level, np.nan)) and steps <= (self.direct_steps or 0):
            lower, upper = self.quantile_offsets()[level]
            return lower[:steps], upper[:steps], intervals.QUANTILE_HEADS
        return super().band_offsets(steps, confidence)

    def quantile_offsets(self) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """``{level: (lower [H], upper [H])}`` log offsets of the quantile heads on ``forecast_window()``.

        Read from the network once per fitted params and window (an ensemble averages its
        members' price quantiles), widened by the margins ``fit`` calibrated on the
        held-back tail (``bands.cqr_margins``), ordered and nested by ``bands.nested_offsets``.
        """
        self._check_fitted()
        if not self._quantiles:
            raise ValueError(f"quantile_offsets needs band='quantile' (quantile heads), got band={self.band!r}")
        window = self.forecast_window()
        key = (id(self.params_), window.tobytes())
        memo = self.__dict__.get("_quantile_memo")
        if memo is None or memo[0] != key:
            rows_ = self._head_rows(window[None])[0]
            margins = self.band_.margins if isinstance(self.band_, bands.QuantileBand) else {}
            memo = (key, bands.nested_offsets(rows_[0], rows_[1:], margins=margins))
            self.__dict__["_quantile_memo"] = memo
        return memo[1]

    def _head_rows(self, price_windows: np.ndarray) -> np.ndarray:
        """``[N, 1 + Q, H]`` point and quantile-head price forecasts of ``[N, window_length(, columns)]`` windows, members combined."""
        assert self.encoding_state_ is not None and self.feature_state_ is not None, "fitted models have a state"
        state = self.model_inputs.device_state(self.encoding_state_, self.feature_state_)
        run = _quantile_heads(self.model_config, self.model_inputs, 1 + len(self._quantiles))
        params = self.params_ if self.n_members > 1 else jax.tree.map(lambda a: a[None], self.params_)
        found = np.asarray(run(params, state, jnp.asarray(price_windows, jnp.float32)), np.float64)  # [K, N, 1+Q, H]
        return population.combine_members(found, self.combine) if self.n_members > 1 else found[0]

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> Any:
        """The band of ``Forecaster``; an ensemble's is also never narrower than its members' range (``population.widened``)."""
        forecast = super()._forecast_from(predicted, confidence)
        if self.n_members == 1 or self.band == "volatility":
            return forecast
        return population.widened(
            forecast, self.member_forecasts(self.forecast_window()[None], predicted.shape[0])[:, 0]
        )

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    def check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        if self.features != (feature_lib.CLOSE,):
            head = f", and the head forecasts {self.direct_steps} steps"
            prepared.check_candles(self.model_inputs, name, value, minimum, purpose, repr(self), head)
        return super().check_prices(name, value, minimum, purpose)

    def check_window(self, window: Any) -> np.ndarray:
        # Models that read several columns also take a window as candles (a DataFrame,
        # OHLCV, ccxt rows): its last window_length rows. An array is [time, columns].
        if len(self.input_columns) > 1 and not isinstance(window, np.ndarray) and not isinstance(window, jax.Array):
            window = self._read_series(window, "window")[0][-self.window_length :]
        return super().check_window(window)

    # ------------------------------------------------------------------ persistence (the format: lstm_state)

    def saved_parts(self) -> tuple[Any, dict[str, Any]]:
        return lstm_state.saved_parts(self) if self.series_ is None else global_lib.saved_parts(self)

    @classmethod
    def from_saved(cls, tree: Any, metadata: Any, source: str) -> Self:
        parts = global_lib.from_parts if global_lib.is_saved_global(metadata) else lstm_state.from_parts
        return cast(Self, parts(cls, tree, metadata, source))

    def params_template(self) -> Any:
        """Shapes and dtypes of ``params_`` (with the members axis of an ensemble)."""
        return lstm_state.with_members(self.members.templates()[0], self.n_members)

    def opt_state_template(self) -> Any:
        """Shapes, dtypes and structure of ``opt_state_`` (with the members axis of an ensemble)."""
        return lstm_state.with_members(self.members.templates()[1], self.n_members)


def _last_closes(price_windows: Any, columns: int) -> np.ndarray:
    """``[N]`` the last close of each window: ``[N, time]`` (``[N, time, columns]``, the close first) or a list of windows."""
    if isinstance(price_windows, list):
        last = np.array([np.asarray(w)[-1] for w in price_windows], np.float64)
    else:
        last = np.asarray(price_windows, np.float64)[:, -1]
    return last if columns == 1 else last[:, 0]


@functools.lru_cache(maxsize=32)
def _quantile_heads(network: Any, inputs: inputs_lib.ModelInputs, rows_: int) -> Any:
    """Compiled ``(params [K, ...], state, windows [N, ...]) -> [K, N, rows_, H]`` decoded point and quantile rows."""

    def one(params: Any, state: Any, window: jax.Array) -> jax.Array:
        y = network.apply(params, inputs.encode(state, window)).reshape((rows_, -1))
        return jax.vmap(lambda row: inputs.decode(state, window, row))(y)

    return jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, None, 0)), in_axes=(0, None, None)))
