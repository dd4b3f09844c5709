"""The fit / predict_multi_step / forecast interface shared by every forecaster.

``forecast`` puts an interval around the point forecast with one of two methods
(``intervals.INTERVAL_METHODS``), chosen per call or by the ``interval_method``
attribute (default ``"conformal"``, except for forecasters that can be saved but do not
persist their calibration, see ``_default_interval_method``):

* ``"conformal"``: split-conformal quantiles of the forecaster's own multi-step errors
  on fitted data its parameters did not see. Where those errors come from is the
  ``calibration`` attribute: ``"auto"`` scores the held-back validation tail of a model
  trained with one (``LSTMForecaster``) and otherwise a copy refitted on the head of the
  series (cheap for the statistical baselines); ``"refit"`` always uses the head refit;
  ``"both"`` takes the wider of the two intervals at every step. See
  ``calibration_residuals`` and ``_calibration_source``.
* ``"volatility"``: the seed's band, ``exp(-/+ z * sigma * sqrt(step))`` around the
  forecast. It is also the fallback when there are too few out-of-sample residuals
  (short series, or a model restored by ``load`` without its training data).

Data without timestamps is treated as hourly and as ending at the unix epoch, so
its forecast timestamps are ``1970-01-01T00:00 + k hours`` (see
``horizons.future_timestamps``).
"""

from __future__ import annotations

import copy
from typing import Any, Self

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import intervals
from jaxlstm._src.forecasters.forecast import Forecast
from jaxlstm._src.prep import horizons

#: Values of ``BaseForecaster.calibration``.
CALIBRATIONS: tuple[str, ...] = ("auto", "refit", "both")
#: Residual sources of ``calibration_residuals`` (``"both"`` combines the two).
CALIBRATION_SOURCES: tuple[str, ...] = ("auto", "refit")


def check_calibration(calibration: Any) -> str:
    """Returns ``calibration`` if it names a calibration, else raises ``ValueError``."""
    if calibration not in CALIBRATIONS:
        raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {calibration!r}")
    return calibration


def envelope(bands: list[tuple[np.ndarray, np.ndarray, str]]) -> tuple[np.ndarray, np.ndarray, str]:
    """The widest of several ``(lower, upper, method)`` log-offset bands, step by step.

    Args:
        bands: one or more bands with ``[steps]`` offsets.

    Returns:
        ``(min of lowers, max of uppers, methods joined by "+" without repeats)``.
    """
    lower = np.minimum.reduce([b[0] for b in bands])
    upper = np.maximum.reduce([b[1] for b in bands])
    return lower, upper, "+".join(dict.fromkeys(b[2] for b in bands))


