"""Forecast accuracy metrics on ``[..., horizon]`` arrays: jit-able, differentiable ``jax.numpy`` on JAX inputs, numpy (nothing compiled) on numpy inputs."""

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
