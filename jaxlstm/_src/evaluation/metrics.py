"""Forecast accuracy metrics as pure array functions: JAX in, JAX out; numpy in, numpy out.

Every metric takes arrays shaped ``[..., horizon]`` and averages over the last axis,
so a batch of forecasts ``[batch, horizon]`` gives one score per forecast ``[batch]``
and a single forecast ``[horizon]`` gives a scalar. Given a JAX array (or a tracer) a
metric is ``jax.numpy`` code that composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``;
given only numpy arrays, lists or scalars it computes the same formula with numpy, in
their precision (float64 stays float64) and without compiling a program per shape (a
backtest scoring a new count of origins compiled about 25 small programs, 0.6 s). Shapes
are checked when the function is traced, so the checks also hold under ``jax.jit``; value
checks (such as ``lower <= upper``, or finite values, which numpy inputs must have) are not
possible on traced values and are left to the caller.

Percentages (``mape``, ``smape``) are on a 0-100 scale; fractions
(``directional_accuracy``, ``interval_coverage``) are on a 0-1 scale.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training, validation

#: What a metric returns: ``[...]`` scores, a JAX array for JAX inputs, numpy (an array or a scalar) otherwise.
Score: TypeAlias = "jax.Array | np.ndarray | np.floating[Any]"


def _xp(*values: Any) -> Any:
    """The array namespace of a metric's inputs: ``jax.numpy`` when any is a JAX array or tracer, else numpy."""
    return jnp if any(isinstance(v, jax.Array) for v in values) else np


def _as_float(name: str, value: Any, xp: Any) -> Any:
    """``value`` as a floating array of namespace ``xp`` with a horizon axis."""
    arr = xp.asarray(value)
    if xp is np and arr.dtype.kind not in "biuf":
        # numpy would take text ("1.5") and None (NaN) as numbers; jax.numpy refuses them too.
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    if not xp.issubdtype(arr.dtype, xp.floating):
        # Integer prices are common in hand-written inputs; averaging needs floats.
        arr = arr.astype(xp.result_type(float))
    if arr.ndim == 0:
        raise ValueError(f"{name} must have shape [..., horizon] with at least 1 dimension, got a scalar")
    if arr.shape[-1] == 0:
        raise ValueError(f"{name} must have at least 1 value along its last (horizon) axis, got shape {arr.shape}")
    if xp is np and not np.isfinite(arr).all():
        # A NaN score says nothing of where it came from; JAX values are left to the caller (see above).
        first = np.unravel_index(int(np.flatnonzero(~np.isfinite(arr))[0]), arr.shape)
        raise ValueError(f"{name} must be finite, got {arr[first]} at index {tuple(int(i) for i in first)}")
    return arr


def _check_same_shape(name: str, arr: Any, ref_name: str, ref: Any) -> None:
    if arr.shape != ref.shape:
        raise ValueError(f"{name} must have the same shape as {ref_name} {ref.shape}, got {arr.shape}")


def _pair(y_true: Any, y_pred: Any, xp: Any, pred_name: str = "y_pred") -> tuple[Any, Any]:
    y_true = _as_float("y_true", y_true, xp)
    y_pred = _as_float(pred_name, y_pred, xp)
    _check_same_shape(pred_name, y_pred, "y_true", y_true)
    return y_true, y_pred


def _check_quantile(quantile: Any) -> Any:
    """Validates a concrete quantile; a traced one cannot be inspected and passes through."""
    if isinstance(quantile, jax.core.Tracer):
        return quantile
    if isinstance(quantile, jax.Array) or hasattr(quantile, "dtype"):
        if jnp.ndim(quantile) != 0:
            raise ValueError(f"quantile must be a scalar in (0, 1), got shape {jnp.shape(quantile)}")
        quantile = float(quantile)
    return validation.check_fraction("quantile", quantile)


def mae(y_true: Any, y_pred: Any) -> Score:
    """Mean absolute error.

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.

    Returns:
        ``[...]`` mean of ``|y_true - y_pred|`` over the horizon axis.
    """
    xp = _xp(y_true, y_pred)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    return xp.mean(xp.abs(y_true - y_pred), axis=-1)


