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
``_predict_rows`` (many models at once, e.g. in one compiled call), ``holdout_size`` and
``planned_holdout`` (a model that holds prices back from its parameters) and
``_calibration_scorers`` (which models' forecasts make the residuals). A model that can be
saved implements ``saved_parts`` and ``from_saved``; ``save``, ``load``, ``to_json`` and
``from_json`` (and with them the model cache) then work for it.

The public protocol (what ``backtest``, ``tune``, the model cache and the benchmarks use;
none of them touches a private member):

* ``fit_rows(models, series, ...)``: fits models of one class on their validated series and
  calibrates their bands; the models train in one ``_fit_together`` (one runner call for
  ``LSTMForecaster``), then their head-refit calibration copies in another (each no longer
  than its model's kept params trained, ``_refit_budget``), and every calibration forecast
  is one ``predict_rows``. ``fit`` and ``fit_many`` are this plus reading and checking data.
* ``predict_rows(models, windows, steps)``: each model's ``[N_i, steps]`` forecasts from its
  own windows (unchecked); ``predict_windows`` for one model; ``check_forecast`` the rule
  for what reaches a user; ``forecast_window`` and ``forecast_from(predicted, confidence)``
  the window ``forecast`` continues and the ``Forecast`` around point forecasts.
* ``check_prices``, ``min_window``, ``setting_names``, ``default_params``, ``holdout_size``,
  ``planned_holdout``, ``calibration_sources``, ``band_steps``, and the fitted ``band_``
  and ``calibration_models_``.

The band (``band=``, chosen at construction and recorded in every ``Forecast``) is one
object per method (``jaxlstm._src.forecasters.bands``), built by ``fit`` (``band_``):

* ``"conformal"``: split-conformal quantiles of the forecaster's own multi-step errors on
  fitted data its parameters did not see. Where those errors come from is
  ``calibration``: ``"auto"`` scores the held-back validation tail of a model trained with
  one (``LSTMForecaster``) and otherwise a copy refitted on the head of the series;
  ``"refit"`` always uses the head refit; ``"both"`` takes the wider of the two at every
  step. The copies are trained by ``fit``, with the model: ``forecast`` never trains.
* ``"adaptive"``: the conformal band whose quantile level is moved by adaptive conformal
  inference through the calibration origins in time order (``intervals.adaptive_confidence``).
* ``"volatility"``: the seed's band, ``exp(-/+ z * sigma * sqrt(step))`` around the forecast.

One band method per fitted model, for every horizon: the conformal band is calibrated once
on the first ``band_steps`` (168) forecast steps, and the band of step ``k`` is the same
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

import dataclasses
import inspect
import os
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Self, cast

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import bands, intervals
from jaxlstm._src.forecasters.forecast import Forecast, Forecasts, check_band_request
from jaxlstm._src.io import model_files
from jaxlstm._src.io.pandas_import import is_pandas
from jaxlstm._src.io.series import (
    close_of,
    fingerprint,
    is_long,
    is_many,
    read_series,
    regular_series,
    select_columns,
    split_long,
)
from jaxlstm._src.prep import business_days, calendars, fingerprints, horizons, windows
from jaxlstm._src.prep import gaps as gap_lib

#: Values of ``calibration``.
CALIBRATIONS: tuple[str, ...] = ("auto", "refit", "both")
#: Residual sources of ``calibration_residuals`` (``"both"`` combines the two).
CALIBRATION_SOURCES: tuple[str, ...] = ("auto", "refit")


def check_calibration(calibration: Any) -> str:
    """Returns ``calibration`` if it names a calibration, else raises ``ValueError``."""
    return validation.check_choice("calibration", calibration, CALIBRATIONS)


class CalibrationSource(NamedTuple):
    """Where a calibration source's residuals come from: a fitted model, scored from index ``start`` of the fitted series."""

    model: Forecaster
    start: int


def _windows_before(series: np.ndarray, origins: np.ndarray, length: int | None) -> Any:
    """The window ending before each origin: ``[N, length(, columns)]``, or a list of whole heads when ``length`` is None."""
    if length:
        return windows.windows_before(series, origins, length)
    return [series[:s] for s in origins]


class ManySeries(NamedTuple):
    """One series of a mapping, read for its model: ``(model, prices, timestamps, interval, filled)``."""

    model: Forecaster
    prices: np.ndarray
    timestamps: np.ndarray | None
    interval: np.timedelta64 | None
    filled: bool


def read_many(
    data: Any, make: Any, interval: Any = None, gaps: str = "warn"
) -> tuple[Mapping[str, Any], dict[str, ManySeries]]:
    """Reads and checks every series of ``{name: prices}`` or a long ``unique_id, ds, y`` frame for its own model.

    The one reading of many series (``fit_many``, global fits): each series is read with
    the columns of the model ``make(name)`` builds, checked against its ``min_fit_length``
    and put on a regular grid as ``gaps`` says; messages name ``data[name]``.

    Args:
        data: a non-empty mapping of name -> prices (any form ``fit`` accepts) or a long DataFrame.
        make: ``name -> unfitted model`` for that series.
        interval, gaps: as ``fit`` takes them.

    Returns:
        ``(data as a mapping, {name: ManySeries})`` in the order of ``data`` (of first appearance for a long frame).
    """
    if is_pandas(data, "DataFrame") or is_long(data):
        data = split_long(data, name="data")
    if not isinstance(data, Mapping) or not data:
        raise TypeError(
            f"data must be a non-empty mapping of symbol -> prices or a long DataFrame (unique_id, ds, y), "
            f"got {type(data).__name__}" + (" with no series" if isinstance(data, Mapping) else "")
        )
    gaps = gap_lib.check_gap_policy(gaps)
    found: dict[str, ManySeries] = {}
    for symbol, item in data.items():
        if not isinstance(symbol, str):
            raise TypeError(f"data keys must be symbol strings, got {type(symbol).__name__} {symbol!r}")
        model = make(symbol)
        found[symbol] = ManySeries(model, *read_to_fit(model, item, f"data[{symbol!r}]", interval, gaps))
    return data, found


def _saved_class(name: str) -> type[Forecaster] | None:
    """The nearest subclass of ``Forecaster`` called ``name`` that implements ``from_saved``, if one is imported."""
    queue = list(Forecaster.__subclasses__())
    while queue:
        kind = queue.pop(0)
        if kind.__name__ == name and kind.from_saved.__func__ is not Forecaster.from_saved.__func__:  # type: ignore[attr-defined]
            return kind
        queue.extend(kind.__subclasses__())
    return None


def read_to_fit(
    model: Forecaster, data: Any, name: str, interval: Any, gaps: str
) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None, bool]:
    """``(prices, timestamps, interval, filled)``: one series read, checked and put on its grid for an unfitted model's fit.

    The one reading of data to fit on (``fit``, ``fit_many``, global fits). Only the columns
    data has are read (``calendars.data_columns``): ``fit_rows`` adds a calendar's clock and a
    seasonal encoding's positions, after the gaps are filled, so that a filled step carries
    its own time.
    """
    columns = calendars.data_columns(model.input_columns)
    prices, timestamps, spacing = read_series(data, name, columns, interval)
    if calendars.POSITION_COLUMN in model.input_columns:
        # Checked as the model's windows hold them (fit_rows numbers the positions).
        checked = model.check_prices(name, calendars.with_positions(prices), model.min_fit_length, "to fit")
        prices = select_columns(checked, model.input_columns, columns)
    else:
        prices = model.check_prices(name, prices, model.min_fit_length, "to fit")
    prices, timestamps, filled = regular_series(prices, timestamps, spacing, gaps, name, columns)
    return prices, timestamps, spacing, filled


class Forecaster:
    """Base class: settings in the constructor, ``fit(data) -> self``, ``forecast(...) -> Forecast``.

    Args:
        band: ``"conformal"``, ``"adaptive"`` or ``"volatility"`` (see the module docstring).
        calibration: ``"auto"``, ``"refit"`` or ``"both"``: where conformal residuals come from.

    Attributes set by ``fit``: ``prices_`` (what ``forecast`` continues), ``last_timestamp_``,
    ``interval_`` (the data's own spacing), ``volatility_`` (the one-step log-return
    scale of the volatility band: ``price_volatility``) and ``trained_on_`` (a
    ``DataFingerprint`` of the fitted series, see ``fingerprint``).
    """

    #: Short name used in tables and forecasts.
    name: ClassVar[str] = "forecaster"
    #: Most origins a head-refit calibration scores (see ``_refit_cut``).
    _max_calibration_origins: ClassVar[int] = 1000
    #: Forecast steps the conformal band is calibrated on (see ``band_offsets``); a subclass
    #: that forecasts at most ``k`` steps sets ``k``.
    band_steps: ClassVar[int] = bands.BAND_STEPS

    def __init__(self, *, band: str = "conformal", calibration: str = "auto") -> None:
        self.band = intervals.check_band(band)
        self.calibration = check_calibration(calibration)
        self._reset_fitted()

    # ------------------------------------------------------------------ settings

    #: Settings that only label a model (nothing fitted depends on them): assignable at any time.
    _label_settings: ClassVar[tuple[str, ...]] = ("symbol",)
    _setting_names_of_class: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def check_setting_names(cls, settings: Mapping[str, Any]) -> None:
        """Raises ``ValueError`` naming the keys of ``settings`` that are none of ``setting_names()``, and listing those."""
        unknown = sorted(set(settings) - set(cls.setting_names()))
        if unknown:
            raise ValueError(f"{cls.__name__} has no setting(s) {unknown}; settings: {list(cls.setting_names())}")

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The names of the constructor's settings (what ``get_params`` returns), in order."""
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
        if name in self.__dict__ and name in self.setting_names() and name not in self._label_settings:
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
        return {name: params[name].default for name in cls.setting_names()}

    def get_params(self) -> dict[str, Any]:
        """Every constructor argument and its value (the scikit-learn convention)."""
        return {name: getattr(self, name) for name in self.setting_names()}

    def set_params(self, **settings: Any) -> Self:
        """Changes settings, validated as the constructor validates them; the model becomes unfitted.

        Returns:
            ``self``.
        """
        self.check_setting_names(settings)
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
        #: The fitted band method (``bands.Band``), made by ``fit`` from the calibration residuals.
        self.band_: bands.Band | None = None
        #: ``{source: CalibrationSource(model, start)}``: the models whose forecasts made the
        #: residuals of the last fit (the model itself for a held-back tail, a head refit
        #: otherwise); empty after ``load`` or ``update``.
        self.calibration_models_: dict[str, CalibrationSource] = {}

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

    def min_window(self) -> int:
        """Fewest prices a forecast reads: ``window_length``, else ``min_window_length``."""
        return self.window_length or self.min_window_length

    @property
    def input_columns(self) -> tuple[str, ...]:
        """The candle columns the forecaster reads, the close first (default: the close alone, a ``[time]`` series)."""
        return ("close",)

    def read_data(
        self, data: Any, name: str, interval: Any = None
    ) -> tuple[np.ndarray, np.ndarray | None, np.timedelta64 | None]:
        """``(series, timestamps, interval)`` of new data for a fitted model, as its windows hold it (``input_columns``)."""
        return read_series(data, name, self.input_columns, interval)

    # ------------------------------------------------------------------ fitting

    def fit(self, data: Any, *, interval: Any = None, gaps: str = "warn", **fit_options: Any) -> Self:
        """Learns what the forecaster needs from a price series, and calibrates its band.

        The model assumes equally spaced prices: step ``k`` of a window or a forecast is
        ``k`` intervals of time. Dated data whose steps are not all one interval (the
        interval is the median step) has gaps, handled as ``gaps`` says. Everything the
        band needs (a head-refit copy, the calibration forecasts) is done here, right after
        the model's own training (``fit_rows``): ``forecast`` never trains.

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
        if is_many(data):
            kind = "a mapping of series" if isinstance(data, Mapping) else "a long frame of many series"
            raise ValueError(
                f"data is {kind}, but {type(self).__name__}.fit fits one series: "
                f"{type(self).__name__}.fit_many(data) fits one model per series"
            )
        gaps = gap_lib.check_gap_policy(gaps)
        given_interval = interval
        prices, timestamps, interval, filled = read_to_fit(self, data, "data", interval, gaps)
        type(self).fit_rows(
            [self],
            [prices],
            timestamps=[timestamps],
            interval=interval,
            source=fingerprints.source_of(data),
            **fit_options,
        )
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
        if "symbol" in settings:
            raise TypeError("fit_many takes the symbols from data's keys, not from symbol=")
        cls.check_setting_names(settings)
        takes_symbol = "symbol" in cls.setting_names()
        data, found = read_many(
            data,
            lambda symbol: cls(**{**settings, "symbol": symbol}) if takes_symbol else cls(**settings),
            interval,
            gaps,
        )
        cls.fit_rows(
            [item.model for item in found.values()],
            [item.prices for item in found.values()],
            timestamps=[item.timestamps for item in found.values()],
            interval=[item.interval for item in found.values()],
            source=[fingerprints.source_of(item) for item in data.values()],
            workers=workers,
            devices=devices,
        )
        for symbol, item in found.items():
            if item.filled:
                item.model.trained_on_ = fingerprint(data[symbol], interval, item.model.input_columns)
        return {symbol: cast(Self, item.model) for symbol, item in found.items()}

    @classmethod
    def fit_rows(
        cls,
        models: Sequence[Forecaster],
        series: Sequence[np.ndarray],
        *,
        timestamps: Sequence[np.ndarray | None] | None = None,
        interval: Any = None,
        source: Any = None,
        workers: int | None = None,
        devices: Sequence[Any] | None = None,
        **fit_options: Any,
    ) -> None:
        """Fits each model on its own validated series and calibrates its band: one training call where the class can.

        The protocol ``fit``, ``fit_many``, ``backtest``, ``tune`` and the cache fit through.
        The models are trained by one ``_fit_together`` (for ``LSTMForecaster``: one call of
        ``stacked.run_stacked`` over a leading rows axis), then the head-refit copies their
        calibration needs (``calibration_models_``) by another, each with its model's
        ``_refit_budget``; then every calibration forecast is made by one ``predict_rows``,
        each origin only for the steps that fall on a fitted price. Afterwards each model
        is fitted as by ``fit``: ``prices_``, ``band_`` and the rest are set.

        Args:
            models: unfitted (or to be refitted) forecasters of this class.
            series: one ``[time]`` (or ``[time, columns]``) validated series per model
                (see ``check_prices``).
            timestamps: per model its ``[time]`` timestamps or None; None: no timestamps.
            interval: the series' interval (one for all, or one per model), or None.
            source: the data's source for ``trained_on_`` (one for all, or one per model).
            workers, devices: how models trained together are run (see ``jaxlstm.run_stacked``).
            **fit_options: passed to ``_fit_together`` (``verbose`` for ``LSTMForecaster``).
        """
        models, series = list(models), list(series)
        if len(models) != len(series):
            raise ValueError(f"fit_rows needs one series per model, got {len(models)} models and {len(series)} series")
        per = lambda value: list(value) if isinstance(value, (list, tuple)) else [value] * len(models)
        stamps = [None] * len(models) if timestamps is None else list(timestamps)
        intervals_, sources = per(interval), per(source)
        heads: list[dict[str, CalibrationSource]] = [{} for _ in models]
        cls._fit_together(models, series, workers=workers, devices=devices, **fit_options)
        # A head refit stands in for the model it calibrates, so it is copied from the fitted
        # model (an ensemble's kept members) and trains no longer than that model's params
        # did (``_refit_budget``), which is known only now: the copies are a second call.
        copies: list[tuple[int, tuple[str, ...], Forecaster, int]] = []
        for i, (model, prices) in enumerate(zip(models, series)):
            refit = model._refit_sources(prices.shape[0])
            cut = model._refit_cut(prices.shape[0]) if refit else None
            if cut is not None:
                copies.append((i, refit, model._unfitted_copy(), cut))
        if copies:
            budgets = [models[i]._refit_budget(series[i].shape[0]) for i, _, _, _ in copies]
            cls._fit_together(
                [copy_ for _, _, copy_, _ in copies],
                [series[i][:cut] for i, _, _, cut in copies],
                workers=workers,
                devices=devices,
                **({} if all(b is None for b in budgets) else {"budgets": budgets}),
            )
        for i, refit, head, cut in copies:
            heads[i] = dict.fromkeys(refit, CalibrationSource(head, cut))
        for i, model in enumerate(models):
            model._adopt_series(series[i], stamps[i], intervals_[i], source=sources[i])
        cls._calibrate(models, series, heads, workers=workers)

    def _fit(self, prices: np.ndarray) -> None:
        """Learns from ``[time]`` validated prices (the whole fitted series). Default: nothing.

        A subclass may add keyword options (``LSTMForecaster``'s ``verbose``); ``fit`` passes them on.
        """

    @classmethod
    def _fit_together(
        cls,
        models: Sequence[Forecaster],
        prices: Sequence[np.ndarray],
        *,
        workers: Any = None,
        devices: Any = None,
        **fit_options: Any,
    ) -> None:
        """``_fit`` of many models on their own prices; override to train them in one call.

        ``fit_options`` apply to the first model (the one ``fit`` was called on).
        """
        for i, (model, p) in enumerate(zip(models, prices, strict=True)):
            model._fit(p, **(fit_options if i == 0 else {}))

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
        self.volatility_ = self.price_volatility(prices)
        # What jaxlstm.data.fingerprint(data, columns=self.input_columns) records of the same
        # data: the columns read from it (a calendar's clock and a seasonal encoding's
        # positions follow from the timestamps and the count it records).
        read = calendars.data_columns(self.input_columns)
        own = select_columns(prices, self.input_columns, read)
        self.trained_on_ = fingerprints.fingerprint_series(own, timestamps, interval, source, read)

    def price_volatility(self, prices: np.ndarray) -> float:
        """``volatility_`` of a validated fitted series: the one-step log-return scale the volatility band reads (here their standard deviation)."""
        return intervals.log_return_volatility(close_of(prices))

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
        window = self.check_window(window)
        steps = validation.check_steps(steps)
        return self.check_forecast(self._predict(window, steps))

    def predict(self, window: Any) -> float:
        """The next price after ``window``."""
        return float(self.predict_multi_step(window, 1)[0])

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        """``[steps]`` price forecasts after a validated ``[time]`` window."""
        raise NotImplementedError(f"{type(self).__name__} must implement _predict(window, steps)")

    def _predict_many(self, windows: Sequence[np.ndarray], steps: int) -> np.ndarray:
        """``[len(windows), steps]`` forecasts, one ``_predict`` per window; override to batch."""
        return np.stack([np.asarray(self._predict(w, steps), np.float64) for w in windows])

    def predict_windows(self, windows: Any, steps: int) -> np.ndarray:
        """``[N, steps]`` float64 forecasts from each of ``N`` windows, unchecked (``predict_rows`` of this model).

        Args:
            windows: ``[N, time(, columns)]`` windows, or a list of windows, each at least
                ``min_window()`` prices (a model with a ``window_length`` reads its last ones).
            steps: forecast steps, >= 1.
        """
        return type(self).predict_rows([self], [windows], steps)[0]

    @classmethod
    def predict_rows(
        cls,
        models: Sequence[Forecaster],
        windows: Sequence[Any],
        steps: int,
        *,
        workers: int | None = None,
        observed: Sequence[Any] | None = None,
    ) -> list[np.ndarray]:
        """Forecasts of many fitted models, each from its own windows: one runner call per group where the class can.

        The protocol every forecast of the library goes through (``forecast``,
        ``forecast_many``, calibration, ``backtest``, ``tune``'s scoring). Models of one
        class are forecast by its ``_predict_rows`` (``LSTMForecaster``: one call of
        ``stacked.run_stacked`` per group of equal shapes).

        Args:
            models: fitted forecasters (of any classes).
            windows: per model, its ``[N_i, time(, columns)]`` windows (or a list of windows).
            steps: forecast steps, >= 1.
            workers: how models forecast together are run (see ``jaxlstm.run_stacked``).
            observed: None, or per model ``[N_i]`` integers: how many leading steps of each
                window's forecast are needed (calibration: the steps before the end of the
                series). A class may leave the later steps NaN (``LSTMForecaster`` then stops
                its recursion early); the steps needed are the same as without ``observed``.

        Returns:
            Per model, ``[N_i, steps]`` float64 forecasts, unchecked (a non-finite value
            stays in; ``check_forecast`` is the rule for what reaches a user).
        """
        models, windows = list(models), list(windows)
        out: list[Any] = [None] * len(models)
        kinds: dict[type[Forecaster], list[int]] = {}
        for i, model in enumerate(models):
            kinds.setdefault(type(model), []).append(i)
        for kind, members in kinds.items():
            # Only a class that can use them is given the step counts (the default runs every step).
            extra = {} if observed is None else {"observed": [observed[i] for i in members]}
            rows = kind._predict_rows(
                [models[i] for i in members], [windows[i] for i in members], steps, workers=workers, **extra
            )
            for i, row in zip(members, rows, strict=True):
                out[i] = np.asarray(row, np.float64)
        return out

    @classmethod
    def _predict_rows(
        cls,
        models: Sequence[Forecaster],
        windows: Sequence[Any],
        steps: int,
        *,
        workers: int | None = None,
        observed: Sequence[Any] | None = None,
    ) -> list[np.ndarray]:
        """``predict_rows`` of models of this class: each model's ``_predict_many`` (every step); override to batch."""
        return [m._predict_many(w, steps) for m, w in zip(models, windows, strict=True)]

    def check_forecast(self, predicted: Any) -> np.ndarray:
        """The one rule for every prediction path: finite and positive prices (float64), else ValueError."""
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

    def forecast(
        self, horizon: Any = None, steps: int | None = None, confidence: float | None = None, *, level: Any = None
    ) -> Forecast:
        """Continues the fitted series with point forecasts and a prediction band (never trains).

        Args:
            horizon: a span of time (``"1h"``, ``"1d"``, ``"36h"``, ``"90min"``, a
                ``datetime.timedelta`` or ``pandas.Timedelta``), a whole number of steps of
                the data's interval; exclusive with ``steps``. Data without timestamps
                needs ``fit(..., interval=)`` for it.
            steps: number of future steps, >= 1; exclusive with ``horizon``.
            confidence: nominal coverage of the band, in (0, 1); None: 0.95.
            level: instead of ``confidence`` (not with it), bands at several levels in percent (statsforecast's
                ``level=``), e.g. ``[80, 95]``: ``Forecast.levels`` holds each (columns
                ``lo-80``, ``hi-80``, ... in ``to_pandas``) and ``lower``/``upper``/``confidence``
                are the highest level's. Every level's band is the model's own band method
                at that coverage.

        Returns:
            A ``Forecast`` with ``[steps]`` timestamps ``last + k * interval`` (None for
            data without timestamps), predictions, bounds ``lower <= predicted <= upper``
            and the model's band method.
        """
        self._check_fitted()
        steps = self.forecast_steps(horizon, steps)
        confidence, levels = check_band_request(confidence, level)
        predicted = self.predict_multi_step(self.forecast_window(), steps)
        if levels is None:
            return self._forecast_from(predicted, confidence)
        return self._forecast_levels(predicted, levels)

    def _forecast_levels(self, predicted: np.ndarray, levels: tuple[float, ...]) -> Forecast:
        """``_forecast_from`` at each level (percent, ascending), gathered into one ``Forecast`` of the highest."""
        each = [self._forecast_from(predicted, level / 100.0) for level in levels]
        bands = {level: (f.lower, f.upper) for level, f in zip(levels, each, strict=True)}
        return dataclasses.replace(each[-1], levels=bands)

    @classmethod
    def forecast_many(
        cls,
        forecasters: Mapping[str, Forecaster],
        horizon: Any = None,
        steps: int | None = None,
        confidence: float | None = None,
        *,
        workers: int | None = None,
        level: Any = None,
    ) -> Forecasts:
        """``forecast`` of many fitted models; models of one class and step count are forecast together.

        Each result equals the model's own ``forecast`` (to float rounding).

        Args:
            forecasters: ``{symbol: fitted forecaster}``, e.g. from ``fit_many``.
            horizon, steps, confidence, level: as in ``forecast``; a horizon is converted to
                steps with each model's own data interval.
            workers: how models forecast together are run (see ``jaxlstm.run_stacked``).

        Returns:
            ``Forecasts``, a ``{symbol: Forecast}`` dict in the order of ``forecasters``;
            its ``to_pandas()`` is one long DataFrame (``unique_id, ds, predicted, lower, upper``).
        """
        if not isinstance(forecasters, Mapping) or not forecasters:
            raise TypeError(
                f"forecasters must be a non-empty mapping of symbol -> fitted forecaster, got {type(forecasters).__name__}"
            )
        confidence, levels = check_band_request(confidence, level)
        if workers is not None:
            validation.check_positive_int("workers", workers)
        groups: dict[int, list[str]] = {}
        for symbol, model in forecasters.items():
            if not isinstance(model, cls):
                raise TypeError(
                    f"forecasters[{symbol!r}] must be an instance of {cls.__name__}, got {type(model).__name__}"
                )
            try:
                model._check_fitted()
            except RuntimeError as err:
                raise RuntimeError(f"forecasters[{symbol!r}]: {err}") from None
            groups.setdefault(model.forecast_steps(horizon, steps), []).append(symbol)
        cls.calibrate_bands(forecasters.values(), [confidence] if levels is None else [lv / 100.0 for lv in levels])
        out: dict[str, Forecast] = {}
        for count, symbols in groups.items():
            models = [forecasters[s] for s in symbols]
            rows = cls.predict_rows(models, [m.forecast_window()[None] for m in models], count, workers=workers)
            for symbol, model, row in zip(symbols, models, rows):
                try:
                    out[symbol] = model.forecast_from(row[0], None if levels else confidence, level=levels)
                except ValueError as err:
                    raise ValueError(f"forecasters[{symbol!r}]: {err}") from None
        return Forecasts((s, out[s]) for s in forecasters)

    @staticmethod
    def calibrate_bands(models: Iterable[Forecaster], confidences: Iterable[float]) -> None:
        """Calibrates the bands of fitted models at each confidence together, so that their forecasts read them.

        What ``forecast_many`` and ``backtest`` do before they band many models' point
        forecasts: the adaptive walks of all the bands run side by side
        (``bands.Band.calibrate_many``), the same offsets as each band's own. A quantile
        band is left to its heads.
        """
        found = [m.band_ for m in models if m.band_ is not None and not isinstance(m.band_, bands.QuantileBand)]
        for confidence in confidences:
            bands.Band.calibrate_many(found, confidence)

    def forecast_steps(self, horizon: Any, steps: int | None) -> int:
        """``forecast``'s step count from exactly one of ``horizon`` and ``steps``."""
        if (horizon is None) == (steps is None):
            got = "both" if horizon is not None else "neither"
            raise ValueError(f"forecast needs exactly one of horizon (e.g. '1d') or steps, got {got}")
        if horizon is not None:
            # A malformed horizon is named as such, not as a horizon that lacks the data's spacing.
            horizons.horizon_nanoseconds(horizon)
            if self.interval_ is None:
                raise ValueError(
                    f"horizon {horizon!r} needs the spacing of the data, which had no timestamps: fit with "
                    "interval= (e.g. fit(prices, interval='1h')) or forecast steps= instead"
                )
            steps = horizons.horizon_to_steps(horizon, self.interval_)
        return validation.check_steps(steps)

    def forecast_from(self, predicted: Any, confidence: float | None = None, *, level: Any = None) -> Forecast:
        """The ``Forecast`` of the fitted series' continuation around ``[steps]`` point forecasts (checked here).

        What ``forecast`` returns for point forecasts it made itself; ``backtest`` and
        ``forecast_many`` make theirs together and hand each model its row. ``level`` as in
        ``forecast``.
        """
        self._check_fitted()
        self._check_one_series()
        confidence, levels = check_band_request(confidence, level)
        checked = self.check_forecast(predicted)
        if checked.ndim != 1 or checked.shape[0] == 0:
            raise ValueError(f"predicted must be [steps] point forecasts of one origin, got shape {checked.shape}")
        if levels is None:
            return self._forecast_from(checked, confidence)
        return self._forecast_levels(checked, levels)

    def _forecast_from(self, predicted: np.ndarray, confidence: float) -> Forecast:
        """``forecast_from`` of checked forecasts (override to widen the band, as an ensemble does)."""
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

    def forecast_window(self) -> np.ndarray:
        """The recent prices ``forecast`` continues from."""
        self._check_fitted()
        self._check_one_series()
        assert self.prices_ is not None
        length = self.window_length
        return self.prices_ if length is None else self.prices_[-length:]

    # ------------------------------------------------------------------ bands

    def band_offsets(self, steps: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, str]:
        """Log offsets of the prediction band: ``[lower, upper] = predicted * exp(offsets)``.

        The fitted band object (``band_``, see ``jaxlstm._src.forecasters.bands``) computes
        them from the residuals ``fit`` measured: with ``band="conformal"`` the band is
        calibrated once per residual source, by ``intervals.conformal_band``, on the
        leading steps (at most ``band_steps``) that have enough out-of-sample residuals
        (``intervals.calibrated_steps``); a step past those grows like a random walk from
        the last calibrated one (``intervals.extend_offsets``). So the offsets of step
        ``k`` do not depend on ``steps``. A source without enough residuals adds nothing;
        with none left the model uses the volatility band, for every horizon.

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
        self._check_one_series()
        assert self.band_ is not None, "fitted models have a band"
        return self.band_.offsets(steps, confidence)

    def band_method(self, confidence: float = 0.95) -> str:
        """The band method of every forecast of this fitted model at ``confidence`` (see ``band_offsets``)."""
        return self.band_offsets(1, confidence)[2]

    def calibration_residuals(self, steps: int, source: str | None = None) -> np.ndarray:
        """Out-of-sample log-ratio errors of the forecaster's own multi-step forecasts, measured by ``fit``.

        From every origin ``s`` of the calibration part of the fitted series (see
        ``calibration_models_``) the calibration model forecast ``band_steps`` prices from
        the window ending before ``s`` (the window ``forecast`` uses), each compared with
        the fitted price it forecasts. Nothing after the fitted series is used, and the model
        that made a residual never saw the price it is scored on.

        Args:
            steps: forecast steps, >= 1; steps past ``band_steps`` are NaN (not measured).
            source: ``"auto"`` or ``"refit"``, one of ``calibration_sources()``; None: the first.

        Returns:
            ``[origins, steps]`` residuals ``log(actual / predicted)``, NaN where the step
            falls past the end of the fitted series; ``[0, steps]`` when there is no
            out-of-sample part (too short a series, a volatility band, or a model restored
            without residuals).
        """
        self._check_fitted()
        self._check_one_series()
        steps = validation.check_steps(steps)
        source = (
            self.calibration_sources()[0]
            if source is None
            else validation.check_choice("source", source, bands.SOURCES)
        )
        assert self.band_ is not None, "fitted models have a band"
        residuals = self.band_.residuals.get(source)
        if residuals is None:
            if source not in self.calibration_sources():
                raise ValueError(
                    f"source {source!r} is not one this model calibrates with (calibration={self.calibration!r} "
                    f"uses {self.calibration_sources()})"
                )
            return np.zeros((0, steps))
        width = residuals.shape[1]
        if steps <= width:
            return np.array(residuals[:, :steps])
        return np.concatenate([residuals, np.full((residuals.shape[0], steps - width), np.nan)], axis=1)

    def calibration_sources(self) -> tuple[str, ...]:
        """The residual sources ``calibration`` combines: one, or ``("auto", "refit")`` for ``"both"``."""
        return self._sources_for(self.holdout_size())

    def _sources_for(self, holdout: int | None) -> tuple[str, ...]:
        if self.calibration != "both":
            return (self.calibration,)
        # Without a held-back tail "auto" is the head refit too: one source is enough.
        return ("auto", "refit") if holdout else ("refit",)

    def holdout_size(self) -> int | None:
        """Number of trailing fitted prices the parameters were NOT fitted on, or None (they saw all).

        Override it (and ``planned_holdout``) in a model that holds prices back.
        """
        return None

    def planned_holdout(self, n: int) -> int | None:
        """``holdout_size`` a fit on ``n`` prices will have, known before it trains (default: the current one).

        ``fit_rows`` reads it to decide which calibration sources need a head refit.
        """
        return self.holdout_size()

    def _refit_sources(self, n: int) -> tuple[str, ...]:
        """The calibration sources of a fit on ``n`` prices that need a head refit (``fit_rows`` trains them)."""
        if not bands.band_class(self.band).needs_residuals:
            return ()
        holdout = self.planned_holdout(n)
        sources = self._sources_for(holdout)
        return tuple(s for s in sources if s == "refit" or holdout is None)

    def _refit_cut(self, n: int) -> int | None:
        """Where a head-refit calibration copy stops fitting (None: too short to calibrate)."""
        cut = max(self.min_fit_length, self.min_window(), n // 2, n - self._max_calibration_origins)
        return cut if n - cut >= 2 else None

    def _refit_budget(self, n: int) -> Any:
        """What a head-refit calibration copy of this model, fitted on ``n`` prices, may train (None: as its settings say).

        ``fit_rows`` passes it to ``_fit_together(budgets=...)`` for the copy, in the
        class's own terms (``LSTMForecaster``: a ``prepared.RefitBudget``).
        """
        return None

    def _unfitted_copy(self) -> Forecaster:
        """A copy with the same settings and no fitted state (for calibration refits)."""
        return type(self)(**self.get_params())

    def _calibration_scorers(
        self, prices: np.ndarray, heads: Mapping[str, CalibrationSource]
    ) -> dict[str, CalibrationSource]:
        """The model whose forecasts are out-of-sample from a fitted index on, and that index, per source.

        ``"auto"`` uses a held-back tail (``holdout_size``) as it is: the model itself from
        ``n - holdout`` (nothing when it is empty). Otherwise (no held-back tail, or
        ``"refit"``) the copy ``fit_rows`` refitted on the head ``prices[:cut]`` (``heads``),
        scored on the rest. The refit model is not the one that forecasts, but it is the
        same method on a little less data, so its errors are if anything a little larger.

        How long the scored stretch is matters more than it seems: on hourly BTC/USD, 95%
        bands calibrated on the last 100 origins covered about 85% of later prices, on
        the last 500 about 94%, because a short stretch rarely holds a large move. A
        held-back tail, on the other hand, scores the very model that forecasts, so it also
        sees when that model came out badly; ``calibration="both"`` gets both.
        """
        n = prices.shape[0]
        holdout = self.holdout_size()
        found: dict[str, CalibrationSource] = {}
        for source in self.calibration_sources():
            if source == "auto" and holdout is not None:
                if holdout > 0:
                    found[source] = CalibrationSource(self, n - holdout)
            elif source in heads:
                found[source] = heads[source]
        return found

    @classmethod
    def _calibrate(
        cls,
        models: Sequence[Forecaster],
        prices: Sequence[np.ndarray],
        heads: Sequence[Mapping[str, CalibrationSource]],
        *,
        workers: int | None = None,
    ) -> None:
        """Sets ``band_`` and ``calibration_models_`` of fitted models: every calibration forecast in one ``predict_rows``."""
        jobs: list[tuple[int, str, CalibrationSource, np.ndarray]] = []
        for i, (model, series) in enumerate(zip(models, prices, strict=True)):
            if not bands.band_class(model.band).needs_residuals:
                model.calibration_models_ = {}
                continue
            scorers = model._calibration_scorers(series, heads[i])
            model.calibration_models_ = scorers
            n = series.shape[0]
            for source, scorer in scorers.items():
                origins = np.arange(max(int(scorer.start), model.min_window()), n)
                if origins.size:
                    jobs.append((i, source, scorer, origins))
        residuals: list[dict[str, np.ndarray]] = [{} for _ in models]
        by_steps: dict[int, list[tuple[int, str, CalibrationSource, np.ndarray]]] = {}
        for job in jobs:
            by_steps.setdefault(models[job[0]].band_steps, []).append(job)
        for steps, group in by_steps.items():
            windows = [_windows_before(prices[i], origins, models[i].window_length) for i, _, _, origins in group]
            # Only the steps that fall on a fitted price are scored: an origin k prices before
            # the end needs k steps, which spares most of the recursion of the last origins.
            observed = [prices[i].shape[0] - origins for i, _, _, origins in group]
            predicted = Forecaster.predict_rows(
                [job[2].model for job in group], windows, steps, workers=workers, observed=observed
            )
            for (i, source, _, origins), rows in zip(group, predicted, strict=True):
                residuals[i][source] = bands.origin_residuals(close_of(prices[i]), origins, rows)
        for i, model in enumerate(models):
            ordered = {s: residuals[i][s] for s in model.calibration_sources() if s in residuals[i]}
            model.band_ = bands.band_class(model.band)(ordered, model.volatility_ or 0.0)

    # ------------------------------------------------------------------ context and persistence

    def observe(self, data: Any, *, interval: Any = None) -> Self:
        """Moves the forecast origin to the end of ``data`` without retraining.

        A cached model keeps forecasting from the prices it was trained on; ``observe``
        hands it newer prices (any form ``fit`` accepts, at least ``min_window()``) so
        ``forecast`` continues from them. Everything fitted is unchanged.

        Args:
            data: the newer prices.
            interval: their spacing when they have no timestamps (see ``fit``); it, or the
                spacing of dated data, must be the model's interval (a model of undated
                prices takes it).

        Returns:
            ``self``.

        Raises:
            ValueError: prices at another interval than the model's; the model is then unchanged.
        """
        self._check_fitted()
        series, timestamps, spacing = self.read_data(data, "data", interval)
        series = self.check_prices("data", series, self.min_window(), "to forecast from")
        # A model forecasts steps of the interval it learned: daily prices handed to an hourly
        # model were forecast a day a step with an hour's dynamics and band. A few weekdays
        # look daily: a business-day model keeps its axis (``business_days.continues``).
        step = self.interval_
        if spacing is not None and step is not None and not business_days.continues(spacing, step):
            raise ValueError(
                f"data's interval {horizons.format_interval(spacing)} is not the model's "
                f"{horizons.format_interval(step)}: observe {horizons.format_interval(step)} prices, or fit a new "
                "model on these"
            )
        length = self.window_length
        self.prices_ = series if length is None else series[-length:]
        # Plain prices carry no time: their forecasts have no timestamps.
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        if step is None:
            self.interval_ = spacing
        return self

    def saved_parts(self) -> tuple[Any, dict[str, Any]]:
        """``(array tree, metadata)`` that ``save`` and ``to_json`` write, checked to rebuild this model as ``load`` does.

        Raises:
            ValueError: the model's settings and fitted state disagree; nothing is written.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement saved_parts() to be saved")

    @classmethod
    def from_saved(cls, tree: Any, metadata: Any, source: str) -> Self:
        """The model ``saved_parts`` described; anything odd is a ``ValueError`` naming ``source``.

        On ``Forecaster`` itself (``Forecaster.load(path)``, ``Forecaster.from_json(text)``):
        the model of whichever class saved it, found by the class name the metadata records
        among the imported subclasses (a name, never code: nothing is unpickled).
        """
        if cls is not Forecaster:
            raise NotImplementedError(f"{cls.__name__} must implement from_saved() to be loaded")
        kind = metadata.get("model") if isinstance(metadata, dict) else None
        found = _saved_class(kind) if isinstance(kind, str) else None
        if found is None:
            raise ValueError(
                f"{source} holds a model of kind {kind!r}, which is no imported Forecaster class that loads models "
                "(import the module that defines it first)"
            )
        return cast(Self, found.from_saved(tree, metadata, source))

    def save(self, path: str | os.PathLike[str]) -> pathlib.Path:
        """Saves the fitted model as a folder (arrays + sealed ``metadata.json``), atomically.

        The previous model at ``path`` stays intact until the new one is complete.

        Raises:
            ValueError: the model's settings and fitted state disagree (what ``load`` would
                report as damaged); nothing is written.

        Returns:
            The model folder.
        """
        return model_files.save_model(path, *self.saved_parts())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Loads a model saved with ``save``; checksums and format version are verified.

        Raises:
            FileNotFoundError: nothing at ``path``.
            ValueError: damaged files, another format version, or a model of another class.
        """
        tree, metadata = model_files.load_model(path)
        return cls.from_saved(tree, metadata, f"model at {str(path)!r}")

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The seed's single-file export: metadata and arrays in one sealed JSON document.

        Args:
            path: also write the document there atomically, when given.

        Returns:
            The JSON text.
        """
        return model_files.export_json(*self.saved_parts(), path)

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Self:
        """Rebuilds a forecaster from ``to_json`` output: the JSON text or a file path.

        Raises:
            FileNotFoundError: ``source`` names no file.
            ValueError: not an export of this class, another format version, or damaged.
        """
        tree, metadata = model_files.import_json(source)
        text = isinstance(source, str) and source.lstrip().startswith("{")
        return cls.from_saved(tree, metadata, "JSON text" if text else f"JSON file {str(source)!r}")

    # ------------------------------------------------------------------ checks

    def check_fitted(self) -> None:
        """Raises ``RuntimeError`` unless the model is fitted (override ``_check_fitted`` to say what fitted means)."""
        self._check_fitted()

    def _check_fitted(self) -> None:
        if self.prices_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(data) first")

    def _check_one_series(self) -> None:
        """Raises ``ValueError`` where the fitted model is not one series' (a global model's band and window are per series)."""

    def check_window(self, window: Any) -> np.ndarray:
        """``window`` as validated prices to forecast from (exactly ``window_length`` of them when it is set), else ValueError."""
        window = self.check_prices("window", window, self.min_window(), "to forecast from")
        length = self.window_length
        if length is not None and window.shape[0] != length:
            raise ValueError(f"window must hold exactly {length} prices for {self!r}, got {window.shape[0]}")
        return window

    def check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        """``value`` as validated ``[time]`` prices (``[time, columns]`` candles) for this model, else ValueError.

        Args:
            name: the argument's name, for messages.
            value: the prices.
            minimum: fewest rows accepted.
            purpose: what they are for (``"to fit"``...), for messages.
        """
        columns = self.input_columns
        if len(columns) > 1 and np.ndim(value) == 1:
            computed = [c for c in columns if c in calendars.TIME_COLUMNS]
            raise ValueError(
                f"{name} must be [time, {len(columns)}] rows with the columns {list(columns)} for {self!r}, got "
                f"1-D values of shape {np.shape(value)}"
                + (
                    f"; {computed} are computed from timestamps when {name} is dated data (a pandas Series with "
                    "a DatetimeIndex, candles)"
                    if computed
                    else ""
                )
            )
        prices = validation.as_float_array(name, value, ndim=1 if len(columns) == 1 else 2)
        if prices.ndim == 2 and prices.shape[1] != len(columns):
            raise ValueError(
                f"{name} must be [time, {len(columns)}] candles with the columns {list(columns)}, got shape {prices.shape}"
            )
        if prices.shape[0] < minimum:
            raise ValueError(
                f"{name} must have at least {minimum} prices {purpose} with {self!r}, got {prices.shape[0]}"
            )
        # Every column but the volume and the clock of calendar inputs is a price.
        not_prices = ("volume", *calendars.TIME_COLUMNS)
        price_columns = (
            prices if prices.ndim == 1 else prices[:, [i for i, c in enumerate(columns) if c not in not_prices]]
        )
        if np.any(price_columns <= 0):
            first = int(
                np.flatnonzero(np.any(price_columns <= 0, axis=-1) if prices.ndim == 2 else price_columns <= 0)[0]
            )
            value = np.min(price_columns[first])
            raise ValueError(f"{name} must contain only positive prices, got {value:.6g} at index {first}")
        return prices
