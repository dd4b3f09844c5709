"""Forecast accuracy metrics: pure, jit-able ``jax.numpy`` functions on ``[..., horizon]`` arrays."""

from jaxlstm._src.evaluation.metrics import (
    directional_accuracy,
    interval_coverage,
    mae,
    mape,
    mase,
    mean_interval_width,
    pinball_loss,
    rmse,
    smape,
    winkler_score,
)

__all__ = [
    "directional_accuracy",
    "interval_coverage",
    "mae",
    "mape",
    "mase",
    "mean_interval_width",
    "pinball_loss",
    "rmse",
    "smape",
    "winkler_score",
]