def rmse(y_true: Any, y_pred: Any) -> Score:
    """Root mean squared error.

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.

    Returns:
        ``[...]`` square root of the mean of ``(y_true - y_pred)**2`` over the horizon axis.
    """
    xp = _xp(y_true, y_pred)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    return xp.sqrt(xp.mean(xp.square(y_true - y_pred), axis=-1))


def mape(y_true: Any, y_pred: Any) -> Score:
    """Mean absolute percentage error, in percent.

    A zero in ``y_true`` makes the result infinite (or NaN for 0/0): prices are
    positive, so this is left as IEEE arithmetic rather than hidden.

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.

    Returns:
        ``[...]`` ``100 * mean(|(y_true - y_pred) / y_true|)`` over the horizon axis.
    """
    xp = _xp(y_true, y_pred)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    return 100.0 * xp.mean(xp.abs((y_true - y_pred) / y_true), axis=-1)


def smape(y_true: Any, y_pred: Any) -> Score:
    """Symmetric mean absolute percentage error, in percent (0 to 200).

    A step where both ``y_true`` and ``y_pred`` are 0 counts as a perfect forecast (0/0 := 0).

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.

    Returns:
        ``[...]`` ``200 * mean(|y_true - y_pred| / (|y_true| + |y_pred|))`` over the horizon axis.
    """
    xp = _xp(y_true, y_pred)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    denom = xp.abs(y_true) + xp.abs(y_pred)
    zero = denom == 0
    # Dividing by a safe denominator keeps gradients finite at the 0/0 steps too.
    ratio = xp.where(zero, 0.0, xp.abs(y_true - y_pred) / xp.where(zero, 1.0, denom))
    return 200.0 * xp.mean(ratio, axis=-1)


def mase(y_true: Any, y_pred: Any, y_train: Any, season: int = 1) -> Score:
    """Mean absolute scaled error.

    The forecast MAE divided by the in-sample MAE of the seasonal naive forecast
    ``y_train[t - season]`` on the training series. Below 1 means better than that
    naive forecast did in sample. A constant training series gives a zero scale and
    so an infinite (or NaN) result. Under ``jax.jit`` pass ``season`` as a static argument.

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.
        y_train: ``[..., time]`` training series, with ``time > season``; either 1-D
            (shared by every forecast) or with the same leading shape as ``y_true``.
        season: seasonal period in steps, >= 1 (1 is the plain naive forecast).

    Returns:
        ``[...]`` MAE of the forecast over the in-sample seasonal naive MAE.
    """
    season = validation.check_positive_int("season", season)
    xp = _xp(y_true, y_pred, y_train)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    y_train = _as_float("y_train", y_train, xp)
    if y_train.ndim > 1 and y_train.shape[:-1] != y_true.shape[:-1]:
        raise ValueError(
            f"y_train must be 1-D or have leading shape {y_true.shape[:-1]} like y_true, got shape {y_train.shape}"
        )
    if y_train.shape[-1] <= season:
        raise ValueError(
            f"y_train must have more than season={season} values along its last axis, got {y_train.shape[-1]}"
        )
    scale = xp.mean(xp.abs(y_train[..., season:] - y_train[..., :-season]), axis=-1)
    return xp.mean(xp.abs(y_true - y_pred), axis=-1) / scale


def directional_accuracy(y_true: Any, y_pred: Any, last_observed: Any) -> Score:
    """Fraction of steps whose forecast moves in the observed direction.

    A step counts when ``sign(y_pred - last_observed) == sign(y_true - last_observed)``;
    "no move" (sign 0) is its own direction, so it only matches another "no move".

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_pred: ``[..., horizon]`` forecasts, same shape as ``y_true``.
        last_observed: ``[...]`` the last value known when forecasting: a scalar, or
            one value per forecast with shape ``y_true.shape[:-1]``.

    Returns:
        ``[...]`` fraction in [0, 1].
    """
    xp = _xp(y_true, y_pred, last_observed)
    y_true, y_pred = _pair(y_true, y_pred, xp)
    last = xp.asarray(last_observed)
    if last.ndim != 0 and last.shape != y_true.shape[:-1]:
        raise ValueError(
            f"last_observed must be a scalar or have shape {y_true.shape[:-1]} (y_true without its horizon axis), "
            f"got {last.shape}"
        )
    last = last[..., None]
    hit = xp.sign(y_pred - last) == xp.sign(y_true - last)
    return xp.mean(hit.astype(y_true.dtype), axis=-1)


