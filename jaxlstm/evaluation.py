"""Honest forecast evaluation: walk-forward backtests, calibrated bands, synthetic series.

``backtest`` refits every model at every origin on the past only and scores its forecasts
and bands against what followed (MAE, RMSE, MAPE, sMAPE, MASE, directional accuracy, band
coverage and width, overall and per horizon step), always next to the naive forecast.
Any ``jaxlstm.Forecaster`` subclass can be backtested; ``make_forecasters`` turns model
names into factories. The generators (``random_walk``, ``seasonal``, ``trending``,
``mean_reverting``) make seeded series with known structure and a known best forecast
(``SyntheticSeries.oracle``).
"""

from jaxlstm._src.evaluation.backtest import MODEL_NAMES, backtest, make_forecasters
from jaxlstm._src.evaluation.results import METRICS, REFERENCE, BacktestResult, ModelResult
from jaxlstm._src.evaluation.synthetic import SyntheticSeries, mean_reverting, random_walk, seasonal, trending
from jaxlstm._src.forecasters.intervals import BANDS, conformal_offsets, log_ratio_residuals, volatility_offsets

__all__ = [
    "BANDS",
    "METRICS",
    "MODEL_NAMES",
    "REFERENCE",
    "BacktestResult",
    "ModelResult",
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
]
