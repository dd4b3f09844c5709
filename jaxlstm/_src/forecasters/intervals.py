"""Prediction bands around point forecasts.

Two bands, both multiplicative (log space) so that bounds stay positive:

* ``"volatility"``: the seed's band made consistent. The half-width grows as
  ``z * sigma * sqrt(i + 1)``, with ``sigma`` the standard deviation of one-step log
  returns of the training data and ``z`` the normal quantile. It assumes the forecast
  errors are those of a Gaussian random walk, which real prices (fat tails) and
  structured series (bounded errors) both violate.
* ``"adaptive"``: the conformal band with adaptive conformal inference (Gibbs and
  Candes, 2021) run through the calibration origins in time order: where the band
  missed more often than nominal in the calibration stretch, the quantile level rises.
* ``"conformal"``: split-conformal calibration. The forecaster's own multi-step
  forecasts are run from many origins on data its parameters were not fitted on; the
  log-ratio residuals ``log(actual / predicted)`` of each horizon step give that step's
  lower and upper quantiles, with the finite-sample correction that makes the coverage
  at least the nominal one when residuals are exchangeable. With too few residuals per
  step for a tail quantile, each step's residuals are divided by their root mean square
  (a spread that a few dozen residuals do estimate) and these scores are pooled over the
  steps into one pair of quantiles; with too few overall the volatility band is the
  fallback. A model's band is calibrated on the steps that have enough residuals
  (``calibrated_steps``) and extended past them like a random walk (``extend_offsets``),
  so that the band of a step does not depend on the horizon asked for. Both sides of the
  band are non-decreasing in the step: a step is never given a narrower band than an
  earlier one (per-step quantiles are noisy; the running widest only widens).

Band method names (``Forecast.band``, printed by the command line; stable):

* ``"conformal"``: split-conformal quantiles per forecast step;
* ``"conformal pooled over steps"``: too few residuals per step, so the scaled residuals
  of all steps were pooled (``conformal_offsets``);
* ``"adaptive conformal"``, ``"adaptive conformal pooled over steps"``: the same with
  adaptive conformal inference (``band="adaptive"``);
* ``" scaled by recent volatility"`` after any of these: scores scaled by the recent
  volatility (``conformal_band(scales=...)``);
* ``"wider of <name> and <name>"``: the wider, step by step, of the bands of two
  residual sources (``calibration="both"``: the held-back tail first, then the head
  refit; ``envelope``);
* ``"volatility"``: the seed's random-walk band;
* ``"quantile heads"``: the lower and upper quantiles a network emits next to its point
  forecast, trained with the pinball loss (``band="quantile"``);
* ``" widened to the members' range"`` after a conformal name: an ensemble's band, never
  narrower than the spread of its members' own forecasts (``MEMBERS_RANGE``). That
  widening is in prices, so it is not bound by the never-narrower rule above.

Everything here is a pure numpy function; ``base.Forecaster`` decides which residuals
are out-of-sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import encodings

#: Names accepted by ``check_band``.
BANDS: tuple[str, ...] = ("conformal", "adaptive", "volatility", "quantile")
#: The method name of a band read from a network's quantile heads (``band="quantile"``).
QUANTILE_HEADS = "quantile heads"

#: Parts of the band method names (see the module docstring): a conformal band whose steps
#: were pooled, one made adaptive, one on volatility-scaled scores, and several combined.
POOLED = " pooled over steps"
ADAPTIVE = "adaptive "
SCALED = " scaled by recent volatility"
WIDER_OF = "wider of "
MEMBERS_RANGE = " widened to the members' range"

#: Step size of adaptive conformal inference for ``band="adaptive"`` (``adaptive_confidence``),
#: chosen by ``benchmarks/calibration.py``: 0.005 covered best on BTC/USD at the same
#: Winkler score, 0.02 chased noise.
ADAPTIVE_GAMMA = 0.005

#: Fewest residuals per step for per-step quantiles: with fewer, a 95% tail quantile is
#: one of the few largest residuals and its step-to-step noise swamps the real shape.
MIN_RESIDUALS_PER_STEP = 50


def normal_quantile(confidence: float) -> float:
    """Two-sided standard-normal quantile: 1.959964 for ``confidence=0.95``."""
    confidence = validation.check_fraction("confidence", confidence)
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def check_band(band: Any) -> str:
    """Returns ``band`` if it names a band, else raises ``ValueError``."""
    return validation.check_choice("band", band, BANDS)


def envelope(bands: list[tuple[np.ndarray, np.ndarray, str]]) -> tuple[np.ndarray, np.ndarray, str]:
    """The widest of several ``(lower, upper, method)`` log-offset bands, step by step.

    Args:
        bands: one or more bands with ``[steps]`` offsets.

    Returns:
        ``(min of lowers, max of uppers, method)``: the method of the bands when they all
        have the same, else ``"wider of <first> and <second>"`` (their distinct methods in
        order, joined by ``" and "``).
    """
    lower = np.minimum.reduce([b[0] for b in bands])
    upper = np.maximum.reduce([b[1] for b in bands])
    methods = list(dict.fromkeys(b[2] for b in bands))
    return lower, upper, methods[0] if len(methods) == 1 else WIDER_OF + " and ".join(methods)


def log_return_volatility(prices: np.ndarray) -> float:
    """Standard deviation of one-step log returns of a ``[time]`` price series (>= 2 points)."""
    return encodings.log_return_std(_checked_prices(prices), ddof=1)


def log_return_rms(prices: np.ndarray) -> float:
    """Root mean square of the one-step log returns of a ``[time]`` price series (>= 2 points): their spread and their drift.

    The scale of a band around a forecast that need not follow the series' drift: a smooth
    trending series has a spread (``log_return_volatility``) near zero.
    """
    return float(np.sqrt(np.mean(np.square(np.diff(np.log(_checked_prices(prices)))))))


def _checked_prices(prices: np.ndarray) -> np.ndarray:
    prices = validation.as_float_array("prices", prices, ndim=1)
    if prices.shape[0] < 2:
        raise ValueError(f"prices must have at least 2 values to measure volatility, got {prices.shape[0]}")
    if np.any(prices <= 0):
        raise ValueError("prices must be positive to measure log-return volatility")
    return prices


def volatility_offsets(steps: int, volatility: float, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Log offsets ``-/+ z * volatility * sqrt(i + 1)`` of the volatility band.

    Args:
        steps: forecast steps, >= 1.
        volatility: per-step log-return standard deviation (>= 0).
        confidence: nominal two-sided coverage in (0, 1).

    Returns:
        ``(lower, upper)`` log offsets, each ``[steps]``, ``lower <= 0 <= upper``.
    """
    steps = validation.check_positive_int("steps", steps)
    volatility = validation.check_positive_float("volatility", volatility, allow_zero=True)
    half = normal_quantile(confidence) * volatility * np.sqrt(np.arange(1, steps + 1))
    return -half, half


