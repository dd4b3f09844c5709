"""Experimental forecasters compared by ``benchmarks/accuracy.py`` (not part of the library).

Each is a ``jaxlstm.Forecaster`` subclass built from public pieces only, which is also how a
user would backtest a design of their own:

* ``NaiveBlend``: any model shrunk towards the naive forecast by a weight fitted out of
  sample, optionally only when its gain is significant.
* ``DriftGate``: a model fitted on detrended prices, the trend kept only when significant.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import jaxlstm as jl

Factory = Callable[[], jl.Forecaster]


class DriftGate(jl.Forecaster):
    """A scale-free model fitted on detrended prices, the trend added back only when significant.

    The model is fitted on ``prices * exp(-mu * t)``, with ``mu`` the mean one-step log
    return; its forecasts get ``exp(drift * k)`` back, where ``drift`` is ``mu`` when its
    t-statistic reaches ``min_t`` and 0 otherwise. Only for models whose forecasts depend on
    price ratios within the window (``LSTMForecaster(encoding="relative")``).
    """

    name = "drift_gate"

    def __init__(self, factory: Factory, min_t: float = 3.0, *, band: str = "conformal", calibration: str = "auto"):
        super().__init__(band=band, calibration=calibration)
        self.factory = factory
        self.min_t = min_t
        self.model = factory()
        self.mean_return_: float | None = None
        self.drift_: float | None = None

    @property
    def min_fit_length(self) -> int:
        return max(3, self.model.min_fit_length)

    @property
    def window_length(self) -> int | None:
        return self.model.window_length

    def _fit(self, prices: np.ndarray) -> None:
        returns = np.diff(np.log(prices))
        mu = float(np.mean(returns))
        sd = float(np.std(returns, ddof=1))
        t_stat = mu / (sd / np.sqrt(returns.shape[0])) if sd > 0 else 0.0
        self.mean_return_ = mu
        self.drift_ = mu if abs(t_stat) >= self.min_t else 0.0
        detrended = prices * np.exp(-mu * np.arange(prices.shape[0]))
        type(self.model).fit_rows([self.model], [detrended])

    def holdout_size(self) -> int | None:
        return self.model.holdout_size()

    def planned_holdout(self, n: int) -> int | None:
        return self.model.planned_holdout(n)

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        k = np.arange(window.shape[-1]) - (window.shape[-1] - 1)
        flat = self.model.predict_windows((window * np.exp(-self.mean_return_ * k))[None], steps)[0]
        # The model forecasts the detrended path from the last price; the kept drift is added back.
        return flat * np.exp(self.drift_ * np.arange(1, steps + 1))


class NaiveBlend(jl.Forecaster):
    """A model's forecast shrunk towards the naive one by a weight fitted out of sample.

    The forecast is ``last * (model / last) ** w``. ``w`` in [0, 1] minimises the squared log
    error of that blend over the model's own out-of-sample multi-step forecasts for ``steps``
    steps (those of its calibration: the head refit when its ``calibration`` is ``"refit"`` or
    ``"both"``, else its held-back tail). With ``min_t`` the blend must also beat naive on
    origins ``steps`` apart with a t-statistic of at least ``min_t``; otherwise ``w = 0``.
    The blend's own band is scored on the same sources, blended with the same weight.
    """

    name = "naive_blend"

    def __init__(self, factory: Factory, steps: int = 24, min_t: float | None = None, *, band: str = "conformal"):
        self.factory = factory
        self.model = factory()
        super().__init__(band=band, calibration=self.model.calibration)
        self.steps = steps
        self.min_t = min_t
        self.weight_: float | None = None
        self.t_stat_: float | None = None
        self._blend_sources: dict[str, Any] = {}

    def get_params(self) -> dict[str, Any]:
        return {"factory": self.factory, "steps": self.steps, "min_t": self.min_t, "band": self.band}

    @property
    def min_fit_length(self) -> int:
        return self.model.min_fit_length

    @property
    def window_length(self) -> int | None:
        return self.model.window_length

    def _fit(self, prices: np.ndarray) -> None:
        model = self.model
        # The model, then its calibration copies (its calibration_models_): one fit_rows.
        type(model).fit_rows([model], [prices], interval=np.timedelta64(1, "h"))
        fit_source = "refit" if model.calibration in ("refit", "both") else "auto"
        sources = model.calibration_models_
        self.weight_, self.t_stat_ = 1.0, None
        if fit_source in sources:
            self._fit_weight(prices, *sources[fit_source])
        self._blend_sources = {}
        for name, found in sources.items():
            # The same scorer, blended with the same weight, gives the blend's calibration residuals.
            shell = copy.copy(self)
            shell.model = found.model
            self._blend_sources[name] = found._replace(model=shell)

    def _fit_weight(self, prices: np.ndarray, scorer: jl.Forecaster, start: int) -> None:
        n = prices.shape[0]
        origins = np.arange(max(int(start), self.model.min_window()), n)
        if origins.size == 0:
            return
        length = self.model.window_length or n
        predicted = scorer.predict_windows([prices[max(0, s - length) : s] for s in origins], self.steps)
        last = np.broadcast_to(prices[origins - 1][:, None], predicted.shape)
        index = origins[:, None] + np.arange(self.steps)[None, :]
        actual = np.where(index < n, prices[np.minimum(index, n - 1)], np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN where a price is missing
            d = np.log(predicted / last)
            y = np.log(actual / last)
        ok = np.isfinite(d) & np.isfinite(y)
        denominator = float(np.sum(d[ok] ** 2))
        if denominator > 0:
            self.weight_ = float(np.clip(np.sum(y[ok] * d[ok]) / denominator, 0.0, 1.0))
        if self.min_t is None:
            return
        # Every steps-th origin counted back from the last full one: nearly independent errors.
        rows = np.arange(origins.size - self.steps, -1, -self.steps)
        rows = rows[ok[rows].all(axis=1)] if rows.size else rows
        gain = np.mean(np.abs(y[rows] - self.weight_ * d[rows]), axis=1) - np.mean(np.abs(y[rows]), axis=1)
        spread = float(np.std(gain, ddof=1)) if rows.size > 2 else 0.0
        self.t_stat_ = float(np.mean(gain) / (spread / np.sqrt(rows.size))) if spread > 0 else 0.0
        if not self.t_stat_ <= -self.min_t:
            self.weight_ = 0.0

    def planned_holdout(self, n: int) -> int | None:
        return self.model.planned_holdout(n)

    def _refit_sources(self, n: int) -> tuple[str, ...]:
        # The model's own fit trains its calibration copies; the blend reuses them.
        return ()

    def _calibration_scorers(self, prices: np.ndarray, heads: Mapping[str, Any]) -> dict[str, Any]:
        return {s: self._blend_sources[s] for s in self.calibration_sources() if s in self._blend_sources}

    def holdout_size(self) -> int | None:
        return self.model.holdout_size()

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        predicted = self.model.predict_windows(window[None], steps)[0]
        return window[-1] * (predicted / window[-1]) ** self.weight_
