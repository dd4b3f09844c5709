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

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import intervals

#: Residual sources a band may hold: the held-back tail of the model itself, and a copy
#: refitted on the head of the series (``Forecaster.calibration_sources``).
SOURCES: tuple[str, ...] = ("auto", "refit")
#: Forecast steps a band is calibrated on (``Forecaster.band_steps``): a week of hourly data.
BAND_STEPS = 168

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

    @classmethod
    def calibrate_many(cls, bands: Sequence[Band], confidence: float) -> None:
        """Calibrates many bands at ``confidence`` at once, so that their ``offsets`` there read what was computed.

        The same offsets as each band's own; a conformal band's adaptive walks are made
        together (``intervals.adaptive_confidences``), which is most of a band's cost:
        ``forecast_many`` of a thousand models calls this before it reads their bands.
        """
        confidence = validation.check_fraction("confidence", confidence)
        ConformalBand._calibrate_all([b for b in bands if isinstance(b, ConformalBand)], confidence)

    def with_residuals(self, residuals: Mapping[str, np.ndarray]) -> Band:
        """This band (its class, volatility and anything else it holds) reading ``residuals`` instead."""
        return type(self)(residuals, self.volatility)

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
        return self.with_residuals(merged)

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
            ConformalBand._calibrate_all([self], confidence)
        return self._memo[confidence]

    @staticmethod
    def _calibrate_all(bands: Sequence[ConformalBand], confidence: float) -> None:
        """Each band's offsets at ``confidence`` (every source with calibrated steps), the adaptive levels walked together."""
        todo = [b for b in bands if confidence not in b._memo]
        inputs = []
        for band in todo:
            for residuals in band.residuals.values():
                calibrated = intervals.calibrated_steps(residuals, confidence)
                if calibrated:
                    inputs.append((band, residuals[:, :calibrated]))
        levels: list[float | None] = [None] * len(inputs)
        for gamma in {band.gamma for band, _ in inputs if band.gamma}:
            chosen = [i for i, (band, _) in enumerate(inputs) if band.gamma == gamma]
            walked = intervals.adaptive_confidences([inputs[i][1] for i in chosen], confidence, gamma)
            for i, walk in zip(chosen, walked, strict=True):
                levels[i] = walk
        found: dict[int, list[Offsets]] = {id(band): [] for band in todo}
        for (band, residuals), known in zip(inputs, levels, strict=True):
            offsets = intervals.conformal_band(residuals, confidence, adaptive=band.gamma, level=known)
            if offsets is not None:
                found[id(band)].append(offsets)
        for band in todo:
            band._memo[confidence] = found[id(band)]


class AdaptiveBand(ConformalBand):
    """The conformal band, its level moved by adaptive conformal inference over the calibration origins."""

    name = "adaptive"
    gamma = intervals.ADAPTIVE_GAMMA


class QuantileBand(AdaptiveBand):
    """``band="quantile"``: the band of a network's quantile heads, where the model has them.

    The heads' band depends on the window forecast, so the forecaster reads it from its
    network (``LSTMForecaster.band_offsets``) at the levels ``QUANTILE_LEVELS`` it trained
    heads for, widened by ``margins`` (conformalised quantile regression, ``cqr_margins``:
    heads fitted by the pinball loss on the training windows cover less than nominal out of
    sample). This object holds those margins and is the adaptive conformal band the
    forecaster falls back on at any other level, or at a level without a margin (and what a
    forecaster without quantile heads uses). Saved as the adaptive band is, plus the margins.

    Args:
        residuals, volatility: as ``Band``.
        margins: ``{level: log margin}`` (NaN: too few calibration scores for that level).
    """

    name = "quantile"
    #: The key of the margins in ``to_json``'s calibration entry.
    MARGINS_KEY: ClassVar[str] = "quantile_margins"

    def __init__(
        self, residuals: Mapping[str, np.ndarray], volatility: float, margins: Mapping[float, float] | None = None
    ) -> None:
        super().__init__(residuals, volatility)
        self.margins: dict[float, float] = {float(k): float(v) for k, v in (margins or {}).items()}

    def with_margins(self, margins: Mapping[float, float]) -> QuantileBand:
        """This band with the heads' calibrated ``margins``."""
        return QuantileBand(self.residuals, self.volatility, margins)

    def with_residuals(self, residuals: Mapping[str, np.ndarray]) -> Band:
        return QuantileBand(residuals, self.volatility, self.margins)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().to_json())
        out[self.MARGINS_KEY] = {str(k): (v if np.isfinite(v) else None) for k, v in self.margins.items()}
        return out

    @classmethod
    def from_json(cls, state: Any, volatility: float) -> Band:
        if not isinstance(state, Mapping):
            raise TypeError(f"calibration state must map sources to residual rows, got {type(state).__name__}")
        rest = {k: v for k, v in state.items() if k != cls.MARGINS_KEY}
        margins = state.get(cls.MARGINS_KEY) or {}
        if not isinstance(margins, Mapping):
            raise ValueError(f"calibration state[{cls.MARGINS_KEY!r}] must map levels to margins")
        band = AdaptiveBand.from_json(rest, volatility)
        return cls(
            band.residuals, volatility, {float(k): np.nan if v is None else float(v) for k, v in margins.items()}
        )