class BaseForecaster:
    """Shared fit/forecast plumbing; subclasses supply ``_fit_params`` and ``_predict``.

    Attributes set by ``fit``: ``prices_`` (what ``forecast`` continues), ``last_timestamp_``,
    ``interval_`` (the data's own spacing) and ``volatility_`` (one-step log-return
    standard deviation, for the volatility band).

    Set ``interval_method`` (``"conformal"`` or ``"volatility"``) and ``calibration``
    (``"auto"`` or ``"refit"``) on an instance to change how ``forecast`` builds intervals.
    """

    name: str = "forecaster"
    #: Fewest prices ``fit`` accepts (2 are needed to measure volatility).
    _min_fit_length: int = 2
    #: Fewest prices ``predict_multi_step`` accepts as a window.
    _min_window_length: int = 1
    #: How ``forecast`` builds its interval unless told otherwise; None: ``_default_interval_method()``.
    interval_method: str | None = None
    #: Where conformal residuals come from: ``"auto"`` (the held-back validation tail when the
    #: model keeps one, else a copy refitted on the head of the series), ``"refit"`` (always
    #: the head refit: a longer stretch, for the price of a second, smaller fit) or ``"both"``
    #: (the wider interval of the two at each step).
    calibration: str = "auto"
    #: Most origins a head-refit calibration scores (see ``_calibration_source``).
    _max_calibration_origins: int = 1000

    def __init__(self) -> None:
        self.prices_: np.ndarray | None = None
        self.last_timestamp_: np.datetime64 | None = None
        self.interval_: np.timedelta64 | None = None
        self.volatility_: float | None = None
        self._reset_calibration(None)

    def _reset_calibration(self, fit_prices: np.ndarray | None) -> None:
        # The calibration needs the whole fitted series; a model restored from a file has
        # only its last window, so it keeps None here and falls back to the volatility band.
        self._fit_prices: np.ndarray | None = fit_prices
        # residual source -> (model and start from _calibration_source, residuals computed so far)
        self._calibration_cache: dict[str, tuple[tuple[BaseForecaster, int] | None, np.ndarray | None]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def fit(self, data: Any, **fit_options: Any) -> Self:
        """Learns what the forecaster needs from a price series.

        Args:
            data: ``[time]`` prices in any form ``market_data.as_price_series`` accepts
                (list, array, pandas Series/DataFrame, ccxt OHLCV rows); all finite and > 0.
            **fit_options: passed to the subclass's ``_fit_params`` (e.g. ``verbose``).

        Returns:
            ``self``, fitted.
        """
        # Imported on use: the data-loading layer is only needed when fitting.
        from jaxlstm._src.io import ohlcv as market_data

        prices, timestamps = market_data.as_price_series(data, name="data")
        prices = self._check_prices("data", prices, self._min_fit_length, "to fit")
        interval = horizons.as_interval(market_data.infer_interval(timestamps), name="inferred data interval")
        self._fit_params(prices, **fit_options)
        self._adopt_series(prices, timestamps, interval)
        return self

    def _adopt_series(self, prices: np.ndarray, timestamps: np.ndarray | None, interval: Any = None) -> None:
        """Records the fitted series: what ``forecast`` continues, its time axis and volatility."""
        if interval is None:
            from jaxlstm._src.io import ohlcv as market_data

            interval = horizons.as_interval(market_data.infer_interval(timestamps), name="inferred data interval")
        self.prices_ = prices
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        self.interval_ = interval
        self.volatility_ = intervals.log_return_volatility(prices)
        self._reset_calibration(prices)

    def predict_multi_step(self, window: Any, steps: int) -> np.ndarray:
        """Forecasts the ``steps`` prices that follow ``window``.

        Args:
            window: ``[time]`` the most recent prices, oldest first; finite and > 0.
            steps: number of future steps, >= 1.

        Returns:
            ``[steps]`` float64 price forecasts.
        """
        self._check_fitted()
        window = self._check_prices("window", window, self._min_window_length, "to forecast from")
        steps = validation.check_positive_int("steps", steps)
        return np.asarray(self._predict(window, steps), dtype=np.float64)

    def forecast(
        self,
        horizon: str | None = None,
        steps: int | None = None,
        confidence: float = 0.95,
        *,
        interval_method: str | None = None,
    ) -> Forecast:
        """Continues the fitted series with point forecasts and a prediction interval.

        Args:
            horizon: ``"1h"``, ``"4h"``, ``"1d"`` or ``"7d"``, converted to whole steps of
                the data's interval (rounded up, at least 1); exclusive with ``steps``.
            steps: number of future steps, >= 1; exclusive with ``horizon``.
            confidence: nominal coverage of the interval, in (0, 1).
            interval_method: ``"conformal"`` or ``"volatility"``; None uses the
                ``interval_method`` attribute. See ``interval_offsets``.

        Returns:
            A ``Forecast`` with ``[steps]`` timestamps ``last + k * interval``, predictions
            and bounds ``lower <= predicted <= upper``.
        """
        self._check_fitted()
        steps = self._forecast_steps(horizon, steps)
        confidence = validation.check_fraction("confidence", confidence)
        predicted = self.predict_multi_step(self._forecast_window(), steps)
        return self._forecast_from(predicted, confidence, interval_method)

    def _forecast_steps(self, horizon: str | None, steps: int | None) -> int:
        """``forecast``'s step count from exactly one of ``horizon`` and ``steps``."""
        if (horizon is None) == (steps is None):
            got = "both" if horizon is not None else "neither"
            raise ValueError(f"forecast needs exactly one of horizon (e.g. '1d') or steps, got {got}")
        if horizon is not None:
            steps = horizons.horizon_to_steps(horizon, self.interval_)
        return validation.check_positive_int("steps", steps)

    def _forecast_from(self, predicted: np.ndarray, confidence: float, interval_method: str | None) -> Forecast:
        """The ``Forecast`` around ``[steps]`` point forecasts of the fitted series' continuation."""
        steps = predicted.shape[0]
        if not np.all(predicted > 0):
            first = int(np.flatnonzero(predicted <= 0)[0])
            raise ValueError(
                f"{self.name} forecast reaches a non-positive price {predicted[first]:.6g} at step {first + 1} "
                f"of {steps}: forecast fewer steps, or use a forecaster that works on log prices"
            )
        lower_offset, upper_offset, _ = self.interval_offsets(steps, confidence, interval_method)
        lower, upper = intervals.apply_offsets(predicted, lower_offset, upper_offset)
        timestamps = horizons.future_timestamps(self.last_timestamp_, self.interval_, steps)
        return Forecast(
            timestamps=timestamps,
            predicted=predicted,
            lower=lower,
            upper=upper,
            confidence=confidence,
            symbol=getattr(self, "symbol", None),
        )

    def interval_offsets(
        self, steps: int, confidence: float = 0.95, method: str | None = None
    ) -> tuple[np.ndarray, np.ndarray, str]:
        """Log offsets of the prediction interval: ``[lower, upper] = predicted * exp(offsets)``.

        Args:
            steps: forecast steps, >= 1.
            confidence: nominal two-sided coverage, in (0, 1).
            method: ``"conformal"`` or ``"volatility"``; None uses ``self.interval_method``, or
                when that is None too ``_default_interval_method()``.

        Returns:
            ``(lower [steps], upper [steps], used)`` with ``lower <= 0 <= upper`` and ``used``
            the method that produced them: ``"conformal"`` (per-step quantiles),
            ``"conformal_pooled"`` (too few residuals per step, see
            ``intervals.conformal_offsets``), both joined by ``"+"`` when
            ``calibration="both"`` combined two sources, or ``"volatility"`` (asked for, or the
            fallback when there are too few out-of-sample residuals).
        """
        self._check_fitted()
        steps = validation.check_positive_int("steps", steps)
        confidence = validation.check_fraction("confidence", confidence)
        if method is None:
            method = self.interval_method if self.interval_method is not None else self._default_interval_method()
        method = intervals.check_interval_method(method)
        if method == "conformal":
            bands = [
                intervals.conformal_offsets(self.calibration_residuals(steps, source), confidence)
                for source in self._calibration_sources()
            ]
            bands = [b for b in bands if b is not None]
            if bands:
                return envelope(bands)
        lower, upper = intervals.volatility_offsets(steps, self.volatility_, confidence)
        return lower, upper, "volatility"

    def calibration_residuals(self, steps: int, source: str | None = None) -> np.ndarray:
        """Out-of-sample log-ratio errors of the forecaster's own multi-step forecasts.

        From every origin ``s`` of the calibration part of the fitted series (see
        ``_calibration_source``) the calibration model forecasts ``steps`` prices from the
        window ending before ``s`` (the same window length ``forecast`` uses), and each is
        compared with the fitted price it forecasts. Nothing after the fitted series is
        used, and the model that made a residual never saw the price it is scored on.

        Args:
            steps: forecast steps, >= 1.
            source: ``"auto"`` or ``"refit"``; None: the first source ``calibration`` uses
                (``"auto"`` for ``calibration="both"``).

        Returns:
            ``[origins, steps]`` residuals ``log(actual / predicted)``, NaN where the step
            falls past the end of the fitted series; ``[0, steps]`` when there is no
            out-of-sample part (too short a series, or a model restored by ``load``).
        """
        self._check_fitted()
        steps = validation.check_positive_int("steps", steps)
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
            return residuals[:, :steps]
        if found is None:
            # Residuals restored from a saved model (see restore_calibration) cover only their own steps.
            return np.zeros((0, steps))
        model, start = found
        n = prices.shape[0]
        start = max(int(start), self._min_window_length)
        origins = np.arange(start, n)
        if origins.size == 0:
            return np.zeros((0, steps))
        length = self._forecast_window().shape[0]
        windows = [prices[max(0, s - length) : s] for s in origins]
        predicted = np.asarray(model._predict_many(windows, steps), np.float64)
        index = origins[:, None] + np.arange(steps)[None, :]
        actual = np.where(index < n, prices[np.minimum(index, n - 1)], np.nan)
        residuals = intervals.log_ratio_residuals(actual, predicted)
        self._calibration_cache[source] = (found, residuals)
        return residuals

    def calibration_state(self, steps: int) -> dict[str, list[list[float | None]]]:
        """JSON-ready calibration residuals, so that a saved model can keep its conformal intervals.

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

    def restore_calibration(self, state: dict[str, list[list[float | None]]]) -> None:
        """Takes back ``calibration_state`` output on a model restored without its fitted series.

        Forecasts of up to the saved number of steps then get the same conformal interval as
        the model that was saved; longer ones fall back to the volatility band.

        Args:
            state: ``{source: [origins][steps] residuals}`` from ``calibration_state``.
        """
        for source, rows in state.items():
            if source not in CALIBRATION_SOURCES:
                raise ValueError(f"state has an unknown calibration source {source!r}; known: {CALIBRATION_SOURCES}")
            width = len(rows[0]) if rows else 0
            residuals = np.array([[np.nan if x is None else x for x in row] for row in rows], np.float64)
            self._calibration_cache[source] = (None, residuals.reshape(len(rows), width))

    def _default_interval_method(self) -> str:
        """``"conformal"``, or ``"volatility"`` for a forecaster whose ``save`` cannot carry its calibration.

        The conformal calibration needs the fitted series, which a saved model does not keep,
        so a restored copy would fall back to the volatility band and forecast another
        interval than the model that was saved. A forecaster with a ``save`` method keeps the
        volatility band by default until it persists its calibration and says so with
        ``_persists_calibration = True``; ``interval_method="conformal"`` opts in regardless.
        """
        saveable = callable(getattr(type(self), "save", None))
        return "volatility" if saveable and not getattr(self, "_persists_calibration", False) else "conformal"

    def _calibration_sources(self) -> tuple[str, ...]:
        """The residual sources ``calibration`` combines: one, or ``("auto", "refit")`` for ``"both"``."""
        mode = check_calibration(self.calibration)
        if mode != "both":
            return (mode,)
        # Without a held-back tail "auto" is the head refit too: one source is enough.
        return ("auto", "refit") if self._holdout_size() else ("refit",)

    # ------------------------------------------------------------------ subclass hooks

    def _fit_params(self, prices: np.ndarray, **fit_options: Any) -> None:
        """Stores any parameters learned from the validated ``[time]`` fitted prices."""
        if fit_options:
            raise TypeError(f"{type(self).__name__}.fit got unexpected options {sorted(fit_options)}")

    def _forecast_window(self) -> np.ndarray:
        """The recent prices ``forecast`` continues from (the whole fitted series here)."""
        return self.prices_

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        raise NotImplementedError

    def _predict_many(self, windows: list[np.ndarray], steps: int) -> np.ndarray:
        """``[len(windows), steps]`` forecasts from each ``[time]`` window.

        One ``_predict`` per window; a subclass whose ``_predict`` takes a ``[batch, time]``
        array of equal-length windows can set ``_vectorized_predict = True`` to make this
        one call.
        """
        if getattr(self, "_vectorized_predict", False) and len({w.shape[0] for w in windows}) == 1:
            return np.asarray(self._predict(np.stack(windows), steps), np.float64)
        return np.stack([np.asarray(self._predict(w, steps), np.float64) for w in windows])

    def _holdout_size(self) -> int | None:
        """Number of trailing fitted prices the parameters were NOT fitted on, or None.

        None means the parameters saw every fitted price. A forecaster trained with a
        held-back validation tail reports the tail's length; ``LSTMForecaster`` records it
        as ``metrics_["n_val_windows"]`` (one validation window per held-back target price).
        """
        metrics = getattr(self, "metrics_", None)
        if isinstance(metrics, dict) and "n_val_windows" in metrics:
            return int(metrics["n_val_windows"] or 0)
        return None

    def _calibration_source(self, prices: np.ndarray, source: str) -> tuple[BaseForecaster, int] | None:
        """The model whose forecasts are out-of-sample from a fitted index on, and that index.

        ``source="auto"`` uses a held-back tail (``_holdout_size``) as it is:
        ``(self, n - holdout)``, or None when it is empty. Otherwise (no held-back tail, or
        ``source="refit"``) a copy is refitted on the head ``prices[:cut]``, with ``cut``
        the largest of the minimum fit length, ``n // 2`` and ``n - _max_calibration_origins``,
        and scored on the rest. The refit model is not the one that forecasts, but it is the
        same method on a little less data, so its errors are if anything a little larger.

        How long the scored stretch is matters more than it seems: on hourly BTC/USD, 95%
        intervals calibrated on the last 100 origins covered about 85% of later prices, on
        the last 500 about 94%, because a short stretch rarely holds a large move. A
        held-back tail, on the other hand, scores the very model that forecasts, so it also
        sees when that model came out badly; ``calibration="both"`` gets both.

        Args:
            prices: ``[n]`` the fitted prices.
            source: ``"auto"`` or ``"refit"``.

        Returns:
            ``(model, start)``, or None when no honest calibration is possible.
        """
        n = prices.shape[0]
        holdout = self._holdout_size() if source == "auto" else None
        if holdout is not None:
            return (self, n - holdout) if holdout > 0 else None
        cut = max(self._min_fit_length, self._min_window_length, n // 2, n - self._max_calibration_origins)
        if n - cut < 2:
            return None
        # Detached before the deep copy so that an earlier calibration model is not copied along.
        head_model = copy.copy(self)
        head_model._reset_calibration(None)
        head_model = copy.deepcopy(head_model)
        head_model._fit_params(prices[:cut])
        return head_model, cut

    # ------------------------------------------------------------------ checks

    def _check_fitted(self) -> None:
        if self.prices_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet: call fit(data) first")

    def _check_prices(self, name: str, value: Any, minimum: int, purpose: str) -> np.ndarray:
        prices = validation.as_float_array(name, value, ndim=1)
        if prices.shape[0] < minimum:
            raise ValueError(
                f"{name} must have at least {minimum} prices {purpose} with {self!r}, got {prices.shape[0]}"
            )
        if np.any(prices <= 0):
            first = int(np.flatnonzero(prices <= 0)[0])
            raise ValueError(f"{name} must contain only positive prices, got {prices[first]:.6g} at index {first}")
        return prices
