"""Honest forecast evaluation: walk-forward backtests, calibrated bands, synthetic series.

``backtest`` refits every model at every origin on the past only and scores its forecasts
and bands against what followed (MAE, RMSE, MAPE, sMAPE, MASE, directional accuracy, band
coverage and width, overall and per horizon step), always next to the naive forecast.
Any ``jaxlstm.Forecaster`` subclass can be backtested; ``make_forecasters`` turns model
names into factories. The result (``BacktestResult``, one ``ModelResult`` per model) holds
every metric per model and per horizon step, and a table. The generators (``random_walk``, ``seasonal``, ``trending``,
``mean_reverting``) make seeded series with known structure and a known best forecast
(``SyntheticSeries.oracle``).
"""

from jaxlstm._src.evaluation.backtest import backtest, make_forecasters
from jaxlstm._src.evaluation.results import BacktestResult, ModelResult
from jaxlstm._src.evaluation.synthetic import SyntheticSeries, mean_reverting, random_walk, seasonal, trending

__all__ = [
    "BacktestResult",
    "ModelResult",
    "SyntheticSeries",
    "backtest",
    "make_forecasters",
    "mean_reverting",
    "random_walk",
    "seasonal",
    "trending",
]
