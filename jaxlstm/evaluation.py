"""Honest forecast evaluation: walk-forward backtests, calibrated intervals, synthetic series.

``backtest`` refits every model at every origin on the past only and scores its
forecasts and intervals against what followed (MAE, RMSE, MAPE, sMAPE, MASE, directional
accuracy, interval coverage and width, overall and per horizon step), always next to
the naive forecast. ``make_forecasters`` turns model names into factories for it and
``with_intervals`` sets a factory's interval method and calibration. ``NaiveBlend``,
``DriftGate``, ``LSTMEnsemble`` and ``DirectLSTMForecaster`` are experimental wrappers
and models compared by ``benchmarks/accuracy.py``. The generators (``random_walk``,
``seasonal``, ``trending``, ``mean_reverting``) make seeded series with known structure
and a known best forecast (``SyntheticSeries.oracle``).
"""

from jaxlstm._src.evaluation.backtest import (
    METRICS,
    MODEL_NAMES,
    BacktestResult,
    DirectLSTMForecaster,
    DriftGate,
    LSTMEnsemble,
    ModelResult,
    NaiveBlend,
    backtest,
    make_forecasters,
    with_intervals,
)
from jaxlstm._src.evaluation.synthetic import SyntheticSeries, mean_reverting, random_walk, seasonal, trending
from jaxlstm._src.forecasters.intervals import (
    INTERVAL_METHODS,
    conformal_offsets,
    log_ratio_residuals,
    volatility_offsets,
)

__all__ = [
    "INTERVAL_METHODS",
    "METRICS",
    "MODEL_NAMES",
    "BacktestResult",
    "DirectLSTMForecaster",
    "DriftGate",
    "LSTMEnsemble",
    "ModelResult",
    "NaiveBlend",
    "SyntheticSeries",
    "backtest",
    "conformal_offsets",
    "log_ratio_residuals",
    "make_forecasters",
    "mean_reverting",
    "random_walk",
    "seasonal",
    "trending",
    "volatility_offsets",
    "with_intervals",
]
