"""One object per band method (``band=``), built by ``fit`` from the model's calibration residuals.

A fitted forecaster holds one ``Band`` (``Forecaster.band_``). It is made once, at fit
time, from everything the method needs: the out-of-sample log-ratio residuals of each
calibration source (``{"auto": [origins, steps], "refit": [...]}``, see
``Forecaster.calibration_residuals``) and the one-step log-return volatility of the fitted
prices. ``offsets(steps, confidence)`` turns that state into the band's log offsets;
``to_json`` / ``from_json`` carry it in a saved model's metadata (the ``"calibration"``
entry: residual rows with None for NaN, the format models have always been saved in).

* ``VolatilityBand`` (``"volatility"``): the seed's random-walk band; needs no residuals.
* ``ConformalBand`` (``"conformal"``): split-conformal quantiles per source
  (``intervals.conformal_band``), calibrated on the leading steps with enough residuals
  (``intervals.calibrated_steps``) and extended past them (``intervals.extend_offsets``);
  several sources give the wider of their bands (``intervals.envelope``). A band without
  enough residuals falls back to the volatility band, for every horizon.
* ``AdaptiveBand`` (``"adaptive"``): the conformal band with adaptive conformal inference
  (``intervals.ADAPTIVE_GAMMA``).
* ``QuantileBand`` (``"quantile"``): the network's own quantile heads (trained with the
  pinball loss) at ``QUANTILE_LEVELS``, the adaptive band at other levels.

Bands are immutable after construction; each memoises its offsets per confidence in a
cache of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import intervals

#: Residual sources a band may hold: the held-back tail of the model itself, and a copy
#: refitted on the head of the series (``Forecaster.calibration_sources``).
SOURCES: tuple[str, ...] = ("auto", "refit")

Offsets = tuple[np.ndarray, np.ndarray, str]


class Band:
    """A fitted band method: log offsets ``[lower, upper] = predicted * exp(offsets)`` per forecast step.

    Args:
        residuals: ``{source: [origins, steps]}`` out-of-sample log-ratio residuals (NaN
            where not observed), sources in the order they combine; may be empty.
        volatility: one-step log-return standard deviation of the fitted prices (>= 0).
    """

    #: The ``band=`` value this class implements.
    name: ClassVar[str] = ""
    #: Whether the band reads calibration residuals (``fit`` computes them only then).
    needs_residuals: ClassVar[bool] = True

    def __init__(self, residuals: Mapping[str, np.ndarray], volatility: float) -> None:
        checked: dict[str, np.ndarray] = {}
        for source, given in residuals.items():
            validation.check_choice("calibration source", source, SOURCES)
            rows = np.array(given, np.float64)
            if rows.ndim != 2:
                raise ValueError(f"residuals[{source!r}] must be [origins, steps], got shape {rows.shape}")
            rows.setflags(write=False)
            checked[source] = rows
        self.residuals: Mapping[str, np.ndarray] = checked
        self.volatility = validation.check_positive_float("volatility", volatility, allow_zero=True)
        self._memo: dict[float, list[Offsets]] = {}

    def offsets(self, steps: int, confidence: float = 0.95) -> Offsets:
        """``(lower [steps], upper [steps], method)`` log offsets, ``lower <= 0 <= upper``.

        The offsets of step ``k`` do not depend on ``steps``.
        """
        steps = validation.check_steps(steps)
        confidence = validation.check_fraction("confidence", confidence)
        calibrated = self._calibrated(confidence)
        if calibrated:
            return intervals.envelope([intervals.extend_offsets(b, steps) for b in calibrated])
        lower, upper = intervals.volatility_offsets(steps, self.volatility, confidence)
        return lower, upper, "volatility"

    def _calibrated(self, confidence: float) -> list[Offsets]:
        """The calibrated band of each source with enough residuals (none for the volatility band)."""
        return []

    def extended(self, new_rows: np.ndarray, sources: Sequence[str], keep: int) -> Band:
        """This band with ``[origins, steps]`` newer residual rows appended to each of ``sources`` (``update``).

        Each source keeps its most recent ``keep`` rows; one restored with fewer steps
        starts afresh. A band that reads no residuals is returned as it is.
        """
        if not self.needs_residuals:
            return self
        steps = new_rows.shape[1]
        merged = {}
        for source in sources:
            old = self.residuals.get(source)
            if old is None or old.shape[1] < steps:
                old = np.zeros((0, steps))
            merged[source] = np.concatenate([old[:, :steps], new_rows])[-keep:]
        return type(self)(merged, self.volatility)

    def to_json(self) -> dict[str, list[list[float | None]]]:
        """The residuals as JSON-ready rows (None for NaN): the ``"calibration"`` entry of a saved model."""
        return {
            source: [[float(x) if np.isfinite(x) else None for x in row] for row in rows]
            for source, rows in self.residuals.items()
        }

    @classmethod
    def from_json(cls, state: Any, volatility: float) -> Band:
        """Rebuilds a band of this class from ``to_json`` output (and the saved volatility)."""
        if not isinstance(state, Mapping):
            raise TypeError(f"calibration state must map sources to residual rows, got {type(state).__name__}")
        residuals = {}
        for source, rows in state.items():
            if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
                raise ValueError(f"calibration state[{source!r}] must be rows of numbers or None")
            try:
                values = np.array([[np.nan if x is None else x for x in row] for row in rows], np.float64)
            except (TypeError, ValueError) as err:
                raise ValueError(f"calibration state[{source!r}] must be rows of numbers or None, got {err}") from None
            if values.size and values.ndim != 2:
                raise ValueError(f"calibration state[{source!r}] must be [origins][steps] rows of one length")
            residuals[source] = values.reshape(len(rows), values.shape[1] if values.ndim == 2 else 0)
        return cls(residuals, volatility)

    def __repr__(self) -> str:
        shapes = {source: rows.shape for source, rows in self.residuals.items()}
        return f"{type(self).__name__}(residuals={shapes}, volatility={self.volatility:.3g})"


class VolatilityBand(Band):
    """``exp(-/+ z * sigma * sqrt(step))`` around the forecast (``intervals.volatility_offsets``)."""

    name = "volatility"
    needs_residuals = False


class ConformalBand(Band):
    """Split-conformal quantiles of the calibration residuals, the wider of the sources' bands."""

    name = "conformal"
    #: Step size of adaptive conformal inference (0: plain split conformal).
    gamma: ClassVar[float] = 0.0

    def _calibrated(self, confidence: float) -> list[Offsets]:
        if confidence not in self._memo:
            found = []
            for residuals in self.residuals.values():
                calibrated = intervals.calibrated_steps(residuals, confidence)
                band = (
                    intervals.conformal_band(residuals[:, :calibrated], confidence, adaptive=self.gamma)
                    if calibrated
                    else None
                )
                if band is not None:
                    found.append(band)
            self._memo[confidence] = found
        return self._memo[confidence]


