"""Shrinking a forecast toward the last price when the fit found no edge over it (``shrink="auto"``).

The gated forecast is ``last * (predicted / last) ** w``: ``w = 1`` is the model, ``w = 0``
the naive forecast ("tomorrow equals today"), and in between the model's predicted log
change scaled by ``w``. ``w`` is chosen by ``fit`` from the out-of-sample multi-step
forecasts it already makes for the band (``Forecaster.calibration_residuals``) from the
held-back tail, the chronological validation part: no new forecast, nothing after the
fitted series.

The rule (``fit_weight``): with ``d`` the model's predicted log change from the origin's last
price and ``y`` the realised one, ``beta = sum(y d) / sum(d^2)`` is the least-squares weight of
the model's change (the weight that minimises the squared log error of the gated forecast).
Its standard error comes from blocks of consecutive origins, each origin scored only on the
steps whose target lies inside its own block (a triangle of (origin, step) pairs): a block's
realised changes are then made of its own price moves alone, and its predicted changes of
earlier prices, so under "no edge" (prices a martingale) the blocks' scores are martingale
differences, uncorrelated without any lag correction. Square blocks (every origin scored on
the same steps) share price moves with the next block; one lag of Newey-West over 7 or 8
of them made the standard error too small (``t > 2`` on 11% of simulated random walks where
2.3% was meant). The variance is the cluster-robust CR2 estimate (each block's score over
``sqrt(1 - leverage)``, exact for one regressor) and ``t`` is read against Student's
distribution with the Bell-McCaffrey degrees of freedom (``B - 1`` for ``B`` blocks of equal
weight, fewer when a few blocks carry most of ``sum(d^2)``); below ``MIN_DF`` the model is
left as it is.

``w = min(beta, 1) * (1 - (c / t)^2)`` for ``t > c`` and 0 otherwise, ``c`` Student's
quantile with the upper tail of a normal beyond 1 (``critical_t``: 1 with a known standard
error, 1.08 for 7 degrees of freedom): the weight capped at 1 (the model's change is never
amplified) times ``1 - (c / t)^2``, the share of the estimate's variance that is signal (the
positive-part empirical-Bayes factor of a normal prior centred on naive whose spread is
estimated from the data), measured in units of the calibrated gate, so that under "no edge"
some of the model is kept as often as a known standard error would keep it (15.9%). A model
with no measured edge (``t <= c``) is naive; one with a clear edge keeps nearly all of it.
The factor is
applied after the cap: a model that forecasts tiny changes has a large and noisy ``beta``
(22 with ``t = 1.05`` at one hourly BTC/USD origin), which shrunk first and capped after
would have kept the whole model.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src.forecasters import bands

#: Values of ``shrink`` besides None (no shrinkage).
SHRINKS: tuple[str, ...] = ("auto",)
#: Blocks of origins the forecasts are split into (each block's length sets the steps scored).
TARGET_BLOCKS = 12
#: Fewest blocks with a measured forecast for a weight: fewer leave the model as it is.
MIN_BLOCKS = 4
#: Fewest effective degrees of freedom of the standard error for a weight: with fewer, the
#: spread of ``t`` itself is unbounded (Student's variance is infinite for 2 or fewer), so an
#: edge cannot be told from luck and the model is left as it is, as with too few blocks.
MIN_DF = 3.0
#: ``P(Z > 1)`` of a standard normal: the rule keeps some of the model as often as a known
#: standard error and ``t > 1`` would.
GATE_TAIL = 0.15865525393145707


def check_shrink(shrink: Any) -> str | None:
    """Returns ``shrink`` if it is None or one of ``SHRINKS``, else raises ``ValueError`` naming it."""
    if shrink is None or (isinstance(shrink, str) and shrink in SHRINKS):
        return shrink
    raise ValueError(f"shrink must be one of {SHRINKS} or None, got {shrink!r}")


class Shrinkage(NamedTuple):
    """The weight ``fit`` chose and the evidence behind it.

    Attributes:
        weight: ``w`` in [0, 1] of ``last * (predicted / last) ** w``.
        coefficient: the least-squares weight ``beta`` (unclipped).
        t: ``beta`` over its standard error (``inf`` when the errors are exactly zero).
        blocks: blocks of origins measured.
        steps: the block length: the first origin of a block is scored on this many steps,
            each later one on one step fewer.
        df: the degrees of freedom ``t`` was read with (``inf``: as a normal deviate, the
            rule of models saved before the degrees of freedom were recorded).
    """

    weight: float
    coefficient: float
    t: float
    blocks: int
    steps: int
    df: float = float("inf")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (``t`` of ``inf`` as None)."""
        return {
            "weight": float(self.weight),
            "coefficient": float(self.coefficient),
            "t": float(self.t) if np.isfinite(self.t) else None,
            "blocks": int(self.blocks),
            "steps": int(self.steps),
            "df": float(self.df) if np.isfinite(self.df) else None,
        }

    @classmethod
    def from_json(cls, state: Any) -> Shrinkage:
        """Rebuilds ``to_json`` output; anything odd is a ``ValueError`` or ``TypeError``."""
        keys = {"weight", "coefficient", "t", "blocks", "steps"}
        if not isinstance(state, Mapping) or set(state) not in (keys, keys | {"df"}):
            raise ValueError(f"shrink state must map weight, coefficient, t, blocks, steps and df, got {state!r:.200}")
        weight = float(state["weight"])
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"shrink weight must be in [0, 1], got {weight}")
        t = float("inf") if state["t"] is None else float(state["t"])
        df = state.get("df")
        df = float("inf") if df is None else float(df)
        return cls(weight, float(state["coefficient"]), t, int(state["blocks"]), int(state["steps"]), df)


