"""Training-free statistical forecasters with the same interface as the LSTM wrapper.

Each forecaster is fitted on a price series with ``fit(data)``, forecasts prices
from any recent window with ``predict_multi_step(window, steps)``, and continues
the fitted series with ``forecast(horizon=... | steps=...)``, which returns a
``Forecast`` with a band (conformal by default, see ``base.Forecaster``).
"""

from __future__ import annotations

import datetime
from typing import Any, ClassVar, Self

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import bands
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.prep import fingerprints


class _Saved(Forecaster):
    """``save``/``load`` of a training-free forecaster: its settings, fitted numbers and series.

    A model folder as ``LSTMForecaster`` writes one (``model_files.save_model``: atomic,
    checksummed, never unpickled): the fitted prices are the saved array, everything else
    is metadata. ``trained_at_`` (when it was fitted) lets ``ModelCache`` judge its age.
    """

    #: Fitted attributes (floats) saved beside the settings.
    _fitted: ClassVar[tuple[str, ...]] = ()

    def _reset_fitted(self) -> None:
        super()._reset_fitted()
        self.trained_at_: str | None = None

    def _adopt_series(self, prices: np.ndarray, *args: Any, **kwargs: Any) -> None:
        super()._adopt_series(prices, *args, **kwargs)
        self.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def saved_parts(self) -> tuple[Any, dict[str, Any]]:
        self._check_fitted()
        assert self.prices_ is not None
        metadata = {
            "model": type(self).__name__,
            "trained_at": self.trained_at_,
            "settings": self.get_params(),
            "fitted": {name: getattr(self, name) for name in self._fitted},
            "data": {
                "interval_seconds": None if self.interval_ is None else float(self.interval_ / np.timedelta64(1, "s")),
                "last_timestamp": None
                if self.last_timestamp_ is None
                else np.datetime_as_string(self.last_timestamp_, unit="ns"),
                "volatility": float(self.volatility_ or 0.0),
            },
            "calibration": {} if self.band_ is None else self.band_.to_json(),
            "trained_on": None if self.trained_on_ is None else self.trained_on_.to_json(),
        }
        return {"prices": np.asarray(self.prices_, np.float64)}, metadata

    @classmethod
    def from_saved(cls, tree: Any, metadata: Any, source: str) -> Self:
        if not isinstance(metadata, dict) or metadata.get("model") != cls.__name__:
            got = metadata.get("model") if isinstance(metadata, dict) else type(metadata).__name__
            raise ValueError(f"{source} does not hold a {cls.__name__} (model kind {got!r})")
        try:
            model = cls(**dict(metadata["settings"]))
            prices = np.asarray(tree["prices"], np.float64)
            if prices.ndim != 1 or prices.shape[0] < model.min_fit_length or not np.all(prices > 0):
                raise ValueError(f"the saved prices must be >= {model.min_fit_length} positive values")
            data = metadata["data"]
            model.prices_ = prices
            seconds = data["interval_seconds"]
            model.interval_ = None if seconds is None else np.timedelta64(round(seconds * 1e9), "ns")
            stamp = data["last_timestamp"]
            model.last_timestamp_ = None if stamp is None else np.datetime64(stamp, "ns")
            model.volatility_ = float(data["volatility"])
            for name in cls._fitted:
                setattr(model, name, float(metadata["fitted"][name]))
            model.band_ = bands.band_class(model.band).from_json(metadata["calibration"], model.volatility_)
            trained_on = metadata.get("trained_on")
            model.trained_on_ = None if trained_on is None else fingerprints.DataFingerprint.from_json(trained_on)
            model.trained_at_ = metadata.get("trained_at")
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
            raise ValueError(f"{source} is damaged: invalid metadata ({type(err).__name__}: {err})") from None
        return model


class NaiveForecaster(_Saved):
    """Repeats the last observed price: ``y[T + k] = y[T]``."""

    name = "naive"

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return np.full(steps, window[-1])


class DriftForecaster(_Saved):
    """Extends the last price by the mean one-step change of the fitted data.

    ``y[T + k] = y[T] + k * slope_`` with ``slope_ = (p[-1] - p[0]) / (n - 1)`` over the
    ``n`` fitted prices ``p``: the line through the first and last fitted points.
    """

    name = "drift"
    _fitted = ("slope_",)

    def __init__(self, *, band: str = "conformal", calibration: str = "auto") -> None:
        super().__init__(band=band, calibration=calibration)
        self.slope_: float | None = None

    def _fit(self, prices: np.ndarray) -> None:
        self.slope_ = float((prices[-1] - prices[0]) / (prices.shape[0] - 1))

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        assert self.slope_ is not None, "fitted"
        return window[-1] + self.slope_ * np.arange(1, steps + 1)