class AdaptiveBand(ConformalBand):
    """The conformal band, its level moved by adaptive conformal inference over the calibration origins."""

    name = "adaptive"
    gamma = intervals.ADAPTIVE_GAMMA


class QuantileBand(AdaptiveBand):
    """``band="quantile"``: the band of a network's quantile heads, where the model has them.

    The heads' band depends on the window forecast, so the forecaster reads it from its
    network (``LSTMForecaster.band_offsets``) at the levels ``QUANTILE_LEVELS`` it trained
    heads for; this object is the adaptive conformal band it falls back on at any other
    level (and what a forecaster without quantile heads uses). Saved as the adaptive band is.
    """

    name = "quantile"


#: The levels (percent) whose lower and upper quantiles ``band="quantile"`` trains heads for:
#: M4's and statsforecast's usual pair.
QUANTILE_LEVELS: tuple[int, ...] = (80, 95)


def quantile_pairs(levels: Sequence[float] = QUANTILE_LEVELS) -> tuple[float, ...]:
    """The quantiles of the heads, ``(lower, upper)`` per level: ``(0.1, 0.9, 0.025, 0.975)`` for 80 and 95."""
    return tuple(q for level in levels for q in ((100 - level) / 200, (100 + level) / 200))


def nested_offsets(
    predicted: np.ndarray, quantiles: np.ndarray, levels: Sequence[float] = QUANTILE_LEVELS
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Log band offsets per level from price quantiles, ordered ``lower <= predicted <= upper`` and nested.

    Heads trained apart may cross one another or the point forecast; the band keeps each
    bound on its side of the forecast and every wider level at least as wide as a narrower one.

    Args:
        predicted: ``[H]`` the point forecast (positive prices).
        quantiles: ``[2 * len(levels), H]`` price quantiles in ``quantile_pairs(levels)`` order.
        levels: ascending levels in percent.

    Returns:
        ``{level: (lower [H] <= 0, upper [H] >= 0)}``.
    """
    logs = np.log(np.asarray(quantiles, np.float64) / np.asarray(predicted, np.float64)[None, :])
    out: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    lower = upper = np.zeros(logs.shape[1])
    for k, level in enumerate(levels):
        lower = np.minimum(lower, np.minimum(logs[2 * k], logs[2 * k + 1]))
        upper = np.maximum(upper, np.maximum(logs[2 * k], logs[2 * k + 1]))
        out[level] = (lower, upper)
    return out


def origin_residuals(closes: np.ndarray, origins: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``[N, steps]`` log-ratio residuals of forecasts from each origin, NaN where a step falls past ``closes``.

    Args:
        closes: ``[time]`` the prices forecast.
        origins: ``[N]`` index of the first price each forecast row predicts.
        predicted: ``[N, steps]`` the forecasts.
    """
    n = closes.shape[0]
    index = origins[:, None] + np.arange(predicted.shape[1])[None, :]
    actual = np.where(index < n, closes[np.minimum(index, n - 1)], np.nan)
    return intervals.log_ratio_residuals(actual, predicted)


#: ``band=`` value -> its class.
BAND_CLASSES: dict[str, type[Band]] = {
    cls.name: cls for cls in (ConformalBand, AdaptiveBand, VolatilityBand, QuantileBand)
}


def band_class(band: str) -> type[Band]:
    """The class of a ``band=`` value (checked with ``intervals.check_band``)."""
    return BAND_CLASSES[intervals.check_band(band)]
