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
Its standard error comes from blocks of consecutive origins (a block's errors overlap in
time, blocks hardly do; one lag of Newey-West for the neighbours that still share prices).
``w = min(beta, 1) * (1 - 1 / t^2)`` for ``t = beta / se > 1`` and 0 otherwise: the weight
capped at 1 (the model's change is never amplified) times ``1 - 1 / t^2``, the share of the
estimate's variance that is signal (the positive-part empirical-Bayes factor of a normal
prior centred on naive whose spread is estimated from the data). A model with no measured
edge (``t <= 1``) is naive; one with a clear edge keeps nearly all of it. The factor is
applied after the cap: a model that forecasts tiny changes has a large and noisy ``beta``
(22 with ``t = 1.05`` at one hourly BTC/USD origin), which shrunk first and capped after
would have kept the whole model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src.forecasters import bands

#: Values of ``shrink`` besides None (no shrinkage).
SHRINKS: tuple[str, ...] = ("auto",)
#: Blocks of origins the forecasts are split into (each block's length sets the steps scored).
TARGET_BLOCKS = 8
#: Fewest blocks with a measured forecast for a weight: fewer leave the model as it is.
MIN_BLOCKS = 4


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
        steps: forecast steps each origin was scored on.
    """

    weight: float
    coefficient: float
    t: float
    blocks: int
    steps: int

    def to_json(self) -> dict[str, Any]:
        """JSON-ready (``t`` of ``inf`` as None)."""
        return {
            "weight": float(self.weight),
            "coefficient": float(self.coefficient),
            "t": float(self.t) if np.isfinite(self.t) else None,
            "blocks": int(self.blocks),
            "steps": int(self.steps),
        }

    @classmethod
    def from_json(cls, state: Any) -> Shrinkage:
        """Rebuilds ``to_json`` output; anything odd is a ``ValueError`` or ``TypeError``."""
        if not isinstance(state, Mapping) or set(state) != {"weight", "coefficient", "t", "blocks", "steps"}:
            raise ValueError(f"shrink state must map weight, coefficient, t, blocks and steps, got {state!r:.200}")
        weight = float(state["weight"])
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"shrink weight must be in [0, 1], got {weight}")
        t = float("inf") if state["t"] is None else float(state["t"])
        return cls(weight, float(state["coefficient"]), t, int(state["blocks"]), int(state["steps"]))


def block_sums(y: np.ndarray, d: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of ``length`` consecutive origins (counted back from the last): ``sum(y d)`` and ``sum(d^2)`` over its first ``length`` steps."""
    y, d = y[:, :length], d[:, :length]
    ok = np.isfinite(y) & np.isfinite(d)
    yd = np.where(ok, y * np.where(ok, d, 0.0), 0.0).sum(axis=1)
    dd = np.where(ok, np.where(ok, d, 0.0) ** 2, 0.0).sum(axis=1)
    count = y.shape[0] // length
    start = y.shape[0] - count * length
    return (
        yd[start:].reshape(count, length).sum(axis=1),
        dd[start:].reshape(count, length).sum(axis=1),
    )


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
    beta = float(yd.sum() / dd.sum())
    # Newey-West with one lag over the blocks (neighbours share up to length - 1 prices).
    e = yd - beta * dd
    variance = float(np.sum(e**2) + np.sum(e[1:] * e[:-1]))
    se = np.sqrt(max(variance, 0.0)) / float(dd.sum())
    t = beta / se if se > 0 else (np.inf if beta > 0 else 0.0)
    weight = min(beta, 1.0) * (1.0 - 1.0 / t**2) if t > 1 else 0.0
    return Shrinkage(float(weight), beta, float(t), int(measured.sum()), length)


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
