"""The quantile heads of ``band="quantile"``: what the network emits, reading it, conformalising it, its band.

A model with ``band="quantile"`` (which needs ``direct_steps=H``) trains ``1 + Q`` rows of
``H`` outputs: the point forecast, then one row per quantile of ``bands.quantile_pairs``
(the lower and upper quantile of each level of ``bands.QUANTILE_LEVELS``), with the pinball
loss (``training.QuantileLoss``). ``fit`` widens the heads by margins calibrated on the
held-back tail (``calibrated``, conformalised quantile regression: ``bands.cqr_margins``);
a forecast then reads the band at those levels from the heads (``band_offsets``) and
leaves every other level to the adaptive conformal band.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxlstm._src import training
from jaxlstm._src.forecasters import bands, intervals, population
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.io.series import close_of
from jaxlstm._src.prep import inputs as inputs_lib
from jaxlstm._src.prep import windows


def quantiles(band: str) -> tuple[float, ...]:
    """The quantiles of the heads ``band`` trains (``bands.quantile_pairs`` for ``"quantile"``), else none."""
    return bands.quantile_pairs() if band == "quantile" else ()


def loss(band: str) -> training.QuantileLoss | None:
    """The training loss of a model with ``band``: the pinball loss of its heads, None (the trainer's default) without."""
    found = quantiles(band)
    return training.QuantileLoss(found) if found else None


def check_head(band: str, direct_steps: int | None) -> None:
    """Refuses ``band="quantile"`` without a direct head (``ValueError``)."""
    if band == "quantile" and direct_steps is None:
        raise ValueError(
            "band='quantile' needs direct_steps=H: its quantile heads emit the H steps' lower and upper "
            "quantiles at once, which a recursive forecast cannot feed back; got direct_steps=None"
        )


@functools.lru_cache(maxsize=32)
def _compiled(network: Any, inputs: inputs_lib.ModelInputs, rows: int) -> Any:
    """Compiled ``(params [K, ...], state, windows [N, ...]) -> [K, N, rows, H]`` decoded point and quantile rows."""

    def one(params: Any, state: Any, window: jax.Array) -> jax.Array:
        y = network.apply(params, inputs.encode(state, window)).reshape((rows, -1))
        return jax.vmap(lambda row: inputs.decode(state, window, row))(y)

    return jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, None, 0)), in_axes=(0, None, None)))


def head_rows(
    network: Any,
    inputs: inputs_lib.ModelInputs,
    state: Any,
    params: Any,
    members: int,
    combine: str,
    price_windows: np.ndarray,
) -> np.ndarray:
    """``[N, 1 + Q, H]`` point and quantile-head price forecasts of ``[N, window_length(, columns)]`` windows.

    Args:
        network, inputs, state: the model's network config, inputs and device state
            (``ModelInputs.device_state``).
        params: the fitted params (a leading ``[members]`` axis when ``members > 1``).
        members, combine: how many members, and how their price forecasts combine.
        price_windows: the windows.
    """
    run = _compiled(network, inputs, 1 + len(bands.quantile_pairs()))
    stacked = params if members > 1 else jax.tree.map(lambda a: a[None], params)
    found = np.asarray(run(stacked, state, np.asarray(price_windows, np.float32)), np.float64)  # [K, N, 1+Q, H]
    return population.combined(found, combine)


def model_rows(model: Any, price_windows: np.ndarray) -> np.ndarray:
    """``head_rows`` of a fitted ``LSTMForecaster``: its network, inputs, fitted state, params and members."""
    assert model.encoding_state_ is not None and model.feature_state_ is not None, "fitted models have a state"
    state = model.model_inputs.device_state(model.encoding_state_, model.feature_state_)
    network, inputs = model.model_config, model.model_inputs
    return head_rows(network, inputs, state, model.params_, model.n_members, model.combine, price_windows)


def fitted_band(model: Any, series: np.ndarray) -> bands.Band | None:
    """A fitted model's band after ``fit``'s calibration: with quantile heads, ``calibrated`` on the tail of ``series``."""
    if not quantiles(model.band) or model.params_ is None:
        return model.band_
    steps, holdout = model.direct_steps or 1, model.holdout_size() or 0
    return calibrated(model.band_, series, holdout, model.window_length, steps, lambda w: model_rows(model, w))


def margins(band: Any) -> Mapping[float, float]:
    """The heads' calibrated ``{level: log margin}`` of a fitted band (none but a ``QuantileBand``'s)."""
    return band.margins if isinstance(band, bands.QuantileBand) else {}


def calibrated(
    band: bands.Band | None,
    series: np.ndarray,
    holdout: int,
    length: int,
    steps: int,
    read: Callable[[np.ndarray], np.ndarray],
) -> bands.QuantileBand:
    """``band`` with the heads' margins conformalised on the held-back tail of the fitted ``series`` (``bands.cqr_margins``).

    The tail's targets trained no params (early stopping chose the epoch on them, as the
    ``"auto"`` calibration source does); without a tail no level has a margin and the band
    is the adaptive one.

    Args:
        band: the fitted band (a ``QuantileBand``).
        series: ``[time(, columns)]`` the fitted series.
        holdout: its trailing prices the params did not see.
        length: prices per window; steps: the heads' ``H``.
        read: ``[N, length(, columns)]`` windows -> ``[N, 1 + Q, H]`` head rows (``head_rows``).
    """
    assert isinstance(band, bands.QuantileBand), "band='quantile' fits a QuantileBand"
    n = series.shape[0]
    origins = np.arange(max(length, n - holdout), n)
    if origins.size == 0:
        return band
    heads = read(windows.windows_before(series, origins, length))[:, 1:]
    closes = close_of(series)
    index = origins[:, None] + np.arange(steps)[None, :]
    actual = np.where(index < n, closes[np.minimum(index, n - 1)], np.nan)
    return band.with_margins(bands.cqr_margins(heads, actual))


def offsets(rows: np.ndarray, band: Any) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """``{level: (lower [H], upper [H])}`` log offsets of one window's ``[1 + Q, H]`` head rows, widened by the band's margins."""
    return bands.nested_offsets(rows[0], rows[1:], margins=margins(band))


def band_offsets(
    band: Any,
    direct_steps: int | None,
    steps: int,
    confidence: float,
    read: Callable[[], Mapping[float, tuple[np.ndarray, np.ndarray]]],
) -> bands.Offsets | None:
    """The heads' band of a forecast of ``steps`` at ``confidence``, or None where they have none (the adaptive band's turn).

    The heads have a band at a level of ``bands.QUANTILE_LEVELS`` with a finite margin, for
    at most the ``direct_steps`` they emit. ``read()`` gives the offsets of the window the
    forecast continues (``offsets``), read only when they are used.
    """
    level = round(float(confidence) * 100, 9)
    if not np.isfinite(margins(band).get(level, np.nan)) or steps > (direct_steps or 0):
        return None
    lower, upper = read()[level]
    return lower[:steps], upper[:steps], intervals.QUANTILE_HEADS


def model_band_offsets(model: Any, steps: int, confidence: float = 0.95) -> bands.Offsets:
    """``Forecaster.band_offsets``; with ``band="quantile"`` at a level of ``bands.QUANTILE_LEVELS``, the quantile heads'.

    The heads forecast the quantiles of the window ``forecast`` continues, so this band
    belongs to the forecasts of ``forecast`` (and ``forecast_from`` around them); at other
    levels it is the adaptive conformal band (``band_offsets``).
    """
    heads = band_offsets(model.band_, model.direct_steps, steps, confidence, model.quantile_offsets)
    return heads or Forecaster.band_offsets(model, steps, confidence)
