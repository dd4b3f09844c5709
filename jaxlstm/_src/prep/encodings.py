"""How prices become model inputs and targets, and how predictions become prices again.

Two encodings, both fitted on training prices only and both with an exact inverse:

* ``"minmax"`` (the seed's): each price is min-max scaled with one scaler fitted on the
  training prices; the model predicts the next scaled price.
* ``"relative"``: each window is expressed as log prices relative to its own last
  price, divided by the training data's one-step log-return standard deviation; the
  model predicts the next log return in those units. Scale-free, so a model trained at
  one price level still works after the price has moved out of the training range.

An encoding's state is a dict of float arrays (a pytree), so it jits, saves as JSON
and never re-fits at prediction time.
"""

from __future__ import annotations

from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.prep import scaling

Encoding = Literal["minmax", "relative"]
ENCODINGS: tuple[str, ...] = ("minmax", "relative")
EncodingState = dict[str, jax.Array]


def check_encoding(target: str) -> str:
    """Returns ``target`` if it names an encoding, else raises ``ValueError``."""
    if target not in ENCODINGS:
        raise ValueError(f"target must be one of {ENCODINGS}, got {target!r}")
    return target


def fit_encoding(target: Encoding, train_prices: np.ndarray) -> dict[str, float]:
    """Fits the encoding's constants on training prices.

    Args:
        target: ``"minmax"`` or ``"relative"``.
        train_prices: ``[time]`` positive finite prices of the training part only.

    Returns:
        ``{"data_min", "data_range"}`` for minmax, ``{"log_return_std"}`` for relative, as
        Python floats (JSON-ready; a constant series gives range 1, constant returns std 1).
    """
    check_encoding(target)
    prices = np.asarray(train_prices, np.float64)
    if target == "minmax":
        scaler = scaling.fit_scaler(prices)
        return {"data_min": float(scaler.data_min), "data_range": float(scaler.data_range)}
    returns = np.diff(np.log(prices))
    std = float(np.std(returns)) if returns.size > 1 else 0.0
    # Below ~1e-9 the spread is rounding noise of a constant-growth or flat series; dividing
    # by it would blow the inputs up to 1e7 and more.
    return {"log_return_std": std if std > 1e-9 else 1.0}


def encode_windows(target: Encoding, state: EncodingState, windows: jax.Array) -> jax.Array:
    """Model inputs for price windows.

    Args:
        windows: ``[..., time]`` prices.

    Returns:
        ``[..., time, 1]`` encoded inputs.
    """
    if target == "minmax":
        z = scaling.transform(scaling.MinMaxScaler(state["data_min"], state["data_range"]), windows)
    else:
        z = jnp.log(windows / windows[..., -1:]) / state["log_return_std"]
    return z[..., None]


def encode_targets(target: Encoding, state: EncodingState, windows: jax.Array, next_prices: jax.Array) -> jax.Array:
    """Model targets for the price following each window: ``[..., time]``, ``[...]`` -> ``[..., 1]``."""
    if target == "minmax":
        z = scaling.transform(scaling.MinMaxScaler(state["data_min"], state["data_range"]), next_prices)
    else:
        z = jnp.log(next_prices / windows[..., -1]) / state["log_return_std"]
    return z[..., None]


def decode_next(target: Encoding, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
    """Inverse of ``encode_targets``: model outputs ``[..., 1]`` -> next prices ``[...]``."""
    y = y[..., 0]
    if target == "minmax":
        return scaling.inverse_transform(scaling.MinMaxScaler(state["data_min"], state["data_range"]), y)
    return windows[..., -1] * jnp.exp(y * state["log_return_std"])


def forecast_prices(
    params: model_lib.Params, target: Encoding, state: EncodingState, windows: jax.Array, steps: int
) -> jax.Array:
    """Recursive forecast in price space: encode, predict, decode, slide, as one ``lax.scan``.

    For ``"minmax"`` this is ``predict_multi_step`` on scaled inputs (its pipeline of
    overlapping windows) followed by the inverse scaling; for ``"relative"`` the window is
    re-encoded around its new last price at every step, so every input of the next window
    waits for the previous prediction and the windows run one after another.

    Args:
        params: model params with ``input_size == output_size == 1``.
        windows: ``[..., time]`` the most recent prices.
        steps: static number of steps.

    Returns:
        ``[..., steps]`` predicted prices.
    """
    if target == "minmax":
        scaled = model_lib.predict_multi_step(params, encode_windows(target, state, windows), steps)
        scaler = scaling.MinMaxScaler(state["data_min"], state["data_range"])
        return scaling.inverse_transform(scaler, scaled[..., 0])

    def step(window, _):
        y = model_lib.apply(params, encode_windows(target, state, window))
        nxt = decode_next(target, state, window, y)
        return jnp.concatenate([window[..., 1:], nxt[..., None]], axis=-1), nxt

    _, out = jax.lax.scan(step, windows, None, length=steps)
    return jnp.moveaxis(out, 0, -1)
