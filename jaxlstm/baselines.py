"""Training-free statistical forecasters sharing the LSTM wrapper's fit/predict/forecast interface."""

from jaxlstm._src.forecasters.baselines import (
    DriftForecaster,
    HybridForecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)
from jaxlstm._src.prep.horizons import HORIZON_HOURS, future_timestamps, horizon_to_steps

__all__ = [
    "HORIZON_HOURS",
    "DriftForecaster",
    "HybridForecaster",
    "NaiveForecaster",
    "SeasonalNaiveForecaster",
    "future_timestamps",
    "horizon_to_steps",
]