#: The levels (percent) whose lower and upper quantiles ``band="quantile"`` trains heads for:
#: M4's and statsforecast's usual pair.
QUANTILE_LEVELS: tuple[int, ...] = (80, 95)


def quantile_pairs(levels: Sequence[float] = QUANTILE_LEVELS) -> tuple[float, ...]:
    """The quantiles of the heads, ``(lower, upper)`` per level: ``(0.1, 0.9, 0.025, 0.975)`` for 80 and 95."""
    return tuple(q for level in levels for q in ((100 - level) / 200, (100 + level) / 200))


def cqr_margins(
    quantiles: np.ndarray, actual: np.ndarray, levels: Sequence[float] = QUANTILE_LEVELS
) -> dict[float, float]:
    """Conformalised quantile regression (Romano, Patterson and Candes 2019) in log space: each level's margin.

    The score of an observed value is how far it falls outside its heads' interval,
    ``max(log(lo / y), log(y / hi))`` (negative inside); the margin is the
    ``ceil((n + 1) * level / 100)``-th smallest of the ``n`` scores pooled over origins and
    steps, so that ``[lo * exp(-margin), hi * exp(margin)]`` covers at the level on
    exchangeable data (a negative margin narrows heads that were too wide).

    Args:
        quantiles: ``[N, 2 * len(levels), H]`` price quantiles of held-back windows, in
            ``quantile_pairs(levels)`` order.
        actual: ``[N, H]`` the prices they forecast (NaN where not observed).
        levels: levels in percent.

    Returns:
        ``{level: margin}``, NaN where ``n`` is too small for the level's rank.
    """
    quantiles = np.asarray(quantiles, np.float64)
    actual = np.asarray(actual, np.float64)
    out: dict[float, float] = {}
    for k, level in enumerate(levels):
        pair = quantiles[:, 2 * k : 2 * k + 2]
        lo, hi = pair.min(axis=1), pair.max(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scores = np.maximum(np.log(lo / actual), np.log(actual / hi))
        scores = np.sort(scores[np.isfinite(scores)])
        rank = math.ceil((scores.size + 1) * level / 100 - 1e-9)
        out[float(level)] = float(scores[rank - 1]) if 1 <= rank <= scores.size else float("nan")
    return out


def nested_offsets(
    predicted: np.ndarray,
    quantiles: np.ndarray,
    levels: Sequence[float] = QUANTILE_LEVELS,
    margins: Mapping[float, float] | None = None,
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Log band offsets per level from price quantiles, ordered ``lower <= predicted <= upper`` and nested.

    Heads trained apart may cross one another or the point forecast; the band keeps each
    bound on its side of the forecast and every wider level at least as wide as a narrower one.

    Args:
        predicted: ``[H]`` the point forecast (positive prices).
        quantiles: ``[2 * len(levels), H]`` price quantiles in ``quantile_pairs(levels)`` order.
        levels: ascending levels in percent.
        margins: ``{level: m}`` log margins each pair is widened by (``cqr_margins``); none: 0.

    Returns:
        ``{level: (lower [H] <= 0, upper [H] >= 0)}``.
    """
    logs = np.log(np.asarray(quantiles, np.float64) / np.asarray(predicted, np.float64)[None, :])
    out: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    lower = upper = np.zeros(logs.shape[1])
    for k, level in enumerate(levels):
        margin = (margins or {}).get(float(level), 0.0)
        lower = np.minimum(lower, np.minimum(logs[2 * k], logs[2 * k + 1]) - margin)
        upper = np.maximum(upper, np.maximum(logs[2 * k], logs[2 * k + 1]) + margin)
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