def block_sums(y: np.ndarray, d: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of ``length`` consecutive origins (counted back from the last): ``sum(y d)`` and ``sum(d^2)`` over the (origin, step) pairs whose target lies inside the block.

    The ``j``-th origin of a block (from 0) is scored on its first ``length - j`` steps, so a
    block's realised changes use only the price moves inside it (see the module docstring).

    Args:
        y, d: ``[origins, steps]`` realised and predicted log changes (NaN: not measured).
        length: origins per block (at most ``steps``).

    Returns:
        ``([blocks], [blocks])``, oldest block first; origins before the first whole block are dropped.
    """
    count = y.shape[0] // length
    start = y.shape[0] - count * length
    y, d = y[start:, :length], d[start:, :length]
    first = np.arange(count * length) % length
    inside = first[:, None] + np.arange(y.shape[1])[None, :] < length
    ok = inside & np.isfinite(y) & np.isfinite(d)
    d = np.where(ok, d, 0.0)
    yd = np.where(ok, y * d, 0.0).sum(axis=1)
    dd = (d**2).sum(axis=1)
    return yd.reshape(count, length).sum(axis=1), dd.reshape(count, length).sum(axis=1)


def student_tail(t: float, df: int) -> float:
    """``P(T > t)`` for Student's ``T`` with a whole number ``df >= 1`` of degrees of freedom, ``t >= 0``.

    The closed forms of Abramowitz and Stegun 26.7.3-4 (a finite sum in ``cos(theta)``,
    ``theta = atan(t / sqrt(df))``): no special function beyond numpy's.
    """
    theta = np.arctan(t / np.sqrt(df))
    c2 = np.cos(theta) ** 2
    if df % 2 == 0:
        k = np.arange(1, df // 2)
        terms = np.concatenate([[1.0], np.cumprod((2 * k - 1) / (2 * k))]) * c2 ** np.arange(df // 2)
        inside = np.sin(theta) * terms.sum()
    else:
        k = np.arange(1, (df - 1) // 2)
        terms = np.concatenate([[1.0], np.cumprod(2 * k / (2 * k + 1))]) * c2 ** np.arange((df - 1) // 2)
        inside = 2 / np.pi * (theta + (np.sin(theta) * np.cos(theta) * terms.sum() if df > 1 else 0.0))
    return float(max(1.0 - inside, 0.0) / 2)


def normal_equivalent(t: float, df: float) -> float:
    """The standard normal deviate with the same upper tail as ``t`` under Student's ``floor(df)`` degrees of freedom (``t`` itself for ``df = inf``).

    ``floor``: a fractional count of degrees of freedom is read as the next lower whole one,
    the conservative side.
    """
    if not np.isfinite(df) or not np.isfinite(t):
        return float(t)
    if t == 0:
        return 0.0
    if t < 0:
        return -normal_equivalent(-t, df)
    tail = student_tail(t, max(int(df), 1))
    # Below a tail of 1e-15 the closed form is all rounding: the deviate (about 8) counts as certain.
    return float("inf") if tail < 1e-15 else -statistics.NormalDist().inv_cdf(tail)


def critical_t(df: float) -> float:
    """Student's ``t`` with an upper tail of ``GATE_TAIL`` on ``floor(df)`` degrees of freedom (1 for ``df = inf``): 1.84 for 1, 1.08 for 7."""
    return 1.0 if not np.isfinite(df) else _critical_t(max(int(df), 1))


@functools.cache
def _critical_t(whole: int) -> float:
    lo, hi = 1.0, 2.0  # the quantile falls from 1.84 (one degree of freedom) to 1 (infinitely many)
    for _ in range(50):  # bisection to 1e-15 of a smooth monotone tail
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if student_tail(mid, whole) > GATE_TAIL else (lo, mid)
    return (lo + hi) / 2


def cr2_variance(yd: np.ndarray, dd: np.ndarray) -> tuple[float, float, float]:
    """``(beta, variance, df)`` of ``beta = sum(yd) / sum(dd)`` from ``[blocks]`` block sums.

    The CR2 cluster-robust variance: each block's score ``yd - beta dd`` divided by
    ``sqrt(1 - h)`` for its leverage ``h = dd / sum(dd)`` (exact CR2 with one regressor), which
    takes away the downward bias of squared residuals of a fitted ``beta``. The degrees of
    freedom are Bell and McCaffrey's (Satterthwaite's for the variance estimate under a working
    model of independent blocks whose score variance is proportional to ``dd``): ``B - 1`` for
    ``B`` blocks of equal ``dd``, fewer as ``dd`` concentrates in a few blocks.
    """
    total = float(dd.sum())
    beta = float(yd.sum() / total)
    leverage = dd / total
    e = yd - beta * dd
    variance = float(np.sum(e**2 / (1.0 - leverage))) / total**2
    # Working model: scores sqrt(dd) * u with u independent of equal variance; the estimate is
    # u' M C M u for the residual maker M of the regressor sqrt(dd) and C its CR2 weights.
    v = np.sqrt(dd)
    m = np.eye(dd.size) - np.outer(v, v) / total
    mc = m * (dd / (1.0 - leverage))[None, :]
    df = float(np.trace(mc) ** 2 / np.sum(mc * mc.T))
    return beta, variance, df


def changes(closes: np.ndarray, residuals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, d)``: the realised and the predicted ``[origins, steps]`` log changes from each origin's last price.

    ``residuals`` are ``bands.origin_residuals`` rows of the last origins of ``closes`` (one
    per origin up to the end, as ``fit`` measures them); ``d = y - residuals``.
    """
    origins = closes.shape[0] - residuals.shape[0] + np.arange(residuals.shape[0])
    last = np.broadcast_to(closes[origins - 1][:, None], residuals.shape)
    y = bands.origin_residuals(closes, origins, last)
    return y, y - residuals


def fit_weight(closes: np.ndarray, residuals: Mapping[str, np.ndarray]) -> Shrinkage | None:
    """The shrinkage weight from a fit's calibration residuals (see the module docstring), or None without enough of them.

    The origins scored are the held-back tail's (``"auto"``): the forecasting model itself,
    on the most recent prices its parameters did not see. Only a band without a tail
    (``calibration="refit"``, or no early stopping) uses the head refit (``"refit"``), a copy
    trained on the first half. On 25 hourly BTC/USD origins the tail alone gave a relative
    MAE of 1.006 +- 0.005 against 1.012 +- 0.012 for the head refit's origins before the
    tail pooled with it (``python -m benchmarks.shrink_checks origins``, README "Knowing when
    there is no edge").

    Args:
        closes: ``[time]`` the fitted closes.
        residuals: ``{source: [origins, steps]}`` as in ``Band.residuals`` (the last origins
            of ``closes``, NaN past its end).

    Returns:
        ``Shrinkage``, or None when fewer than ``MIN_BLOCKS`` blocks were measured or the model
        forecasts no change (nothing to shrink).
    """
    rows = residuals.get("auto")
    if rows is None or not rows.shape[0]:
        rows = residuals.get("refit")
    if rows is None or rows.shape[0] < MIN_BLOCKS:
        return None
    length = int(np.clip(rows.shape[0] // TARGET_BLOCKS, 1, rows.shape[1]))
    yd, dd = block_sums(*changes(closes, rows), length)
    measured = dd > 0
    if int(measured.sum()) < MIN_BLOCKS:
        return None
    beta, variance, df = cr2_variance(yd[measured], dd[measured])
    if df < MIN_DF:
        return None
    se = np.sqrt(max(variance, 0.0))
    t = beta / se if se > 0 else (np.inf if beta > 0 else 0.0)
    c = critical_t(df)
    weight = min(beta, 1.0) * (1.0 - (c / t) ** 2) if t > c else 0.0
    return Shrinkage(float(weight), beta, float(t), int(measured.sum()), length, df)


def shrunk_residuals(closes: np.ndarray, residuals: Mapping[str, np.ndarray], weight: float) -> dict[str, np.ndarray]:
    """The residuals of the gated forecasts from the same origins: ``y - w d = (1 - w) y + w r`` (no new forecast)."""
    out = {}
    for source, rows in residuals.items():
        y, _ = changes(closes, rows)
        out[source] = (1.0 - weight) * y + weight * rows if rows.shape[0] else np.array(rows)
    return out


def shrink_forecasts(last: np.ndarray, predicted: np.ndarray, weight: float) -> np.ndarray:
    """``last * (predicted / last) ** weight`` for ``[..., N]`` last prices and ``[..., N, steps]`` forecasts.

    A weight of 1 returns ``predicted`` unchanged (the same array values, bit for bit).
    """
    if weight == 1.0:
        return predicted
    last = np.asarray(last, np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        return last * np.exp(weight * np.log(predicted / last))


def shrunk_band(band: bands.Band | None, closes: np.ndarray) -> tuple[bands.Band, Shrinkage | None]:
    """``(band, shrinkage)`` of ``shrink="auto"`` after a fit: ``fit_weight`` from the band's residuals, and the band rebuilt on the shrunk forecasts' residuals.

    ``(band, None)`` leaves the model as it is: too few residuals, or a quantile band, which
    reads its bounds from the heads, not from residuals around the point forecast.

    Args:
        band: the fitted band (its residuals measure the unshrunk model).
        closes: ``[time]`` the fitted closes.
    """
    assert band is not None, "fitted models have a band"
    if isinstance(band, bands.QuantileBand):
        return band, None
    found = fit_weight(closes, band.residuals)
    if found is None:
        return band, None
    return type(band)(shrunk_residuals(closes, band.residuals, found.weight), band.volatility), found


def last_closes(price_windows: Any, columns: int) -> np.ndarray:
    """``[N]`` the last close of each window: ``[N, time]`` (``[N, time, columns]``, the close first) or a list of windows."""
    if isinstance(price_windows, list):
        last = np.array([np.asarray(w)[-1] for w in price_windows], np.float64)
    else:
        last = np.asarray(price_windows, np.float64)[:, -1]
    return last if columns == 1 else last[:, 0]


def shrink_windows(price_windows: Any, columns: int, predicted: np.ndarray, weight: float) -> np.ndarray:
    """``shrink_forecasts`` of forecasts ``[..., N, steps]`` from ``N`` windows of ``columns`` columns, toward each window's last close."""
    if weight == 1.0:
        return predicted
    return shrink_forecasts(last_closes(price_windows, columns), predicted, weight)
