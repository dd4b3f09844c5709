"""``LSTMForecaster``: the settings of a network forecaster, and the glue that hands them to the modules that work.

State lives here and only here: the fitted params, the encoding (and feature scaling)
fitted on training data, the last window, the loss history. The work is done elsewhere:
``prepared`` turns a series into training arrays, ``population`` starts, keeps and
combines ensemble members, ``rows`` runs every fit, update and forecast as rows of
``stacked.run_stacked``, ``continuation`` holds ``update``'s rules, ``bands`` the band,
``quantile_heads`` the heads of ``band="quantile"``, ``shrinkage`` ``shrink="auto"``,
``lstm_state`` the saved format and ``global_models`` a fit on many series. The network is
any of ``nn.networks.ARCHITECTURES``; nothing here depends on which.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar, Self, cast

import jax
import numpy as np

from jaxlstm._src import training, validation
from jaxlstm._src.forecasters import (
    continuation,
    fitting,
    intervals,
    lstm_state,
    population,
    prepared,
    quantile_heads,
    rows,
    shrinkage,
    time_columns,
)
from jaxlstm._src.forecasters import global_models as global_lib
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts
from jaxlstm._src.io.series import close_of, is_many
from jaxlstm._src.nn import networks
from jaxlstm._src.prep import calendars, encodings, seasons
from jaxlstm._src.prep import features as feature_lib
from jaxlstm._src.prep import inputs as inputs_lib


class LSTMForecaster(Forecaster):
    """Prices in, prices out: fit a network on a price series (and optionally candle features) and forecast it.

    Args:
        hidden_size: units per layer (LSTM units per direction; the transformer's width).
        sequence_length: prices per input window (longer with a season: ``input_length``).
        learning_rate, weight_decay: Adam step size; decoupled weight decay (AdamW; 0: plain Adam).
        epochs, batch_size: maximum training epochs; windows per Adam step.
        early_stopping, patience, validation_fraction: hold back the last
            ``validation_fraction`` of windows (chronologically) and stop when their loss has
            not improved for ``patience`` epochs, keeping the best params; ``False`` trains on
            every window for all epochs.
        num_layers: stacked layers.
        seed: seeds initialisation and shuffling (same seed and data, same model).
        encoding: how prices become inputs (``prep/encodings.py``): ``"seasonal"`` (default:
            the classical multiplicative season of the training part removed, then
            ``"relative"``; without a season, ``"relative"`` itself; windows then carry their
            positions: ``time_columns``), ``"relative"`` (log price relative to each window's
            last, scaled by the training log-return spread), ``"minmax"`` (the seed's scaled
            levels), ``"log"`` or ``"window"``. Chosen by ``benchmarks/competition.py``.
        loss_threshold: the seed's rule, stop once the training loss is below it.
        symbol: the instrument, recorded in forecasts and saved metadata.
        band, calibration: the prediction band (see ``jaxlstm.Forecaster``); ``band="quantile"``
            (needs ``direct_steps``) trains pinball-loss heads next to the point forecast for
            the 80% and 95% bands (``bands.QUANTILE_LEVELS``; other levels: the adaptive band).
        ensemble, combine: ``K`` members trained together in one compiled call (seeds ``seed``
            to ``seed + K - 1``) or a list of member settings dicts (``seed``,
            ``learning_rate``, ``weight_decay``; ``population``), whose price forecasts are
            combined by their ``"mean"`` or ``"median"``. With ``K > 1`` every params leaf has
            a leading ``[K]`` axis.
        architecture: ``jaxlstm.nn.ARCHITECTURES``: ``"lstm"`` (the seed's), ``"bilstm"``,
            ``"attention"`` (an LSTM whose head attends over every hidden state),
            ``"transformer"`` or ``"esrnn"`` (Smyl's ES-RNN, ``nn/esrnn.py``: Holt-Winters level
            and season ``season_length_`` with learned smoothing coefficients feeding an LSTM;
            it removes the season itself, so ``"seasonal"`` reads ``"relative"`` there).
        features: the inputs per step, e.g. ``("close", "volume", "rsi")``: the encoded close
            and causal candle features (``jaxlstm.data.FEATURES``) standardised on training
            statistics. Beyond the close they need candles (a DataFrame, ``OHLCV``, ccxt
            rows, a CSV path) and ``direct_steps``; the columns read are ``input_columns``
            and a ``predict_multi_step`` window is ``window_length`` candles.
        direct_steps: None forecasts recursively (one step, fed back); ``H`` trains a head
            that emits the next ``H`` steps at once (forecasts of at most ``H`` steps).
        num_heads: attention heads of ``"attention"`` and ``"transformer"`` (divides ``hidden_size``).
        season_length: ``"auto"`` (default: what ``prep.seasons.detect_season`` finds in the
            log closes of the training part, only the calendar's seasons where the spacing
            is known, resolved at each fit into ``season_length_``), an integer ``m >= 2``,
            or None. With a season the window covers at least ``1.25 * max(H, m)`` prices; a
            season the data is too short to train with is not used.
        shrink: None (default) or ``"auto"``: forecasts become ``last * (predicted / last) **
            w``, ``w`` in [0, 1] chosen by ``fit`` from the band's out-of-sample forecasts on
            Student's calibrated test: 0 (naive) unless the model beats naive by more than
            luck (``shrinkage``). ``shrink_`` holds ``w`` and its evidence (None where the band
            or the evidence allows no test).
        series_embedding: a global model's learned vector per series, read at every step (0: none).
        calendar: None (default), ``"auto"`` or parts of ``"hour"``, ``"weekday"``, ``"week"``,
            ``"month"``, ``"quarter"``: known-future sine/cosine inputs of the step after each
            row, from the timestamps of regularly spaced data (``prep/calendars.py``).
            ``"auto"`` takes the parts that repeat at the data's spacing; ``calendar_`` holds
            those in use.

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
        encoding: str = "seasonal",
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
        season_length: int | str | None = "auto",
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
        self.early_stopping = validation.check_bool("early_stopping", early_stopping)
        self.num_layers = validation.check_positive_int("num_layers", num_layers)
        self.seed = validation.check_seed("seed", seed)
        self.patience = validation.check_positive_int("patience", patience)
        self.validation_fraction = validation.check_fraction("validation_fraction", validation_fraction, low_open=False)
        self.encoding = encodings.check_encoding_name(encoding)
        self.loss_threshold = (
            None if loss_threshold is None else validation.check_positive_float("loss_threshold", loss_threshold)
        )
        if symbol is not None and not isinstance(symbol, str):
            raise TypeError(f"symbol must be a str or None, got {type(symbol).__name__}")
        self.symbol = symbol
        self.weight_decay = validation.check_positive_float("weight_decay", weight_decay, allow_zero=True)
        self.ensemble = population.check_ensemble(ensemble)
        self.combine = population.check_combine(combine)
        self._member_settings = population.member_settings(ensemble, self.seed, self.learning_rate, self.weight_decay)
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
        quantile_heads.check_head(self.band, self.direct_steps)
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
            position=self.reads_positions,
        )

    @property
    def reads_positions(self) -> bool:
        """Whether windows carry each price's position: a seasonal encoding in use reads each window's phase there."""
        return self._encoding().seasonal

    @property
    def input_length(self) -> int:
        """Steps the network reads: ``sequence_length``, at least ``1.25 * max(H, season_length_)`` with a season."""
        return seasons.default_window(self.sequence_length, self.direct_steps or 1, self.season_length_)

    def use_season(self, season: int | None) -> None:
        """Sets ``season_length_`` (and the window it implies) of an unfitted model: what a fit detected or a saved model used.

        ``fit`` and ``load`` call it; set by hand, the params would not match the windows.
        """
        self.__dict__.update(season_length_=season, _season_resolved=True)
        self._forget_network()

    def use_calendar(self, parts: Sequence[str], seconds: int) -> None:
        """Sets ``calendar_`` and its spacing (what a fit resolved or a saved model used) and the inputs they imply."""
        self.__dict__["calendar_"] = tuple(parts)
        self.__dict__["calendar_step_"] = int(seconds) if parts else 0
        self._forget_network()

    def _forget_network(self) -> None:
        self.__dict__.pop("model_inputs", None)
        self.__dict__.pop("model_config", None)

    def read_data(
        self, data: Any, name: str, interval: Any = None, *, continues: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
        """``(series, timestamps, interval)`` of new data as this fitted model's windows hold it (``input_columns``).

        The candle columns read from ``data``, then the clock of its timestamps with calendar
        inputs, then with ``encoding="seasonal"`` each price's position counted from the
        model's last one (``time_columns.continued_positions``; ``continues``: undated data
        follows the model's last price, as ``update`` takes it).
        """
        if self.calendar is None and not self.model_inputs.position:
            return super().read_data(data, name, interval)
        return time_columns.read(self, data, name, interval, continues)

    def resolve_season(self, series: np.ndarray, interval: Any = None) -> int | None:
        """For ``season_length="auto"``: detects the season of a validated series' training part and uses it (``time_columns.resolve_season``).

        Returns:
            ``season_length_``.
        """
        return time_columns.resolve_season(self, series, interval)

    @classmethod
    def fit_rows(
        cls, models: Sequence[Forecaster], series: Sequence[np.ndarray], *, interval: Any = None, **options: Any
    ) -> None:
        # Seasons and calendars are resolved first: the held-back tail and the calibration
        # cut that the base computes depend on the window they imply.
        series = time_columns.fit_series(LSTMForecaster, models, series, interval, options.get("timestamps"))
        super().fit_rows(models, series, interval=interval, **options)
        for model, prices in zip(models, series, strict=True):
            if isinstance(model, LSTMForecaster):
                fitting.calibrate_after_band(model, prices)

    def price_volatility(self, prices: np.ndarray) -> float:
        """``Forecaster.price_volatility`` of the closes the network forecasts: the root mean square of their log returns, deseasonalised where the encoding removes a season.

        The model forecasts the season, so its swings are not noise: the volatility band of a
        strongly seasonal series (the fallback with too few calibration residuals) was several
        times the forecast wide. Nor need the network follow the training part's drift, so the
        drift counts with the spread (``intervals.log_return_rms``): the band of a smooth
        trending series had zero width.
        """
        encoding, closes = self.model_inputs.encoding, close_of(prices)
        if isinstance(encoding, encodings.SeasonalEncoding) and self.encoding_state_ is not None:
            adjusted = encoding.deseasonalised(self.encoding_state_, closes, prices[:, -1])
            closes = adjusted if np.all(adjusted > 0) else closes
        return intervals.log_return_rms(closes)

    @property
    def shrink_weight(self) -> float:
        """``w`` of ``last * (predicted / last) ** w`` in every forecast: ``shrink_.weight``, 1 without a shrinkage."""
        return 1.0 if self.shrink_ is None else self.shrink_.weight

    #: Fewest windows a head-refit copy trains on, else no head refit (``prepared.MIN_REFIT_WINDOWS``).
    min_refit_windows: ClassVar[int] = prepared.MIN_REFIT_WINDOWS

    def _refit_cut(self, n: int) -> int | None:
        # The band then calibrates on the held-back tail alone, or falls back to the volatility band.
        cut = super()._refit_cut(n)
        return cut if cut is not None and cut - self.min_fit_length + 1 >= self.min_refit_windows else None

    def _refit_budget(self, n: int) -> prepared.RefitBudget | None:
        return prepared.refit_budget(self.metrics_, self.batch_size, n - self.min_fit_length + 1)

    def _unfitted_copy(self) -> Forecaster:
        # A head-refit calibration copy reads the same windows as the model it calibrates.
        copy = cast(LSTMForecaster, super()._unfitted_copy())
        copy.use_season(self.season_length_)
        copy.use_calendar(self.calendar_, self.calendar_step_)
        return copy

    @property
    def members(self) -> population.Members:
        """How each ensemble member starts training (its seed and rates, the network, the training settings)."""
        return population.Members(
            tuple(self._member_settings), self.model_config, self.train_config, quantile_heads.loss(self.band)
        )

    @property
    def _quantiles(self) -> tuple[float, ...]:
        return quantile_heads.quantiles(self.band)

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

    @property
    def deseasonalises(self) -> bool:
        """Whether the encoding divides out a season in use: ``encoding="seasonal"``, but not for the ES-RNN, which removes it itself."""
        return self.encoding == encodings.SEASONAL and self.architecture != "esrnn"

    def _encoding(self) -> encodings.Encoding:
        return encodings.estimator_encoding(self.encoding, self.season_length_ if self.deseasonalises else None)

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
        validation.check_bool("verbose", verbose)
        if is_many(data):
            self._reset_fitted()
            global_lib.fit_global(self, data, verbose=verbose, **fit_options)
            return self
        self.series_ = None
        with time_columns.unresolved(self):
            return super().fit(data, verbose=verbose, **fit_options)

    def forecast(  # type: ignore[override]
        self, horizon: Any = None, steps: int | None = None, confidence: float | None = None, *, level: Any = None
    ) -> Forecast | Forecasts:
        """``Forecaster.forecast``; a global model's is a ``Forecasts`` mapping, every series forecast together."""
        if self.series_ is None:
            return super().forecast(horizon, steps, confidence, level=level)
        return global_lib.forecast(self, horizon, steps, confidence, level)

    def prepare(self, series: np.ndarray, *, pad_to: int | None = None) -> prepared.Prepared:
        """The training inputs of a validated series (``prepared.prepare``, ``pad_to`` as it takes it), for ``train_prepared``.

        An unfitted model with ``season_length="auto"`` whose season no fit has resolved
        (a tuning trial) resolves it here first, without a spacing (every lag is scanned).
        """
        if self.params_ is None and not self.__dict__.get("_season_resolved"):
            self.resolve_season(series)
            series = time_columns.with_fit_positions(self, series)
        return prepared.prepare(self.model_inputs, series, self.direct_steps or 1, self._fraction(), pad_to=pad_to)

    train_prepared = classmethod(fitting.train_prepared)
    _fit_together = classmethod(fitting.fit_together)

    def use_members(self, ensemble: int | tuple[dict[str, Any], ...]) -> None:
        """Replaces the ``ensemble`` setting by the members a fit kept: the one change of a setting after construction."""
        self.__dict__["ensemble"] = ensemble
        self._member_settings = population.member_settings(ensemble, self.seed, self.learning_rate, self.weight_decay)

    def holdout_size(self) -> int | None:
        # One validation window per held-back target close; a direct model's window also
        # targets the H - 1 closes after its first.
        n_val = None if self.metrics_ is None else int(self.metrics_.get("n_val_windows") or 0)
        return n_val and n_val + (self.direct_steps or 1) - 1

    def planned_holdout(self, n: int) -> int | None:
        steps = self.direct_steps or 1
        return prepared.planned_holdout(n - self.min_fit_length + 1, steps, self._fraction())

    def update(self, data: Any, *, epochs: int = 5, interval: Any = None, allow_gap: bool = False) -> Self:
        """Continues training on the prices that came after the ones the model has seen (online learning).

        The new prices must continue the model's last one (``continuation``: dated data at
        the model's interval, an overlap checked and dropped, a gap refused unless
        ``allow_gap``, undated data only with ``interval=``). With the model's last window
        they give one window per new price, which train the current params from the saved
        optimiser state for ``epochs`` epochs (no early stopping, every member in one call;
        the fitted encoding kept). The forecasts from each new origin first join the
        calibration residuals. A global model takes ``{name: new prices}`` or a long frame
        of some or all of its series (``global_models.update``).

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
        validation.check_bool("allow_gap", allow_gap)
        if self.series_ is not None:
            global_lib.update(self, data, epochs=epochs, interval=interval, allow_gap=allow_gap)
            return self
        keep = self._max_calibration_origins
        continuation.update(self, data, epochs=epochs, interval=interval, allow_gap=allow_gap, keep=keep)
        return self

    def observe(self, data: Any, *, interval: Any = None) -> Self:
        """``Forecaster.observe``; a global model takes ``{name: newer prices}`` or a long frame of some or all of its series."""
        if self.series_ is None:
            return super().observe(data, interval=interval)
        self._check_fitted()
        global_lib.observe(self, data, interval)
        return self

    # ------------------------------------------------------------------ prediction

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many(window[None, :], steps)[0]

    def _predict_many(self, price_windows: Any, steps: int) -> np.ndarray:
        return type(self)._predict_rows([self], [price_windows], steps)[0]

    member_forecasts = rows.member_forecasts
    member_rows = classmethod(rows.forecast_members)
    _predict_rows = classmethod(rows.predict_models)

    def forecast_plan(self, steps: int) -> rows.ForecastPlan:
        """How this model forecasts ``steps`` steps as rows of the runner (``rows.forecast_rows``); a direct model refuses more steps than its head emits."""
        self._check_one_series()
        prepared.check_direct_steps(steps, self.direct_steps, self.features, self)
        assert self.encoding_state_ is not None, "fitted models have an encoding state"
        fitted = (self.encoding_state_, self.feature_state_ or {})
        members = [params for params, _ in fitting.member_trees(self)]
        return rows.forecast_plan(self.model_config, self.model_inputs, fitted, members, steps, self.direct_steps)

    band_offsets = quantile_heads.model_band_offsets

    def quantile_offsets(self) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        """``{level: (lower [H], upper [H])}`` log offsets of the quantile heads on ``forecast_window()``.

        Read from the network once per fitted params and window (an ensemble averages its
        members' price quantiles), widened by the margins ``fit`` calibrated on the
        held-back tail (``quantile_heads.offsets``).
        """
        self._check_fitted()
        if not self._quantiles:
            raise ValueError(f"quantile_offsets needs band='quantile' (quantile heads), got band={self.band!r}")
        window = self.forecast_window()
        key = (id(self.params_), window.tobytes())
        memo = self.__dict__.get("_quantile_memo")
        if memo is None or memo[0] != key:
            memo = (key, quantile_heads.offsets(quantile_heads.model_rows(self, window[None])[0], self.band_))
            self.__dict__["_quantile_memo"] = memo
        return memo[1]

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> Any:
        """The band of ``Forecaster``; an ensemble's is also never narrower than its members' range (``population.widened``)."""
        forecast = super()._forecast_from(predicted, confidence)
        if self.n_members == 1 or self.band == "volatility":
            return forecast
        members = self.member_forecasts(self.forecast_window()[None], predicted.shape[0])[:, 0]
        return population.widened(forecast, members)

    def _check_fitted(self) -> None:
        if self.params_ is None:
            raise RuntimeError("LSTMForecaster is not fitted yet: call fit(data) or LSTMForecaster.load(path) first")

    def _check_one_series(self) -> None:
        if self.series_ is not None:
            raise global_lib.one_series_only(self)

    def check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        if self.features != (feature_lib.CLOSE,):
            head = f", and the head forecasts {self.direct_steps} steps"
            prepared.check_candles(self.model_inputs, name, value, minimum, purpose, repr(self), head)
        return super().check_prices(name, value, minimum, purpose)

    def check_window(self, window: Any) -> np.ndarray:
        # Models that read several columns also take a window as candles (a DataFrame,
        # OHLCV, ccxt rows): its last window_length rows. An array is [time, columns].
        if len(self.input_columns) > 1 and not isinstance(window, np.ndarray) and not isinstance(window, jax.Array):
            window = self.read_data(window, "window")[0][-self.window_length :]
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