def apply_offsets(predicted: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``predicted * exp(lower)`` and ``predicted * exp(upper)``.

    Args:
        predicted: ``[..., steps]`` positive point forecasts.
        lower, upper: ``[steps]`` (or broadcastable) log offsets.

    Returns:
        ``(lower, upper)`` bounds shaped like ``predicted``.
    """
    predicted = np.asarray(predicted, np.float64)
    return predicted * np.exp(lower), predicted * np.exp(upper)


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
    lower, upper = volatility_offsets(predicted.shape[0], volatility, confidence)
    return apply_offsets(predicted, lower, upper)


def log_ratio_residuals(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Residuals ``log(actual / predicted)``, NaN where either is missing or not positive.

    Args:
        actual: ``[..., steps]`` observed prices, NaN where not observed.
        predicted: ``[..., steps]`` forecasts of the same prices.

    Returns:
        ``[..., steps]`` float64 residuals.
    """
    actual = np.asarray(actual, np.float64)
    predicted = np.asarray(predicted, np.float64)
    ok = np.isfinite(actual) & np.isfinite(predicted) & (actual > 0) & (predicted > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, np.log(np.where(ok, actual, 1.0) / np.where(ok, predicted, 1.0)), np.nan)


def min_residuals(confidence: float) -> int:
    """Fewest residuals whose conformal ``confidence`` interval has finite ends.

    The upper end is the ``ceil((n + 1) * (1 + confidence) / 2)``-th smallest of ``n``
    residuals, which exists only once ``n >= 2 / (1 - confidence) - 1`` (39 at 0.95).
    """
    confidence = validation.check_fraction("confidence", confidence)
    n = 1
    while True:
        lower, upper = _ranks(n, confidence)
        if lower >= 1 and upper <= n:
            return n
        n += 1


def _ranks(n: int, confidence: float) -> tuple[int, int]:
    """1-based ranks of the lower and upper conformal quantiles among ``n`` sorted residuals."""
    tail = (1.0 - confidence) / 2.0
    # The tiny epsilons keep exact products such as 40 * 0.975 = 39 from rounding up to 40.
    upper = math.ceil((n + 1) * (1.0 - tail) - 1e-9)
    lower = math.floor((n + 1) * tail + 1e-9)
    return lower, upper


def _two_sided(values: np.ndarray, confidence: float) -> tuple[float, float]:
    values = np.sort(values)
    lower, upper = _ranks(values.shape[0], confidence)
    return float(values[lower - 1]), float(values[upper - 1])


def calibrated_steps(
    residuals: np.ndarray, confidence: float = 0.95, *, min_per_step: int = MIN_RESIDUALS_PER_STEP
) -> int:
    """How many leading forecast steps a model's conformal band is calibrated on.

    Residuals past the end of the data are NaN, so later steps of the same origins have
    fewer. The steps counted are ``1..k`` up to the first step with fewer than
    ``max(min_per_step, min_residuals(confidence))`` residuals (then
    ``conformal_offsets`` gives per-step quantiles); when not even the first step has
    that many, up to the first with fewer than ``min_residuals(confidence)`` (the fewest
    whose interval has finite ends; ``conformal_offsets`` then pools the steps).

    Args:
        residuals: ``[origins, steps]`` log-ratio residuals, NaN where not observed.
        confidence: nominal two-sided coverage in (0, 1).
        min_per_step: fewest residuals per step for per-step quantiles.

    Returns:
        ``k`` in ``[0, steps]``; 0 when the first step has too few residuals for any band.
    """
    residuals = np.asarray(residuals, np.float64)
    if residuals.ndim != 2:
        raise ValueError(f"residuals must be [origins, steps], got shape {residuals.shape}")
    counts = np.isfinite(residuals).sum(axis=0)
    least = min_residuals(confidence)
    for need in (max(int(min_per_step), least), least):
        steps = int(np.cumprod(counts >= need).sum())
        if steps:
            return steps
    return 0


def extend_offsets(band: tuple[np.ndarray, np.ndarray, str], steps: int) -> tuple[np.ndarray, np.ndarray, str]:
    """A band calibrated on ``k`` steps, made non-decreasing in the step, cut or extended to ``steps``.

    Each side is first widened to the widest it was at any earlier step (the running
    minimum of ``lower`` and maximum of ``upper``): per-step quantiles of a few hundred
    residuals are noisy, and a forecast further ahead is not more certain than a nearer
    one. This only ever widens a step, so a step keeps at least its calibrated coverage.
    Past its last calibrated step the band grows like a random walk's: ``offset_k * sqrt(i
    / k)`` at step ``i > k`` from that widened ``offset_k``, the shape the volatility band
    has. The offsets of step ``i`` do not depend on ``steps``.

    Args:
        band: ``(lower [k], upper [k], method)`` log offsets, ``k >= 1``, ``lower <= 0 <= upper``.
        steps: forecast steps, >= 1.

    Returns:
        ``(lower [steps], upper [steps], method)``, ``lower`` non-increasing and ``upper``
        non-decreasing in the step.
    """
    lower, upper, method = band
    steps = validation.check_positive_int("steps", steps)
    k = lower.shape[0]
    if k == 0:
        raise ValueError("band must have at least one calibrated step")
    lower = np.minimum.accumulate(np.asarray(lower, np.float64)[: min(k, steps)])
    upper = np.maximum.accumulate(np.asarray(upper, np.float64)[: min(k, steps)])
    if steps <= k:
        return lower, upper, method
    growth = np.sqrt(np.arange(k + 1, steps + 1) / k)
    return np.concatenate([lower, lower[-1] * growth]), np.concatenate([upper, upper[-1] * growth]), method


def conformal_offsets(
    residuals: np.ndarray,
    confidence: float = 0.95,
    *,
    min_per_step: int = MIN_RESIDUALS_PER_STEP,
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Split-conformal log offsets per horizon step from out-of-sample residuals.

    Per step ``i``, the lower and upper offsets are the ``floor((n + 1) * a)``-th and
    ``ceil((n + 1) * (1 - a))``-th smallest of the ``n`` residuals of that step, with
    ``a = (1 - confidence) / 2``: under exchangeability each tail is missed with
    probability at most ``a``. This needs ``max(min_per_step, min_residuals(confidence))``
    residuals at every step; otherwise the scores ``residual / rms_i`` of all steps, with
    ``rms_i`` the root mean square of step ``i``'s residuals, are pooled into one pair of
    quantiles scaled back by ``rms_i``: the shape over the horizon comes from the data (it
    need not grow like a random walk's ``sqrt(i + 1)``) and the tail from all steps. Offsets are
    clipped to ``lower <= 0 <= upper`` so that the interval always holds the forecast.

    Args:
        residuals: ``[origins, steps]`` log-ratio residuals, NaN where not observed.
        confidence: nominal two-sided coverage in (0, 1).
        min_per_step: fewest residuals per step for per-step quantiles.

    Returns:
        ``(lower [steps], upper [steps], method)`` with method ``"conformal"`` (per step)
        or ``"conformal pooled over steps"``; ``None`` when even the pooled scores are too few.
    """
    confidence = validation.check_fraction("confidence", confidence)
    residuals = np.asarray(residuals, np.float64)
    if residuals.ndim != 2:
        raise ValueError(f"residuals must be [origins, steps], got shape {residuals.shape}")
    steps = residuals.shape[1]
    need = max(int(min_per_step), min_residuals(confidence))
    finite = np.isfinite(residuals)
    counts = finite.sum(axis=0)
    lower = np.zeros(steps)
    upper = np.zeros(steps)
    if steps and counts.min() >= need:
        for i in range(steps):
            lower[i], upper[i] = _two_sided(residuals[finite[:, i], i], confidence)
        method = "conformal"
    else:
        # Every step needs residuals of its own to measure its spread.
        if steps == 0 or counts.min() < 2 or finite.sum() < need:
            return None
        scale = np.sqrt(np.nanmean(np.square(residuals), axis=0))
        spread = scale > 0
        scores = (residuals[:, spread] / scale[spread])[finite[:, spread]]
        # Steps whose residuals are all zero keep a zero-width interval and add no score.
        if scores.size:
            if scores.shape[0] < need:
                return None
            lo, hi = _two_sided(scores, confidence)
            lower, upper = lo * scale, hi * scale
        method = "conformal" + POOLED
    return np.minimum(lower, 0.0), np.maximum(upper, 0.0), method


def recent_volatility(prices: np.ndarray, ends: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of the one-step log returns of the ``window`` prices before each end.

    Args:
        prices: ``[time]`` positive prices.
        ends: ``[n]`` indices; the prices used are ``prices[end - window : end]`` (clipped at 0).
        window: prices per estimate, >= 3.

    Returns:
        ``[n]`` volatilities (ddof 1), 0 where fewer than 3 prices are available.
    """
    prices = validation.as_float_array("prices", prices, ndim=1)
    window = validation.check_positive_int("window", window, minimum=3)
    returns = np.diff(np.log(prices))
    total = np.concatenate([[0.0], np.cumsum(returns)])
    squares = np.concatenate([[0.0], np.cumsum(returns**2)])
    ends = np.asarray(ends, np.int64)
    hi = np.clip(ends - 1, 0, returns.shape[0])
    lo = np.clip(ends - window, 0, returns.shape[0])
    count = hi - lo
    mean = np.where(count > 0, (total[hi] - total[lo]) / np.maximum(count, 1), 0.0)
    var = np.where(count > 1, (squares[hi] - squares[lo] - count * mean**2) / np.maximum(count - 1, 1), 0.0)
    return np.sqrt(np.maximum(var, 0.0))


def adaptive_confidence(scores: np.ndarray, confidence: float = 0.95, gamma: float = 0.005) -> float:
    """Adaptive conformal inference (Gibbs and Candes, 2021) over calibration origins in time order.

    Walks through ``[origins, steps]`` scores oldest first; at each origin the band is the
    ``confidence_t`` quantile of the absolute scores of earlier origins, and ``confidence_t``
    moves by ``gamma`` times the miss rate minus the nominal one, so a stretch where the
    band misses more often than it should widens it. Steps are pooled after dividing
    each by its root mean square. ``adaptive_confidences`` walks many at once.

    Args:
        scores: ``[origins, steps]`` residuals (or scaled residuals), NaN where missing.
        confidence: nominal coverage in (0, 1).
        gamma: step size (0 returns ``confidence``).

    Returns:
        The coverage level to use now, clipped to ``[confidence / 2, 0.999]``.
    """
    return adaptive_confidences([scores], confidence, gamma)[0]


#: Ranks per block of the walk's counts of earlier values (``adaptive_confidences``).
_WALK_BLOCK = 256
#: Score matrices walked together: bounds the ``[series, origins, blocks]`` counts in memory.
_WALK_CHUNK = 128


def adaptive_confidences(scores: Sequence[np.ndarray], confidence: float = 0.95, gamma: float = 0.005) -> list[float]:
    """``adaptive_confidence`` of each ``[origins, steps]`` score matrix, the walks made together.

    The walks are sequential in their origins but independent of each other, so they run
    side by side: at each origin every matrix's quantile of its earlier scores is read from
    the scores ranked once (counts of earlier values per block of ranks), not from a
    sorted history rebuilt per origin, and every level moves by the same float64
    arithmetic as one walk alone. The forecasts of many models (``forecast_many``, a global
    model's series) calibrate their bands in one call.
    """
    confidence = validation.check_fraction("confidence", confidence)
    gamma = validation.check_positive_float("gamma", gamma, allow_zero=True)
    out = [confidence] * len(scores)
    jobs: list[tuple[int, np.ndarray]] = []
    for i, given in enumerate(scores):
        matrix = np.asarray(given, np.float64)
        if gamma == 0 or matrix.ndim != 2 or matrix.shape[0] < 2:
            continue
        finite = np.isfinite(matrix)
        # Steps without any residual (a long horizon past the calibration data) have no spread.
        rms = np.sqrt(np.where(finite, np.square(matrix), 0.0).sum(axis=0) / np.maximum(finite.sum(axis=0), 1))
        jobs.append((i, np.abs(matrix / np.where(rms > 0, rms, 1.0))))
    # Matrices of like lengths walk together: a chunk loops over its longest matrix's origins.
    jobs.sort(key=lambda job: job[1].shape[0])
    for first in range(0, len(jobs), _WALK_CHUNK):
        chunk = jobs[first : first + _WALK_CHUNK]
        for (i, _), level in zip(chunk, _walk([m for _, m in chunk], confidence, gamma), strict=True):
            out[i] = float(np.clip(level, confidence / 2.0, 0.999))
    return out


def _walk(pooled: Sequence[np.ndarray], confidence: float, gamma: float) -> np.ndarray:
    """The unclipped final levels of ``adaptive_confidences`` for ``[origins, steps]`` absolute pooled scores."""
    count, origins, width = len(pooled), max(m.shape[0] for m in pooled), max(m.shape[1] for m in pooled)
    rows = np.full((count, origins, width), np.nan)
    for i, matrix in enumerate(pooled):
        rows[i, : matrix.shape[0], : matrix.shape[1]] = matrix
    finite = np.isfinite(rows)
    sizes = finite.sum(axis=2)  # [series, origins] values per origin
    before = np.cumsum(sizes, axis=1) - sizes  # values of the earlier origins
    # Every value ranked once: its origin, in order of value (missing ones last, never counted).
    blocks = -(-origins * width // _WALK_BLOCK)
    total = blocks * _WALK_BLOCK
    flat = np.full((count, total), np.inf)
    flat[:, : origins * width] = np.where(finite, rows, np.inf).reshape(count, -1)
    order = np.argsort(flat, axis=1)  # ties in any order: the k-th smallest value is the same
    ranked = np.take_along_axis(flat, order, axis=1)
    del flat
    source = (order // width).astype(np.int32)
    del order
    source[~np.isfinite(ranked)] = origins
    # earlier[s, t, b]: values of series s from origins before t among ranks of block b.
    cell = (np.arange(count)[:, None] * (origins + 1) + source) * blocks + np.arange(total) // _WALK_BLOCK
    found = np.bincount(cell.ravel(), minlength=count * (origins + 1) * blocks).reshape(count, origins + 1, blocks)
    earlier = np.cumsum(found, axis=1, dtype=np.int32) - found.astype(np.int32)
    series, within = np.arange(count), np.arange(_WALK_BLOCK)
    level = np.full(count, confidence)
    warmup = min_residuals(confidence)
    for t in range(1, origins):
        history, new = before[:, t], sizes[:, t]
        moving = (history >= warmup) & (new > 0)
        if not moving.any():
            continue
        # The quantile of the earlier values: the k-th smallest (from 0), as a sorted history gives it.
        k = np.minimum(np.ceil(np.clip(level, 0.0, 1.0) * history).astype(np.int64), history - 1)
        k = np.where(moving, k, 0)
        counted = np.cumsum(earlier[:, t, :], axis=1)
        block = np.minimum((counted <= k[:, None]).sum(axis=1), blocks - 1)
        skipped = np.where(block > 0, counted[series, np.maximum(block - 1, 0)], 0)
        inside = np.take_along_axis(source, block[:, None] * _WALK_BLOCK + within, axis=1) < t
        position = np.argmax(np.cumsum(inside, axis=1) > (k - skipped)[:, None], axis=1)
        threshold = ranked[series, block * _WALK_BLOCK + position]
        misses = (rows[:, t, :] > threshold[:, None]).sum(axis=1)
        rate = misses / np.maximum(new, 1)
        level = np.where(moving, level + gamma * (rate - (1.0 - confidence)), level)
    return level


def conformal_band(
    residuals: np.ndarray,
    confidence: float = 0.95,
    *,
    scales: np.ndarray | None = None,
    scale_now: np.ndarray | float | None = None,
    adaptive: float = 0.0,
    pooled: bool = False,
    level: float | None = None,
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Conformal log offsets, optionally on scaled scores and with an adaptive coverage level.

    With ``scales`` (one per residual, e.g. the recent volatility before each origin) the
    conformal quantiles are taken of ``residual / scale`` and multiplied by ``scale_now``
    (the same scale measured now): a calm stretch gives a narrow band and a turbulent one a
    wide band, with the coverage still set by the conformal quantiles. Scales are floored
    at a twentieth of their median so a flat stretch cannot blow scores up.

    Args:
        residuals: ``[origins, steps]`` log-ratio residuals, origins oldest first.
        confidence: nominal coverage in (0, 1).
        scales: ``[origins, steps]`` (or ``[origins]``) positive scales, or None.
        scale_now: ``[steps]`` or scalar scale at the forecast origin (needed with ``scales``).
        adaptive: ACI step size (``adaptive_confidence``); 0 for plain split conformal.
        pooled: pool the steps even when each has enough residuals of its own.
        level: with ``adaptive``, the level ``adaptive_confidence`` gives these scores when
            it was computed already (``adaptive_confidences`` of many bands); None: walked here.

    Returns:
        ``(lower, upper, method)`` like ``conformal_offsets`` (method prefixed ``"adaptive "``
        when adaptive, suffixed ``" scaled by recent volatility"`` with scales), or None when
        there are too few residuals.
    """
    residuals = np.asarray(residuals, np.float64)
    scores = residuals
    if scales is not None:
        if scale_now is None:
            raise ValueError("scale_now is needed with scales: the scale measured at the forecast origin")
        scales = np.asarray(scales, np.float64)
        scales = np.broadcast_to(scales[:, None] if scales.ndim == 1 else scales, residuals.shape)
        finite = scales[np.isfinite(scales) & (scales > 0)]
        if finite.size == 0:
            return None
        floor = np.median(finite) / 20.0
        scores = residuals / np.maximum(np.where(np.isfinite(scales), scales, floor), floor)
    if not adaptive:
        level = confidence
    elif level is None:
        level = adaptive_confidence(scores, confidence, adaptive)
    big = residuals.shape[0] + 1
    result = conformal_offsets(scores, level, min_per_step=big if pooled else MIN_RESIDUALS_PER_STEP)
    if result is None:
        return None
    lower, upper, method = result
    if adaptive:
        method = ADAPTIVE + method
    if scales is None:
        return lower, upper, method
    now = np.broadcast_to(np.asarray(scale_now, np.float64), lower.shape)
    now = np.maximum(np.where(np.isfinite(now), now, floor), floor)
    return lower * now, upper * now, method + SCALED