def interval_coverage(y_true: Any, lower: Any, upper: Any) -> Score:
    """Fraction of observed values inside their closed interval ``[lower, upper]``.

    Args:
        y_true: ``[..., horizon]`` observed values.
        lower: ``[..., horizon]`` lower bounds, same shape as ``y_true``.
        upper: ``[..., horizon]`` upper bounds, same shape as ``y_true``.

    Returns:
        ``[...]`` fraction in [0, 1].
    """
    xp = _xp(y_true, lower, upper)
    y_true, lower = _pair(y_true, lower, xp, "lower")
    upper = _as_float("upper", upper, xp)
    _check_same_shape("upper", upper, "y_true", y_true)
    inside = (lower <= y_true) & (y_true <= upper)
    return xp.mean(inside.astype(y_true.dtype), axis=-1)


def mean_interval_width(lower: Any, upper: Any) -> Score:
    """Mean width ``upper - lower`` of prediction intervals.

    Args:
        lower: ``[..., horizon]`` lower bounds.
        upper: ``[..., horizon]`` upper bounds, same shape as ``lower``.

    Returns:
        ``[...]`` mean of ``upper - lower`` over the horizon axis.
    """
    xp = _xp(lower, upper)
    lower = _as_float("lower", lower, xp)
    upper = _as_float("upper", upper, xp)
    _check_same_shape("upper", upper, "lower", lower)
    return xp.mean(upper - lower, axis=-1)


def winkler_score(y_true: Any, lower: Any, upper: Any, confidence: float = 0.95) -> Score:
    """Mean interval (Winkler) score: the width, plus ``2 / alpha`` times how far outside the outcome falls.

    Per step ``(upper - lower) + (2 / alpha) * (max(lower - y, 0) + max(y - upper, 0))`` with
    ``alpha = 1 - confidence`` (Gneiting and Raftery, 2007): lower is better, and a band
    buys nothing by being wider than it needs to be, nor by missing often.

    Args:
        y_true: ``[..., horizon]`` observed values.
        lower: ``[..., horizon]`` lower bounds, same shape as ``y_true``.
        upper: ``[..., horizon]`` upper bounds, same shape as ``y_true``.
        confidence: the band's nominal coverage, in (0, 1).

    Returns:
        ``[...]`` mean score over the horizon axis, in the units of ``y_true``.
    """
    alpha = 1.0 - validation.check_fraction("confidence", confidence)
    xp = _xp(y_true, lower, upper)
    y_true, lower = _pair(y_true, lower, xp, "lower")
    upper = _as_float("upper", upper, xp)
    _check_same_shape("upper", upper, "y_true", y_true)
    miss = xp.maximum(lower - y_true, 0.0) + xp.maximum(y_true - upper, 0.0)
    return xp.mean(upper - lower + (2.0 / alpha) * miss, axis=-1)


def pinball_loss(y_true: Any, y_quantile: Any, quantile: float) -> Score:
    """Mean pinball (quantile) loss of a quantile forecast.

    Per step the loss is ``quantile * d`` when ``d = y_true - y_quantile >= 0`` and
    ``(quantile - 1) * d`` otherwise; at ``quantile=0.5`` it is half the absolute error.
    A concrete ``quantile`` is checked to lie in (0, 1); a traced one cannot be.

    Args:
        y_true: ``[..., horizon]`` observed values.
        y_quantile: ``[..., horizon]`` forecasts of the ``quantile``, same shape as ``y_true``.
        quantile: the forecast quantile level, in (0, 1).

    Returns:
        ``[...]`` mean loss over the horizon axis (>= 0).
    """
    quantile = _check_quantile(quantile)
    xp = _xp(y_true, y_quantile, quantile)
    y_true, y_quantile = _pair(y_true, y_quantile, xp, "y_quantile")
    return xp.mean(training.pinball_terms(y_true - y_quantile, quantile), axis=-1)
