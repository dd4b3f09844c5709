"""The fit / predict_multi_step / forecast interface shared by every forecaster.

Data without timestamps is treated as hourly and as ending at the unix epoch, so
its forecast timestamps are ``1970-01-01T00:00 + k hours`` (see
``horizons.future_timestamps``).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np

from jaxlstm._src import horizons, intervals, validation
from jaxlstm._src.forecast import Forecast


class BaseForecaster:
    """Shared fit/forecast plumbing; subclasses supply ``_fit_params`` and ``_predict``.

    Attributes set by ``fit``: ``prices_`` (what ``forecast`` continues), ``last_timestamp_``,
    ``interval_`` (the data's own spacing) and ``volatility_`` (one-step log-return
    standard deviation, for the interval band).
    """

    name: str = "forecaster"
    #: Fewest prices ``fit`` accepts (2 are needed to measure volatility).
    _min_fit_length: int = 2
    #: Fewest prices ``predict_multi_step`` accepts as a window.
    _min_window_length: int = 1

    def __init__(self) -> None:
        self.prices_: np.ndarray | None = None
        self.last_timestamp_: np.datetime64 | None = None
        self.interval_: np.timedelta64 | None = None
        self.volatility_: float | None = None

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
        from jaxlstm._src import market_data

        prices, timestamps = market_data.as_price_series(data, name="data")
        prices = self._check_prices("data", prices, self._min_fit_length, "to fit")
        interval = horizons.as_interval(market_data.infer_interval(timestamps), name="inferred data interval")
        self._fit_params(prices, **fit_options)
        self.prices_ = prices
        self.last_timestamp_ = None if timestamps is None else np.datetime64(timestamps[-1], "ns")
        self.interval_ = interval
        self.volatility_ = intervals.log_return_volatility(prices)
        return self

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

    def forecast(self, horizon: str | None = None, steps: int | None = None, confidence: float = 0.95) -> Forecast:
        """Continues the fitted series with point forecasts and a volatility band.

        Args:
            horizon: ``"1h"``, ``"4h"``, ``"1d"`` or ``"7d"``, converted to whole steps of
                the data's interval (rounded up, at least 1); exclusive with ``steps``.
            steps: number of future steps, >= 1; exclusive with ``horizon``.
            confidence: nominal coverage of the interval, in (0, 1).

        Returns:
            A ``Forecast`` with ``[steps]`` timestamps ``last + k * interval``, predictions
            and bounds ``lower <= predicted <= upper``.
        """
        self._check_fitted()
        if (horizon is None) == (steps is None):
            got = "both" if horizon is not None else "neither"
            raise ValueError(f"forecast needs exactly one of horizon (e.g. '1d') or steps, got {got}")
        confidence = validation.check_fraction("confidence", confidence)
        if horizon is not None:
            steps = horizons.horizon_to_steps(horizon, self.interval_)
        steps = validation.check_positive_int("steps", steps)
        predicted = self.predict_multi_step(self._forecast_window(), steps)
        if not np.all(predicted > 0):
            first = int(np.flatnonzero(predicted <= 0)[0])
            raise ValueError(
                f"{self.name} forecast reaches a non-positive price {predicted[first]:.6g} at step {first + 1} "
                f"of {steps}: forecast fewer steps, or use a forecaster that works on log prices"
            )
        lower, upper = intervals.volatility_band(predicted, self.volatility_, confidence)
        timestamps = horizons.future_timestamps(self.last_timestamp_, self.interval_, steps)
        return Forecast(
            timestamps=timestamps,
            predicted=predicted,
            lower=lower,
            upper=upper,
            confidence=confidence,
            symbol=getattr(self, "symbol", None),
        )

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
