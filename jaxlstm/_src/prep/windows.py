"""Sliding windows over a series, built by index arithmetic (no Python loop)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlstm._src import validation


def sliding_windows(series: jax.Array, window: int) -> tuple[jax.Array, jax.Array]:
    """Every window of ``window`` consecutive steps and the step that follows it.

    Args:
        series: ``[time]`` or ``[time, features]``.
        window: window length (>= 1, < time).

    Returns:
        ``(xs, ys)``: xs ``[time - window, window, features]``, ys ``[time - window, features]``
        (a 1-D series gets ``features = 1``), with ``ys[k] = series[k + window]``.
    """
    window = validation.check_positive_int("window", window)
    series = jnp.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"series must be [time] or [time, features], got shape {series.shape}")
    if series.ndim == 1:
        series = series[:, None]
    count = series.shape[0] - window
    if count < 1:
        raise ValueError(
            f"series must be longer than window={window} to give at least one window and target, "
            f"got {series.shape[0]} steps"
        )
    idx = jnp.arange(count)[:, None] + jnp.arange(window)[None, :]
    return series[idx], series[window:]
