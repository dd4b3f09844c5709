"""The only windowing, splitting and padding code: sliding windows by index arithmetic.

Every caller (the wrapper's fit, its calibration, many-symbol training, backtests,
ensembles) cuts windows, splits them in time and pads ragged sets with these functions;
row counts that depend on the data are padded to shape buckets (``bucket_size``,
``bucketed_split``) so that a new series length reuses a compiled program.
They accept numpy or JAX arrays and return the same kind (numpy stays on the host, in
its own precision; JAX arrays stay traceable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation


def _xp(a: Any) -> Any:
    return jnp if isinstance(a, jax.Array) else np


def sliding_windows(series: Any, window: int, *, horizon: int | None = None) -> tuple[Any, Any]:
    """Every window of ``window`` consecutive steps and what follows it.

    Args:
        series: ``[time]`` or ``[time, features]``, numpy or JAX.
        window: window length (>= 1).
        horizon: None for the next step only; an int ``H >= 1`` for the next ``H`` steps.

    Returns:
        ``(xs, ys)``. A 1-D series gets ``features = 1``. With ``horizon=None``: xs
        ``[time - window, window, features]`` and ys ``[time - window, features]`` with
        ``ys[k] = series[k + window]``. With ``horizon=H``: ``count = time - window - H + 1``
        windows and ys ``[count, H, features]`` with ``ys[k, j] = series[k + window + j]``.
    """
    window = validation.check_positive_int("window", window)
    steps = 1 if horizon is None else validation.check_positive_int("horizon", horizon)
    xp = _xp(series)
    series = xp.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"series must be [time] or [time, features], got shape {series.shape}")
    if series.ndim == 1:
        series = series[:, None]
    count = series.shape[0] - window - steps + 1
    if count < 1:
        raise ValueError(
            f"series must have at least window + horizon = {window + steps} steps to give one window and "
            f"its target, got {series.shape[0]}"
        )
    starts = xp.arange(count)[:, None]
    xs = series[starts + xp.arange(window)[None, :]]
    if horizon is None:
        return xs, series[window : window + count]
    return xs, series[starts + window + xp.arange(steps)[None, :]]


def windows_before(series: Any, ends: Any, window: int) -> Any:
    """The ``window`` values before each end index: ``out[i] = series[ends[i] - window : ends[i]]``.

    Args:
        series: ``[time, ...]``, numpy or JAX.
        ends: ``[k]`` integers in ``[window, time]``.
        window: window length (>= 1).

    Returns:
        ``[k, window, ...]``.
    """
    window = validation.check_positive_int("window", window)
    xp = _xp(series)
    ends = np.asarray(ends) if xp is np else jnp.asarray(ends)
    if ends.ndim != 1:
        raise ValueError(f"ends must be 1-D, got shape {ends.shape}")
    if xp is np and ends.size and (ends.min() < window or ends.max() > series.shape[0]):
        raise ValueError(f"ends must lie in [window, len(series)] = [{window}, {series.shape[0]}], got {ends}")
    return series[ends[:, None] - window + xp.arange(window)[None, :]]


def chronological_split(count: int, validation_fraction: float, *, gap: int = 0) -> tuple[int, int]:
    """How many of ``count`` time-ordered windows train and how many (the last) validate.

    ``n_val = floor(count * validation_fraction)``; the ``gap`` windows just before the
    validation part are dropped from training (a direct multi-step target of a training
    window must not reach into the validation prices). Validation is skipped (``n_val =
    0``) when it would leave it or the training part empty.

    Args:
        count: number of windows (>= 1).
        validation_fraction: share held back, in [0, 1).
        gap: windows dropped between the parts (>= 0).

    Returns:
        ``(n_train, n_val)``; the training windows are ``[0, n_train)``, the validation
        windows ``[count - n_val, count)``.
    """
    count = validation.check_positive_int("count", count)
    validation_fraction = validation.check_fraction("validation_fraction", validation_fraction, low_open=False)
    gap = validation.check_positive_int("gap", gap, minimum=0)
    n_val = int(count * validation_fraction)
    n_train = count - n_val - (gap if n_val else 0)
    if n_val < 1 or n_train < 1:
        return count, 0
    return n_train, n_val


#: The smallest bucket of rows that are only encoded or forecast (not trained on): padding
#: a few held-back windows to 64 costs next to nothing and spares a compile per small count.
MIN_FORECAST_BUCKET = 64


def bucket_size(count: int, minimum: int = 1) -> int:
    """The shape bucket of ``count`` rows: the next power of two, at least ``minimum`` (0 stays 0).

    Data-dependent row counts (windows of a series, held-back windows, forecast windows)
    are padded up to their bucket, so that series of many lengths share a few compiled
    programs: counts from 100 to 1,000 fall into four buckets.
    """
    count = validation.check_positive_int("count", count, minimum=0)
    minimum = validation.check_positive_int("minimum", minimum)
    return 0 if count == 0 else max(minimum, 1 << (count - 1).bit_length())


def bucketed_split(count: int, validation_fraction: float, *, gap: int = 0) -> tuple[int, int]:
    """Padded sizes of the two parts of ``chronological_split(count, ...)``, both tied to one bucket.

    The split of ``bucket_size(count)`` windows: every count of the same bucket gives at most
    that many training and validation windows, so the pair of sizes (the shape of a
    training run) changes only when the bucket does. Counts too small to split give
    ``(bucket_size(count), 0)`` unless the split of their bucket holds them.

    Returns:
        ``(n_train_padded, n_val_padded)``, each >= the corresponding part of the split of ``count``.
    """
    n_train, n_val = chronological_split(count, validation_fraction, gap=gap)
    size = bucket_size(count)
    if validation_fraction == 0:
        return size, 0
    top_train, top_val = chronological_split(size, validation_fraction, gap=gap)
    return max(n_train, top_train), max(n_val, top_val)


def pad_rows(tree: Any, size: int, *, fill: str = "zeros") -> Any:
    """Pads every leaf's leading axis up to ``size`` rows: the one padding of the library.

    Args:
        tree: a pytree of numpy or JAX arrays sharing a leading axis ``[n, ...]``.
        size: rows wanted, >= ``n``.
        fill: ``"zeros"`` (padding rows of data, whose zero weights mask them) or
            ``"first"`` (copies of row 0: a valid model or input whose results are dropped).

    Returns:
        The tree with leaves ``[size, ...]``, each of its own kind (numpy stays numpy) and dtype.
    """
    if fill not in ("zeros", "first"):
        raise ValueError(f"fill must be 'zeros' or 'first', got {fill!r}")
    leaves = jax.tree.leaves(tree)
    n = int(np.shape(leaves[0])[0]) if leaves else 0
    size = validation.check_positive_int("size", size, minimum=n)
    if size == n:
        return tree

    def grow(a: Any) -> Any:
        xp = _xp(a)
        first = fill == "first"
        extra = xp.repeat(a[:1], size - n, axis=0) if first else xp.zeros((size - n, *a.shape[1:]), a.dtype)
        return xp.concatenate([a, extra], axis=0)

    return jax.tree.map(grow, tree)


def pad_stack(arrays: Sequence[Any], length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stacks arrays of different lengths along a new leading axis, padding with zero rows.

    Args:
        arrays: ``S`` arrays ``[n_s, ...]`` with equal trailing shapes.
        length: padded length (default: the longest ``n_s``).

    Returns:
        ``(stacked [S, length, ...], weights [S, length])`` with weight 1 on real rows and 0
        on padding, both in the arrays' dtype (float32 for non-float input).
    """
    if not arrays:
        raise ValueError("arrays must hold at least one array, got none")
    arrays = [np.asarray(a) for a in arrays]
    tail = arrays[0].shape[1:]
    for i, a in enumerate(arrays):
        if a.ndim < 1 or a.shape[1:] != tail:
            raise ValueError(f"arrays[{i}] must be [n, {', '.join(map(str, tail))}], got shape {a.shape}")
    longest = max(a.shape[0] for a in arrays)
    length = longest if length is None else validation.check_positive_int("length", length, minimum=longest)
    dtype = arrays[0].dtype if arrays[0].dtype.kind == "f" else np.dtype(np.float32)
    stacked = np.stack([pad_rows(a.astype(dtype, copy=False), length) for a in arrays])
    weights = np.stack([pad_rows(np.ones(a.shape[0], dtype), length) for a in arrays])
    return stacked, weights