class SeasonalNaiveForecaster(_Saved):
    """Repeats the last full season: ``y[T + k] = y[T + k - season * ceil(k / season)]``.

    Args:
        season: period in steps, >= 1 (e.g. 24 on hourly data); ``season=1`` is the naive forecast.
    """

    name = "seasonal_naive"

    def __init__(self, season: int, *, band: str = "conformal", calibration: str = "auto") -> None:
        super().__init__(band=band, calibration=calibration)
        self.season = validation.check_positive_int("season", season)

    @property
    def min_fit_length(self) -> int:
        # One season plus a step: the forecast needs a full season, the volatility a return.
        return self.season + 1

    @property
    def min_window_length(self) -> int:
        return self.season

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return window[-self.season :][np.arange(steps) % self.season]


# Candidate smoothing parameters of HybridForecaster: 8 x 4 x 5 = 160 Holt models,
# each blended with drift at 5 weights.
_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
_BETAS = (0.01, 0.03, 0.1, 0.3)
_PHIS = (0.8, 0.9, 0.95, 0.98, 1.0)
_DRIFT_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
# The initial trend is the mean change over the first few steps: one step is too noisy.
_INITIAL_TREND_STEPS = 10


def _padded_length(n: int) -> int:
    """Next power of two >= n (and >= 32), so that series of similar length share one compilation."""
    return max(32, 1 << (n - 1).bit_length())


@jax.jit
def _holt_pass(
    y: jax.Array,
    valid: jax.Array,
    trend0: jax.Array,
    alpha: jax.Array,
    beta: jax.Array,
    phi: jax.Array,
    drift: jax.Array,
) -> tuple[jax.Array, ...]:
    """Runs damped-trend Holt smoothing for many parameter sets in one scan over time.

    Args:
        y: ``[time]`` log prices, padded at the end; ``y[0]`` starts the level.
        valid: ``[time]`` bool, False on padding, which leaves every state unchanged.
        trend0: ``[]`` initial trend.
        alpha, beta, phi: ``[models]`` level, trend and damping parameters.
        drift: ``[]`` per-step drift of the drift forecaster.

    Returns:
        ``(level [models], trend [models], holt_sse [models], cross [models], drift_sse [])``
        where the sums run over one-step errors ``e`` (Holt) and ``d`` (drift):
        ``sum e**2``, ``sum d * e`` and ``sum d**2``.
    """
    zeros = jnp.zeros_like(alpha)
    init = (zeros + y[0], zeros + trend0, zeros, zeros, jnp.zeros((), y.dtype))

    def step(carry, xs):
        level, trend, holt_sse, cross, drift_sse = carry
        y_prev, y_now, ok = xs
        pred = level + phi * trend
        e = jnp.where(ok, y_now - pred, 0.0)
        d = jnp.where(ok, y_now - y_prev - drift, 0.0)
        # Error-correction form of Holt: equal to the textbook level/trend updates.
        level = jnp.where(ok, pred + alpha * e, level)
        trend = jnp.where(ok, phi * trend + alpha * beta * e, trend)
        return (level, trend, holt_sse + e * e, cross + d * e, drift_sse + d * d), None

    carry, _ = jax.lax.scan(step, init, (y[:-1], y[1:], valid[1:]))
    return carry


