"""Min-max scaling (the seed's normalisation) with an exact inverse.

The scaler is a pytree of two arrays, fitted once on training data and then reused
unchanged for validation, prediction and saving: prediction never re-fits it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation


class MinMaxScaler(NamedTuple):
    """Maps ``x`` to ``(x - data_min) / data_range``; ``data_range`` is never 0.

    Attributes:
        data_min: ``[features]`` (or scalar) minimum of the fitted data.
        data_range: ``[features]`` max - min, replaced by 1 where the data was constant so
            a flat series scales to zeros instead of dividing by zero.
    """

    data_min: jax.Array
    data_range: jax.Array


def fit_scaler(data: jax.Array, axis: int | tuple[int, ...] = 0) -> MinMaxScaler:
    """Fits min-max scaling on training data.

    Args:
        data: ``[time]`` or ``[time, features]`` finite values (training part only).
        axis: axes reduced over (default: time).

    Returns:
        A ``MinMaxScaler`` whose arrays have ``data``'s shape without ``axis`` (numpy
        float64 for host data, JAX arrays for JAX input).
    """
    # numpy in, numpy (float64) out: the scaler of host data keeps every digit even
    # when JAX runs in float32; traced or device arrays stay in JAX.
    xp = jnp if isinstance(data, jax.Array) else np
    if xp is np:
        data = validation.as_float_array("data", data, ndim=(1, 2), dtype=np.float64)
    if data.shape[0] < 1:
        raise ValueError(f"data must have at least one value to fit a scaler, got shape {data.shape}")
    lo = xp.min(data, axis=axis)
    span = xp.max(data, axis=axis) - lo
    return MinMaxScaler(lo, xp.where(span > 0, span, xp.ones_like(span)))


def transform(scaler: MinMaxScaler, x: jax.Array) -> jax.Array:
    """Scales ``x`` (any shape broadcasting with the scaler) into the fitted [0, 1] range."""
    return (x - scaler.data_min) / scaler.data_range


def inverse_transform(scaler: MinMaxScaler, y: jax.Array) -> jax.Array:
    """Undoes ``transform``: ``y * data_range + data_min`` (exact up to one rounding)."""
    return y * scaler.data_range + scaler.data_min
