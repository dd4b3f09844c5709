"""``Forecaster``: the public base class of every forecaster, and what ``backtest`` accepts.

Conventions (scikit-learn's and Darts'): every setting is a validated constructor argument
(``get_params`` / ``set_params``); ``fit(data)`` returns ``self``; ``predict_multi_step(window,
steps)`` forecasts from any window; ``forecast(horizon | steps)`` continues the fitted
series with a prediction band.

Writing your own: subclass ``Forecaster``, call ``super().__init__(band=band,
calibration=calibration)`` from a constructor whose keyword arguments are your settings
(store each under its own name), and implement

* ``_fit(self, prices)``: learn from ``[time]`` validated positive prices (optional), and
* ``_predict(self, window, steps)``: ``[steps]`` price forecasts after a ``[time]`` window.

That is all ``fit``, ``forecast``, the bands and ``jaxlstm.evaluation.backtest`` need.
Optionally override ``_predict_many`` (many windows at once), ``_fit_together`` and
``_predict_together`` (many models at once, e.g. in one compiled call).

The band (``band=``, chosen at construction and recorded in every ``Forecast``):

* ``"conformal"``: split-conformal quantiles of the forecaster's own multi-step errors on
  fitted data its parameters did not see. Where those errors come from is
  ``calibration``: ``"auto"`` scores the held-back validation tail of a model trained with
  one (``LSTMForecaster``) and otherwise a copy refitted on the head of the series;
  ``"refit"`` always uses the head refit; ``"both"`` takes the wider of the two at every
  step.
* ``"adaptive"``: the conformal band whose quantile level is moved by adaptive conformal
  inference through the calibration origins in time order (``intervals.adaptive_confidence``).
* ``"volatility"``: the seed's band, ``exp(-/+ z * sigma * sqrt(step))`` around the forecast.

One band method per fitted model, for every horizon: the conformal band is calibrated once
on the first ``_band_steps`` (168) forecast steps, and the band of step ``k`` is the same
whatever horizon is asked for (see ``band_offsets`` for the rule). A model with too few
out-of-sample residuals uses the volatility band for every horizon.

Data without timestamps has no time axis: give ``fit(prices, interval="1h")`` to forecast a
horizon such as ``"1d"`` (or ask for ``steps=``); its forecasts have ``timestamps=None``.

Forecasters that read more than the close (``LSTMForecaster(features=...)``) say which
candle columns through ``input_columns``; their series is then ``[time, columns]`` with
the close first, read by ``read_series`` from candles (OHLCV DataFrame, ``OHLCV``, ccxt
rows, CSV path), and everything that is about prices (volatility, calibration residuals,
scores) uses its close column.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import intervals
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts
from jaxlstm._src.io import frames
from jaxlstm._src.io.pandas_import import is_pandas
from jaxlstm._src.io.series import close_of, fingerprint, read_series, regular_series
from jaxlstm._src.prep import fingerprints, horizons
from jaxlstm._src.prep import gaps as gap_lib

#: Values of ``calibration``.
CALIBRATIONS: tuple[str, ...] = ("auto", "refit", "both")
#: Residual sources of ``calibration_residuals`` (``"both"`` combines the two).
CALIBRATION_SOURCES: tuple[str, ...] = ("auto", "refit")


def check_calibration(calibration: Any) -> str:
    """Returns ``calibration`` if it names a calibration, else raises ``ValueError``."""
    return validation.check_choice("calibration", calibration, CALIBRATIONS)


class Forecaster:
    """Base class: settings in the constructor, ``fit(data) -> self``, ``forecast(...) -> Forecast``.

    Args:
        band: ``"conformal"``, ``"adaptive"`` or ``"volatility"`` (see the module docstring).
        calibration: ``"auto"``, ``"refit"`` or ``"both"``: where conformal residuals come from.

    Attributes set by ``fit``: ``prices_`` (what ``forecast`` continues), ``last_timestamp_``,
    ``interval_`` (the data's own spacing), ``volatility_`` (one-step log-return
    standard deviation, for the volatility band) and ``trained_on_`` (a
    ``DataFingerprint`` of the fitted series, see ``fingerprint``).
    """

    #: Short name used in tables and forecasts.
    name: ClassVar[str] = "forecaster"
    #: Most origins a head-refit calibration scores (see ``_calibration_source``).
    _max_calibration_origins: ClassVar[int] = 1000
    #: Forecast steps the conformal band is calibrated on (see ``band_offsets``); a subclass
    #: that forecasts at most ``k`` steps sets ``k``.
    _band_steps: ClassVar[int] = 168

    def __init__(self, *, band: str = "conformal", calibration: str = "auto") -> None:
        self.band = intervals.check_band(band)
        self.calibration = check_calibration(calibration)
        self._reset_fitted()

    # ------------------------------------------------------------------ settings

    #: Settings that only label a model (nothing fitted depends on them): assignable at any time.
    _label_settings: ClassVar[tuple[str, ...]] = ("symbol",)
    _setting_names_of_class: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def _setting_names(cls) -> tuple[str, ...]:
        # Read on every attribute assignment (see __setattr__): computed once per class.
        names = cls.__dict__.get("_setting_names_of_class")
        if names is None:
            params = inspect.signature(cls.__init__).parameters.values()
            kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
            names = tuple(p.name for p in params if p.name != "self" and p.kind in kinds)
            cls._setting_names_of_class = names
        return names

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuses to reassign a setting: the constructor stores each once, ``set_params`` changes them.

        What the constructor derives from the settings (a network's shape, an ensemble's
        members) and everything ``fit`` learns were made for the values it saw; a setting
        changed under them would train, forecast or save something other than it says.
        """
        if name in self.__dict__ and name in self._setting_names() and name not in self._label_settings:
            raise AttributeError(
                f"{type(self).__name__}.{name} is read-only after construction: use "
                f"set_params({name}={value!r}), which validates it and leaves the model unfitted (fit again), "
                "or build a new model"
            )
        object.__setattr__(self, name, value)

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The constructor's defaults, ``{setting: value}`` (the one place defaults are written)."""
        params = inspect.signature(cls.__init__).parameters
        return {name: params[name].default for name in cls._setting_names()}

    def get_params(self) -> dict[str, Any]:
        """Every constructor argument and its value (the scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._setting_names()}

    def set_params(self, **settings: Any) -> Self:
        """Changes settings, validated as the constructor validates them; the model becomes unfitted.

        Returns:
            ``self``.
        """
        unknown = sorted(set(settings) - set(self._setting_names()))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no setting(s) {unknown}; settings: {list(self._setting_names())}"
            )
        fresh = type(self)(**{**self.get_params(), **settings})
        self.__dict__.clear()
        self.__dict__.update(fresh.__dict__)
        return self

    def __repr__(self) -> str:
        defaults = self.default_params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    def _reset_fitted(self) -> None:
        self.prices_: np.ndarray | None = None
        self.last_timestamp_: np.datetime64 | None = None
        self.interval_: np.timedelta64 | None = None
        self.volatility_: float | None = None
        self.trained_on_: fingerprints.DataFingerprint | None = None
        self._reset_calibration(None)

    def _reset_calibration(self, fit_prices: np.ndarray | None) -> None:
        # The calibration needs the whole fitted series; a model restored from a file has
        # only its last window, so it keeps None here (and its saved residuals, if any).
        self._fit_prices: np.ndarray | None = fit_prices
        # residual source -> (model and start from _calibration_source, residuals computed so far)
        self._calibration_cache: dict[str, tuple[tuple[Forecaster, int] | None, np.ndarray | None]] = {}
        # (source, confidence) -> the model's calibrated conformal band (None: too few residuals)
        self._band_cache: dict[tuple[str, float, str], tuple[np.ndarray, np.ndarray, str] | None] = {}

    # ------------------------------------------------------------------ sizes

    @property
    def min_fit_length(self) -> int:
        """Fewest prices ``fit`` accepts (2 are needed to measure volatility)."""
        return 2

    @property
    def min_window_length(self) -> int:
        """Fewest prices ``predict_multi_step`` accepts as a window."""
        return 1

    @property
    def window_length(self) -> int | None:
        """Prices of the window a forecast reads (None: the whole fitted series)."""
        return None

    def _min_window(self) -> int:
        return self.window_length or self.min_window_length

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The candle columns the forecaster reads, the close first (default: the close alone, a ``[time]`` series)."""
        return ("close",)

    def _read_series(
        self, data: Any, name: str, interval: Any = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
        """``read_series(data, name, self.input_columns, interval)``."""
        return read_series(data, name, self.input_columns, interval)

    # ------------------------------------------------------------------ fitting

    def fit(self, data: Any, *, interval: Any = None, gaps: str = "warn", **fit_options: Any) -> Self:
        """Learns what the forecaster needs from a price series.

        The model assumes equally spaced prices: step ``k`` of a window or a forecast is
        ``k`` intervals of time. Dated data whose steps are not all one interval (the
        interval is the median step) has gaps, handled as ``gaps`` says.

        Args:
            data: ``[time]`` prices in any form ``jaxlstm.data.as_price_series`` accepts
                (list, array, pandas Series/DataFrame, ccxt OHLCV rows, ``OHLCV``); all
                finite and > 0.
            interval: the spacing of data without timestamps (``"1h"``, ``"1d"``, a
                ``datetime.timedelta`` or ``pandas.Timedelta``), so that ``forecast("1d")``
                knows how many steps a day is. Data with timestamps has its own (a
                different ``interval`` is an error). Without either, forecasts take
                ``steps=`` only and have no timestamps.
            gaps: what to do with gaps in dated data: ``"warn"`` (default: a
                ``GapWarning`` with their count and the largest, then fit as given),
                ``"raise"`` (a ``ValueError``) or ``"fill"`` (carry the last close forward
                onto the regular grid: a missing candle is one in which nothing traded,
                open = high = low = close = the previous close, volume 0; ``trained_on_``
                still records the data as given).
            **fit_options: passed to ``_fit`` (e.g. ``verbose`` for ``LSTMForecaster``).

        Returns:
            ``self``, fitted.
        """
        gaps = gap_lib.check_gap_policy(gaps)
        given_interval = interval
        prices, timestamps, interval = self._read_series(data, "data", interval)
        prices = self._check_prices("data", prices, self.min_fit_length, "to fit")
        prices, timestamps, filled = regular_series(prices, timestamps, interval, gaps, "data", self.input_columns)
        self._fit(prices, **fit_options)
        self._adopt_series(prices, timestamps, interval, source=fingerprints.source_of(data))
        if filled:
            # The record of the data as given, which is what fingerprint(data) compares it with.
            self.trained_on_ = fingerprint(data, given_interval, self.input_columns)
        return self

    @classmethod
    def fit_many(
        cls,
        data: Any,
        *,
        interval: Any = None,
        gaps: str = "warn",
        workers: int | None = None,
        devices: Sequence[Any] | None = None,
        **settings: Any,
    ) -> dict[str, Self]:
        """Fits one model per symbol with the same settings (together, where the class can).

        Args:
            data: ``{symbol: prices}``, each in any form ``fit`` accepts, or a pandas
                DataFrame in the long format of Nixtla's libraries: columns ``unique_id``
                (the symbol), ``ds`` (the time) and ``y`` (the price), one row per symbol
                and time, in any order (see ``jaxlstm.data.split_long``).
            interval: the spacing of series without timestamps (see ``fit``).
            gaps: ``"warn"``, ``"raise"`` or ``"fill"``: gaps in a dated series (see ``fit``).
            workers, devices: how models trained together are run (see ``jaxlstm.train_many``).
            **settings: constructor arguments shared by every model.

        Returns:
            ``{symbol: fitted forecaster}`` in the order of ``data`` (of first appearance
            for a long frame).
        """
        if is_pandas(data, "DataFrame"):
            data = frames.split_long(data, name="data")
        if not isinstance(data, Mapping) or not data:
            raise TypeError(
                f"data must be a non-empty mapping of symbol -> prices or a long DataFrame (unique_id, ds, y), "
                f"got {type(data).__name__}"
            )
        if "symbol" in settings:
            raise TypeError("fit_many takes the symbols from data's keys, not from symbol=")
        gaps = gap_lib.check_gap_policy(gaps)
        takes_symbol = "symbol" in cls._setting_names()
        models, series, filled = {}, {}, set()
        for symbol, item in data.items():
            if not isinstance(symbol, str):
                raise TypeError(f"data keys must be symbol strings, got {type(symbol).__name__} {symbol!r}")
            model = cls(**{**settings, "symbol": symbol}) if takes_symbol else cls(**settings)
            name = f"data[{symbol!r}]"
            prices, timestamps, spacing = model._read_series(item, name, interval)
            prices = model._check_prices(name, prices, model.min_fit_length, "to fit")
            prices, timestamps, was_filled = regular_series(
                prices, timestamps, spacing, gaps, name, model.input_columns
            )
            if was_filled:
                filled.add(symbol)
            models[symbol], series[symbol] = model, (prices, timestamps, spacing)
        cls._fit_together(list(models.values()), [s[0] for s in series.values()], workers=workers, devices=devices)
        for symbol, model in models.items():
            model._adopt_series(*series[symbol], source=fingerprints.source_of(data[symbol]))
            if symbol in filled:
                model.trained_on_ = fingerprint(data[symbol], interval, model.input_columns)
        return models

    def _fit(self, prices: np.ndarray) -> None:
        """Learns from ``[time]`` validated prices (the whole fitted series). Default: nothing.

        A subclass may add keyword options (``LSTMForecaster``'s ``verbose``); ``fit`` passes them on.
        """

    @classmethod
    def _fit_together(
        cls, models: Sequence[Forecaster], prices: Sequence[np.ndarray], *, workers: Any = None, devices: Any = None
    ) -> None:
        """``_fit`` of many models on their own prices; override to train them in one call."""
        for model, p in zip(models, prices, strict=True):
            model._fit(p)

    def _adopt_series(
        self,
        prices: np.ndarray,
        timestamps: np.ndarray | None,
        interval: np.timedelta64 | None,
        source: str | None = None,
    ) -> None:
        """Records the fitted series: what ``forecast`` continues, its time axis, volatility and fingerprint."""
        self.prices_ = prices
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        self.interval_ = interval
        self.volatility_ = intervals.log_return_volatility(close_of(prices))
        # What jaxlstm.data.fingerprint(data, columns=self.input_columns) records of the same data.
        self.trained_on_ = fingerprints.fingerprint_series(prices, timestamps, interval, source, self.input_columns)
        self._reset_calibration(prices)

    # ------------------------------------------------------------------ prediction

    def predict_multi_step(self, window: Any, steps: int) -> np.ndarray:
        """Forecasts the ``steps`` prices that follow ``window``.

        Args:
            window: ``[time]`` the most recent prices, oldest first; finite and > 0.
            steps: number of future steps, >= 1.

        Returns:
            ``[steps]`` float64 price forecasts.
        """
        self._check_fitted()
        window = self._check_window(window)
        steps = validation.check_steps(steps)
        return self._checked_prices(self._predict(window, steps))

    def predict(self, window: Any) -> float:
        """The next price after ``window``."""
        return float(self.predict_multi_step(window, 1)[0])

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        """``[steps]`` price forecasts after a validated ``[time]`` window."""
        raise NotImplementedError(f"{type(self).__name__} must implement _predict(window, steps)")

    def _predict_many(self, windows: Sequence[np.ndarray], steps: int) -> np.ndarray:
        """``[len(windows), steps]`` forecasts, one ``_predict`` per window; override to batch."""
        return np.stack([np.asarray(self._predict(w, steps), np.float64) for w in windows])

    @classmethod
    def _predict_together(
        cls, models: Sequence[Forecaster], windows: Sequence[np.ndarray], steps: int, *, workers: int | None = None
    ) -> np.ndarray:
        """``[len(models), steps]``: each model's forecast from its window; override to batch."""
        return np.stack([np.asarray(m._predict(w, steps), np.float64) for m, w in zip(models, windows, strict=True)])

    def _checked_prices(self, predicted: Any) -> np.ndarray:
        """The one rule for every prediction path: finite and positive prices, else ValueError."""
        predicted = np.asarray(predicted, np.float64)
        bad = ~np.isfinite(predicted) | (predicted <= 0)
        if bad.any():
            first = int(np.flatnonzero(bad.reshape(-1))[0])
            value = predicted.reshape(-1)[first]
            what = "a non-finite value" if not np.isfinite(value) else f"a non-positive price {value:.6g}"
            raise ValueError(
                f"{self.name} forecast reaches {what} at step {first % predicted.shape[-1] + 1} of "
                f"{predicted.shape[-1]}: forecast fewer steps, or use a forecaster that works on log prices "
                "(the params may also be damaged: retrain)"
            )
        return predicted

    def forecast(self, horizon: Any = None, steps: int | None = None, confidence: float = 0.95) -> Forecast:
        """Continues the fitted series with point forecasts and a prediction band.

        Args:
            horizon: a span of time (``"1h"``, ``"1d"``, ``"36h"``, ``"90min"``, a
                ``datetime.timedelta`` or ``pandas.Timedelta``), a whole number of steps of
                the data's interval; exclusive with ``steps``. Data without timestamps
                needs ``fit(..., interval=)`` for it.
            steps: number of future steps, >= 1; exclusive with ``horizon``.
            confidence: nominal coverage of the band, in (0, 1).

        Returns:
            A ``Forecast`` with ``[steps]`` timestamps ``last + k * interval`` (None for
            data without timestamps), predictions, bounds ``lower <= predicted <= upper``
            and the model's band method.
        """
        self._check_fitted()
        steps = self._forecast_steps(horizon, steps)
        confidence = validation.check_fraction("confidence", confidence)
        predicted = self.predict_multi_step(self._forecast_window(), steps)
        return self._forecast_from(predicted, confidence)

    @classmethod
    def forecast_many(
        cls,
        forecasters: Mapping[str, Forecaster],
        horizon: Any = None,
        steps: int | None = None,
        confidence: float = 0.95,
        *,
        workers: int | None = None,
    ) -> Forecasts:
        """``forecast`` of many fitted models; models of one class and step count are forecast together.

        Each result equals the model's own ``forecast`` (to float rounding).

        Args:
            forecasters: ``{symbol: fitted forecaster}``, e.g. from ``fit_many``.
            horizon, steps, confidence: as in ``forecast``; a horizon is converted to steps
                with each model's own data interval.
            workers: how models forecast together are run (see ``jaxlstm.run_stacked``).

        Returns:
            ``Forecasts``, a ``{symbol: Forecast}`` dict in the order of ``forecasters``;
            its ``to_pandas()`` is one long DataFrame (``unique_id, ds, predicted, lower, upper``).
        """
        if not isinstance(forecasters, Mapping) or not forecasters:
            raise TypeError(
                f"forecasters must be a non-empty mapping of symbol -> fitted forecaster, got {type(forecasters).__name__}"
            )
        confidence = validation.check_fraction("confidence", confidence)
        if workers is not None:
            validation.check_positive_int("workers", workers)
        groups: dict[tuple[type[Forecaster], int], list[str]] = {}
        for symbol, model in forecasters.items():
            if not isinstance(model, cls):
                raise TypeError(
                    f"forecasters[{symbol!r}] must be an instance of {cls.__name__}, got {type(model).__name__}"
                )
            try:
                model._check_fitted()
            except RuntimeError as err:
                raise RuntimeError(f"forecasters[{symbol!r}]: {err}") from None
            groups.setdefault((type(model), model._forecast_steps(horizon, steps)), []).append(symbol)
        predicted: dict[str, np.ndarray] = {}
        for (kind, count), symbols in groups.items():
            models = [forecasters[s] for s in symbols]
            rows = kind._predict_together(models, [m._forecast_window() for m in models], count, workers=workers)
            for symbol, model, row in zip(symbols, models, rows):
                try:
                    predicted[symbol] = model._checked_prices(row)
                except ValueError as err:
                    raise ValueError(f"forecasters[{symbol!r}]: {err}") from None
        return Forecasts((s, forecasters[s]._forecast_from(predicted[s], confidence)) for s in forecasters)

    def _forecast_steps(self, horizon: Any, steps: int | None) -> int:
        """``forecast``'s step count from exactly one of ``horizon`` and ``steps``."""
        if (horizon is None) == (steps is None):
            got = "both" if horizon is not None else "neither"
            raise ValueError(f"forecast needs exactly one of horizon (e.g. '1d') or steps, got {got}")
        if horizon is not None:
            if self.interval_ is None:
                raise ValueError(
                    f"horizon {horizon!r} needs the spacing of the data, which had no timestamps: fit with "
                    "interval= (e.g. fit(prices, interval='1h')) or forecast steps= instead"
                )
            steps = horizons.horizon_to_steps(horizon, self.interval_)
        return validation.check_steps(steps)

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> Forecast:
        """The ``Forecast`` around ``[steps]`` checked point forecasts of the fitted series' continuation."""
        steps = predicted.shape[0]
        lower_offset, upper_offset, method = self.band_offsets(steps, confidence)
        lower, upper = intervals.apply_offsets(predicted, lower_offset, upper_offset)
        timestamps = (
            None
            if self.last_timestamp_ is None or self.interval_ is None
            else horizons.future_timestamps(self.last_timestamp_, self.interval_, steps)
        )
        return Forecast(
            timestamps=timestamps,
            predicted=predicted,
            lower=lower,
            upper=upper,
            confidence=confidence,
            symbol=getattr(self, "symbol", None),
            band=method,
        )

    def _forecast_window(self) -> np.ndarray:
        """The recent prices ``forecast`` continues from."""
        self._check_fitted()
        assert self.prices_ is not None
        length = self.window_length
        return self.prices_ if length is None else self.prices_[-length:]

    # ------------------------------------------------------------------ bands

    def band_offsets(self, steps: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, str]:
        """Log offsets of the prediction band: ``[lower, upper] = predicted * exp(offsets)``.

        The method is the model's, not the horizon's: with ``band="conformal"`` the band is
        calibrated once per residual source, by ``intervals.conformal_offsets``, on the
        leading steps (at most ``_band_steps``) that have enough out-of-sample residuals
        (``intervals.calibrated_steps``: per-step quantiles where every such step has 50,
        else pooled ones); a step past those grows like a random walk from the last
        calibrated one (``intervals.extend_offsets``). So the offsets of step ``k`` do not
        depend on ``steps``. A source without enough residuals adds nothing; with none
        left the model uses the volatility band, for every horizon.

        Args:
            steps: forecast steps, >= 1.
            confidence: nominal two-sided coverage, in (0, 1).

        Returns:
            ``(lower [steps], upper [steps], method)`` with ``lower <= 0 <= upper`` and
            ``method`` (``band_method``): one of the names listed in the docstring of
            ``jaxlstm._src.forecasters.intervals`` (``"conformal"``, ``"adaptive conformal
            pooled over steps"``, ``"wider of A and B"`` when ``calibration="both"``
            combined two sources, ``"volatility"``...).
        """
        self._check_fitted()
        steps = validation.check_steps(steps)
        confidence = validation.check_fraction("confidence", confidence)
        if self.band in ("conformal", "adaptive"):
            found = [self._conformal_band(source, confidence) for source in self._calibration_sources()]
            bands = [intervals.extend_offsets(b, steps) for b in found if b is not None]
            if bands:
                return intervals.envelope(bands)
        lower, upper = intervals.volatility_offsets(steps, self.volatility_ or 0.0, confidence)
        return lower, upper, "volatility"

    def band_method(self, confidence: float = 0.95) -> str:
        """The band method of every forecast of this fitted model at ``confidence`` (see ``band_offsets``)."""
        return self.band_offsets(1, confidence)[2]

    def _conformal_band(self, source: str, confidence: float) -> tuple[np.ndarray, np.ndarray, str] | None:
        """The conformal band of one residual source over its calibrated steps, or None (too few residuals)."""
        key = (source, confidence, self.band)
        if key not in self._band_cache:
            steps = self._band_steps
            _, restored = self._calibration_cache.get(source, (None, None))
            if restored is not None and self._fit_prices is None:
                # A model restored from a file has residuals for the steps it saved, no more.
                steps = min(steps, max(restored.shape[1], 1))
            residuals = self.calibration_residuals(steps, source)
            calibrated = intervals.calibrated_steps(residuals, confidence)
            gamma = intervals.ADAPTIVE_GAMMA if self.band == "adaptive" else 0.0
            self._band_cache[key] = (
                intervals.conformal_band(residuals[:, :calibrated], confidence, adaptive=gamma) if calibrated else None
            )
        return self._band_cache[key]

    def calibration_residuals(self, steps: int, source: str | None = None) -> np.ndarray:
        """Out-of-sample log-ratio errors of the forecaster's own multi-step forecasts.

        From every origin ``s`` of the calibration part of the fitted series (see
        ``_calibration_source``) the calibration model forecasts ``steps`` prices from the
        window ending before ``s`` (the window ``forecast`` uses), and each is compared with
        the fitted price it forecasts. Nothing after the fitted series is used, and the model
        that made a residual never saw the price it is scored on.

        Args:
            steps: forecast steps, >= 1.
            source: ``"auto"`` or ``"refit"``; None: the first source ``calibration`` uses.

        Returns:
            ``[origins, steps]`` residuals ``log(actual / predicted)``, NaN where the step
            falls past the end of the fitted series; ``[0, steps]`` when there is no
            out-of-sample part (too short a series, or a model restored without residuals).
        """
        self._check_fitted()
        steps = validation.check_steps(steps)
        if source is None:
            source = self._calibration_sources()[0]
        elif source not in CALIBRATION_SOURCES:
            raise ValueError(f"source must be one of {CALIBRATION_SOURCES} or None, got {source!r}")
        prices = self._fit_prices
        if source not in self._calibration_cache:
            found = None if prices is None else self._calibration_source(prices, source)
            self._calibration_cache[source] = (found, None)
        found, residuals = self._calibration_cache[source]
        if residuals is not None and residuals.shape[1] >= steps:
            return np.asarray(residuals[:, :steps])
        if found is None or prices is None:
            # Residuals restored from a saved model (see restore_calibration) cover only their own steps.
            return np.zeros((0, steps))
        model, start = found
        n = prices.shape[0]
        origins = np.arange(max(int(start), self._min_window()), n)
        if origins.size == 0:
            return np.zeros((0, steps))
        length = self.window_length
        windows = [prices[max(0, s - length) : s] if length else prices[:s] for s in origins]
        predicted = np.asarray(model._predict_many(windows, steps), np.float64)
        index = origins[:, None] + np.arange(steps)[None, :]
        actual = np.where(index < n, close_of(prices)[np.minimum(index, n - 1)], np.nan)
        residuals = intervals.log_ratio_residuals(actual, predicted)
        self._calibration_cache[source] = (found, residuals)
        return residuals

    def calibration_state(self, steps: int) -> dict[str, list[list[float | None]]]:
        """JSON-ready calibration residuals, so that a saved model keeps its conformal band.

        Args:
            steps: the most forecast steps the restored model should calibrate (e.g. 168).

        Returns:
            ``{source: [origins][steps] residuals}`` for each source ``calibration`` uses,
            with None for NaN; pass it to ``restore_calibration`` after loading.
        """
        state = {}
        for source in self._calibration_sources():
            residuals = self.calibration_residuals(steps, source)
            state[source] = [[float(x) if np.isfinite(x) else None for x in row] for row in residuals]
        return state

    def restore_calibration(self, state: Mapping[str, Sequence[Sequence[float | None]]]) -> None:
        """Takes back ``calibration_state`` output on a model restored without its fitted series.

        Forecasts then get the same band as the model that was saved, when the state holds
        at least ``_band_steps`` steps (``LSTMForecaster.save`` keeps that many).

        Args:
            state: ``{source: [origins][steps] residuals}`` from ``calibration_state``.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must map calibration sources to residual rows, got {type(state).__name__}")
        for source, rows in state.items():
            if source not in CALIBRATION_SOURCES:
                raise ValueError(f"state has an unknown calibration source {source!r}; known: {CALIBRATION_SOURCES}")
            try:
                residuals = np.array([[np.nan if x is None else x for x in row] for row in rows], np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"state[{source!r}] must be rows of numbers or None, got {err}") from None
            width = residuals.shape[1] if residuals.ndim == 2 else 0
            if residuals.size and residuals.ndim != 2:
                raise ValueError(f"state[{source!r}] must be [origins][steps] rows of one length")
            self._calibration_cache[source] = (None, residuals.reshape(len(rows), width))
        self._band_cache.clear()

    def _calibration_sources(self) -> tuple[str, ...]:
        """The residual sources ``calibration`` combines: one, or ``("auto", "refit")`` for ``"both"``."""
        if self.calibration != "both":
            return (self.calibration,)
        # Without a held-back tail "auto" is the head refit too: one source is enough.
        return ("auto", "refit") if self._holdout_size() else ("refit",)

    def _holdout_size(self) -> int | None:
        """Number of trailing fitted prices the parameters were NOT fitted on, or None (they saw all)."""
        return None

    def _refit_cut(self, n: int) -> int | None:
        """Where a head-refit calibration copy stops fitting (None: too short to calibrate)."""
        cut = max(self.min_fit_length, self._min_window(), n // 2, n - self._max_calibration_origins)
        return cut if n - cut >= 2 else None

    def _unfitted_copy(self) -> Forecaster:
        """A copy with the same settings and no fitted state (for calibration refits)."""
        return type(self)(**self.get_params())

    def _calibration_source(self, prices: np.ndarray, source: str) -> tuple[Forecaster, int] | None:
        """The model whose forecasts are out-of-sample from a fitted index on, and that index.

        ``source="auto"`` uses a held-back tail (``_holdout_size``) as it is:
        ``(self, n - holdout)``, or None when it is empty. Otherwise (no held-back tail, or
        ``source="refit"``) a copy is refitted on the head ``prices[:cut]`` and scored on the
        rest (see ``_refit_cut``). The refit model is not the one that forecasts, but it is
        the same method on a little less data, so its errors are if anything a little larger.

        How long the scored stretch is matters more than it seems: on hourly BTC/USD, 95%
        bands calibrated on the last 100 origins covered about 85% of later prices, on
        the last 500 about 94%, because a short stretch rarely holds a large move. A
        held-back tail, on the other hand, scores the very model that forecasts, so it also
        sees when that model came out badly; ``calibration="both"`` gets both.
        """
        n = prices.shape[0]
        holdout = self._holdout_size() if source == "auto" else None
        if holdout is not None:
            return (self, n - holdout) if holdout > 0 else None
        cut = self._refit_cut(n)
        if cut is None:
            return None
        head = self._unfitted_copy()
        head._fit(prices[:cut])
        return head, cut

    @classmethod
    def _calibrate_together(cls, models: Sequence[Forecaster], **runner: Any) -> None:
        """Fits the head-refit calibration copies of many fitted models in one ``_fit_together``.

        The same copies each model would fit on first use (``_calibration_source``), made
        together so that a class that trains many models in one call does so here too.
        """
        pending: list[tuple[Forecaster, list[str], Forecaster, np.ndarray, int]] = []
        for model in models:
            prices = model._fit_prices
            refit = [s for s in model._calibration_sources() if s == "refit" or model._holdout_size() is None]
            if model.band not in ("conformal", "adaptive") or prices is None or not refit:
                continue
            cut = model._refit_cut(prices.shape[0])
            if cut is not None:
                pending.append((model, refit, model._unfitted_copy(), prices, cut))
        if not pending:
            return
        cls._fit_together([p[2] for p in pending], [p[3][: p[4]] for p in pending], **runner)
        for model, sources, head, _, cut in pending:
            for source in sources:
                model._calibration_cache[source] = ((head, cut), None)
            model._band_cache.clear()

    # ------------------------------------------------------------------ checks

    def _check_fitted(self) -> None:
        if self.prices_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(data) first")

    def _check_window(self, window: Any) -> np.ndarray:
        window = self._check_prices("window", window, self._min_window(), "to forecast from")
        length = self.window_length
        if length is not None and window.shape[0] != length:
            raise ValueError(f"window must hold exactly {length} prices for {self!r}, got {window.shape[0]}")
        return window

    def _check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        columns = self.input_columns
        prices = validation.as_float_array(name, value, ndim=1 if len(columns) == 1 else 2)
        if prices.ndim == 2 and prices.shape[1] != len(columns):
            raise ValueError(
                f"{name} must be [time, {len(columns)}] candles with the columns {list(columns)}, got shape {prices.shape}"
            )
        if prices.shape[0] < minimum:
            raise ValueError(
                f"{name} must have at least {minimum} prices {purpose} with {self!r}, got {prices.shape[0]}"
            )
        # Every column but the volume is a price.
        price_columns = prices if prices.ndim == 1 else prices[:, [i for i, c in enumerate(columns) if c != "volume"]]
        if np.any(price_columns <= 0):
            first = int(
                np.flatnonzero(np.any(price_columns <= 0, axis=-1) if prices.ndim == 2 else price_columns <= 0)[0]
            )
            value = np.min(price_columns[first])
            raise ValueError(f"{name} must contain only positive prices, got {value:.6g} at index {first}")
        return prices

    def __deepcopy__(self, memo: dict[int, Any]) -> Forecaster:
        # Calibration caches hold other models; copying them along would copy a chain of models.
        clone = copy.copy(self)
        clone.__dict__ = copy.deepcopy({k: v for k, v in self.__dict__.items() if k != "_calibration_cache"}, memo)
        clone._calibration_cache = {}
        return clone
