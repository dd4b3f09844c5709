"""Prediction intervals around point forecasts.

``volatility_band`` is the seed's band made consistent: the half-width grows as
``sigma * sqrt(i + 1) * z``, with ``sigma`` the standard deviation of one-step log
returns of the training data, applied multiplicatively so that bounds stay positive.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from jaxlstm._src import validation


def normal_quantile(confidence: float) -> float:
    """Two-sided standard-normal quantile: 1.959964 for ``confidence=0.95``."""
    confidence = validation.check_fraction("confidence", confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def log_return_volatility(prices: np.ndarray) -> float:
    """Standard deviation of one-step log returns of a ``[time]`` price series (>= 2 points)."""
    prices = validation.as_float_array("prices", prices, ndim=1)
    if prices.shape[0] < 2:
        raise ValueError(f"prices must have at least 2 values to measure volatility, got {prices.shape[0]}")
    if np.any(prices <= 0):
        raise ValueError("prices must be positive to measure log-return volatility")
    returns = np.diff(np.log(prices))
    return float(np.std(returns, ddof=1)) if returns.size > 1 else 0.0


def volatility_band(
    predicted: np.ndarray, volatility: float, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds ``predicted * exp(-/+ z * volatility * sqrt(i + 1))``.

    Args:
        predicted: ``[steps]`` positive point forecasts.
        volatility: per-step log-return standard deviation (>= 0).
        confidence: nominal two-sided coverage in (0, 1).

    Returns:
        ``(lower, upper)``, each ``[steps]``.
    """
    predicted = validation.as_float_array("predicted", predicted, ndim=1)
    volatility = validation.check_positive_float("volatility", volatility, allow_zero=True)
    z = normal_quantile(confidence)
    half = z * volatility * np.sqrt(np.arange(1, predicted.shape[0] + 1))
    return predicted * np.exp(-half), predicted * np.exp(half)
