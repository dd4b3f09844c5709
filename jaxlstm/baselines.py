"""Training-free statistical forecasters sharing the LSTM wrapper's fit/predict/forecast interface."""

from jaxlstm._src.forecasters.baselines import (
    DriftForecaster,
    HybridForecaster,
    NaiveForecaster,
    SeasonalNaiveForecaster,
)

__all__ = [
    "DriftForecaster",
    "HybridForecaster",
    "NaiveForecaster",
    "SeasonalNaiveForecaster",
]