class HybridForecaster(_Saved):
    """Damped-trend Holt smoothing on log prices, blended with drift; no training.

    Method, on log prices ``y[0..n-1]`` of the fitted data:

    1. Holt's linear method with a damped trend (error-correction form)::

           pred[t] = l[t-1] + phi * b[t-1];   e[t] = y[t] - pred[t]
           l[t] = pred[t] + alpha * e[t];      b[t] = phi * b[t-1] + alpha * beta * e[t]

       started at ``l[0] = y[0]`` and ``b[0]`` = mean change over the first
       ``min(n - 1, 10)`` steps. Its h-step forecast is ``l[T] + (phi + ... + phi**h) * b[T]``.
    2. Drift in log space: ``y[T] + h * mu`` with ``mu = (y[n-1] - y[0]) / (n - 1)``, the
       mean log return of the fitted data.
    3. The forecast is ``w * drift + (1 - w) * holt`` in log space, exponentiated back.

    ``alpha`` in {0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1}, ``beta`` in {0.01, 0.03, 0.1, 0.3},
    ``phi`` in {0.8, 0.9, 0.95, 0.98, 1} and ``w`` in {0, 0.25, 0.5, 0.75, 1} are chosen
    jointly to minimise the in-sample sum of squared one-step errors of the blend,
    ``sum (w * d[t] + (1 - w) * e[t])**2`` with ``d[t] = y[t] - y[t-1] - mu``. All 160
    Holt models run in a single ``jax.lax.scan`` over time and the blend weight is
    solved from three running sums, so fitting is one pass over the data.

    ``predict_multi_step`` re-runs step 1 with the chosen parameters over the given
    window (>= 2 prices) and blends with the fitted ``mu``. Fitting needs >= 3 prices.

    Fitted attributes: ``alpha_``, ``beta_``, ``phi_``, ``drift_weight_`` (``w``) and
    ``log_drift_`` (``mu``).
    """

    name = "hybrid"
    _fitted = ("alpha_", "beta_", "phi_", "drift_weight_", "log_drift_")

    def __init__(self, *, band: str = "conformal", calibration: str = "auto") -> None:
        super().__init__(band=band, calibration=calibration)
        self.alpha_: float | None = None
        self.beta_: float | None = None
        self.phi_: float | None = None
        self.drift_weight_: float | None = None
        self.log_drift_: float | None = None

    @staticmethod
    def _smooth(log_prices: np.ndarray, alpha: Any, beta: Any, phi: Any, drift: float) -> tuple[np.ndarray, ...]:
        """Runs ``_holt_pass`` on ``[time]`` log prices centred on their last value for precision."""
        n = log_prices.shape[0]
        y = log_prices - log_prices[-1]
        length = _padded_length(n)
        padded = np.concatenate([y, np.full(length - n, y[-1])])
        valid = np.arange(length) < n
        m = min(n - 1, _INITIAL_TREND_STEPS)
        trend0 = (y[m] - y[0]) / m
        out = _holt_pass(
            padded,
            valid,
            np.float64(trend0),
            np.asarray(alpha, np.float64),
            np.asarray(beta, np.float64),
            np.asarray(phi, np.float64),
            np.float64(drift),
        )
        return tuple(np.asarray(v, dtype=np.float64) for v in out)

    @property
    def min_fit_length(self) -> int:
        return 3

    @property
    def min_window_length(self) -> int:
        return 2

    def _fit(self, prices: np.ndarray) -> None:
        log_prices = np.log(prices)
        drift = float((log_prices[-1] - log_prices[0]) / (log_prices.shape[0] - 1))
        alpha, beta, phi = (g.ravel() for g in np.meshgrid(_ALPHAS, _BETAS, _PHIS, indexing="ij"))
        _, _, holt_sse, cross, drift_sse = self._smooth(log_prices, alpha, beta, phi, drift)
        w = np.asarray(_DRIFT_WEIGHTS)[None, :]
        # The blend's squared error expands into the three sums, so no [models, weights, time] array is built.
        sse = w**2 * drift_sse + 2 * w * (1 - w) * cross[:, None] + (1 - w) ** 2 * holt_sse[:, None]
        model, weight = np.unravel_index(int(np.argmin(sse)), sse.shape)
        self.alpha_ = float(alpha[model])
        self.beta_ = float(beta[model])
        self.phi_ = float(phi[model])
        self.drift_weight_ = float(_DRIFT_WEIGHTS[weight])
        self.log_drift_ = drift

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        phi, w, mu = self.phi_, self.drift_weight_, self.log_drift_
        assert phi is not None and w is not None and mu is not None, "fitted"
        level, trend, *_ = self._smooth(np.log(window), [self.alpha_], [self.beta_], [phi], mu)
        h = np.arange(1, steps + 1)
        damped_sum = np.cumsum(phi**h)
        holt = level[0] + damped_sum * trend[0]
        drift = h * mu
        # Both parts are relative to the last log price, which _smooth centred on. A path
        # past float64's range is inf here, which the forecast refuses by name (check_path).
        with np.errstate(over="ignore"):
            return window[-1] * np.exp(w * drift + (1 - w) * holt)
