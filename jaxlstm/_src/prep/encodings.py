"""How prices become model inputs and targets, and how predictions become prices again.

An encoding is a static, hashable object with four pure methods: ``fit`` (constants from
the training prices only, on the host), ``encode_inputs``, ``encode_targets`` and
``decode`` (its exact inverse on targets). Its fitted state is a dict of floats (JSON-ready;
as JAX arrays it is a pytree), so it jits, saves with the model and is never re-fitted at
prediction time.

* ``MinMaxEncoding`` (``"minmax"``, the seed's): each price is min-max scaled with the
  training prices' minimum and range; the model predicts the next scaled price.
* ``RelativeEncoding`` (``"relative"``): each window is expressed as log prices relative
  to its own last price, divided by the training data's one-step log-return standard
  deviation; the model predicts the next log return(s) in those units. Scale-free, so a
  model trained at one price level still works after the price has moved out of the
  training range.

``forecast_prices`` is the recursive forecast in price space (encode, predict, decode,
slide) for any network.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation

EncodingState = dict[str, Any]


def log_return_std(prices: np.ndarray, *, ddof: int = 0) -> float:
    """Standard deviation of the one-step log returns of ``[time]`` positive prices (host, float64).

    Args:
        prices: ``[time]`` positive prices.
        ddof: delta degrees of freedom (0: population, as the relative encoding scales by;
            1: sample, as the volatility band estimates).

    Returns:
        The spread, 0.0 with fewer than two returns.
    """
    returns = np.diff(np.log(np.asarray(prices, np.float64)))
    return float(np.std(returns, ddof=ddof)) if returns.size > 1 else 0.0


class Encoding(abc.ABC):
    """Prices <-> model values. Subclasses are frozen dataclasses (static and hashable)."""

    #: The name settings and saved models use.
    name: ClassVar[str]
    #: True when a price's encoding does not depend on the window it sits in, so a recursive
    #: forecast can use the network's pipelined ``predict_multi_step``.
    pipelined: ClassVar[bool]

    @abc.abstractmethod
    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        """Constants of the encoding from ``[time]`` positive training prices (host, float64)."""

    @abc.abstractmethod
    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        """``[..., time]`` price windows -> ``[..., time, 1]`` model inputs."""

    @abc.abstractmethod
    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        """``[..., time]`` windows and ``[..., k]`` following prices -> ``[..., k]`` targets."""

    @abc.abstractmethod
    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        """Inverse of ``encode_targets``: ``[..., k]`` model outputs -> ``[..., k]`` prices."""


@dataclasses.dataclass(frozen=True)
class MinMaxEncoding(Encoding):
    """The seed's min-max scaling with one scaler fitted on the training prices.

    A constant series has range 1 (it scales to zeros instead of dividing by zero).
    """

    name: ClassVar[str] = "minmax"
    pipelined: ClassVar[bool] = True

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        prices = np.asarray(train_prices, np.float64)
        lo = float(np.min(prices))
        span = float(np.max(prices)) - lo
        return {"data_min": lo, "data_range": span if span > 0 else 1.0}

    def scale(self, state: EncodingState, prices: jax.Array) -> jax.Array:
        """``(prices - data_min) / data_range``, any shape."""
        return (prices - state["data_min"]) / state["data_range"]

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return self.scale(state, windows)[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return self.scale(state, future)

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return y * state["data_range"] + state["data_min"]


@dataclasses.dataclass(frozen=True)
class RelativeEncoding(Encoding):
    """Log prices relative to the window's last price, in units of the training log-return spread.

    ``log_return_std`` is the population standard deviation (``ddof=0``) of the training
    prices' one-step log returns; below 1e-9 (a constant or constant-growth series, where
    the spread is rounding noise) it is 1.
    """

    name: ClassVar[str] = "relative"
    pipelined: ClassVar[bool] = False

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        std = log_return_std(train_prices)
        return {"log_return_std": std if std > 1e-9 else 1.0}

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return (jnp.log(windows / windows[..., -1:]) / state["log_return_std"])[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return jnp.log(future / windows[..., -1:]) / state["log_return_std"]

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return windows[..., -1:] * jnp.exp(y * state["log_return_std"])


#: The encodings by name: ``"minmax"`` and ``"relative"`` (see ``get_encoding``).
ENCODINGS: dict[str, Encoding] = {e.name: e for e in (MinMaxEncoding(), RelativeEncoding())}


def get_encoding(encoding: str | Encoding) -> Encoding:
    """The encoding named ``encoding`` (``"minmax"``, ``"relative"``), or ``encoding`` itself."""
    if isinstance(encoding, Encoding):
        return encoding
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {tuple(ENCODINGS)} or an Encoding, got {encoding!r}")
    return ENCODINGS[encoding]


def fit_state(encoding: Encoding, train_prices: Any) -> dict[str, float]:
    """``encoding.fit`` after checking the prices: ``[time]`` finite and > 0."""
    prices = validation.as_float_array("train_prices", train_prices, ndim=1)
    if prices.shape[0] < 1 or np.any(prices <= 0):
        raise ValueError(f"train_prices must be at least one positive price, got {prices.shape[0]} values")
    return encoding.fit(prices)


def device_state(state: dict[str, float], dtype: Any = jnp.float32) -> EncodingState:
    """A fitted state as JAX scalars of ``dtype`` (what compiled code takes)."""
    return {k: jnp.asarray(v, dtype) for k, v in state.items()}


def _one_window(network: Any, params: Any, encoding: Encoding, state: EncodingState, window: jax.Array, steps: int):
    if encoding.pipelined and hasattr(network, "predict_multi_step"):
        y = network.predict_multi_step(params, encoding.encode_inputs(state, window), steps)
        return encoding.decode(state, window, y[:, 0])

    def step(window, _):
        y = network.apply(params, encoding.encode_inputs(state, window))
        nxt = encoding.decode(state, window, y[:1])
        return jnp.concatenate([window[1:], nxt.astype(window.dtype)]), nxt[0]

    _, out = jax.lax.scan(step, window, None, length=steps)
    return out


def forecast_prices(
    network: Any, params: Any, encoding: Encoding, state: EncodingState, windows: jax.Array, steps: int
) -> jax.Array:
    """Recursive forecast in price space: encode, predict, decode, slide, as one ``lax.scan``.

    For a pipelined encoding (min-max) and a network with ``predict_multi_step`` (the
    LSTM), this is that pipeline of overlapping windows on scaled inputs followed by the
    inverse scaling; otherwise the window is re-encoded around its new last price at
    every step, so the windows run one after another.

    Args:
        network: an object with ``apply(params, x[time, 1]) -> [1 + ...]`` for one window
            (and optionally ``predict_multi_step``), e.g. ``LSTMConfig``. Static.
        params: the network's params.
        encoding: an ``Encoding``. Static.
        state: its fitted constants (JAX scalars).
        windows: ``[..., time]`` the most recent prices.
        steps: static number of steps.

    Returns:
        ``[..., steps]`` predicted prices.
    """
    steps = validation.check_steps(steps)
    batch = windows.shape[:-1]
    flat = windows.reshape((-1, windows.shape[-1]))
    out = jax.vmap(lambda w: _one_window(network, params, encoding, state, w, steps))(flat)
    return out.reshape((*batch, steps))
