"""ES-RNN (Smyl 2020, the M4 winner): Holt-Winters smoothing with learned coefficients feeding an LSTM.

For one window ``x [time, input]`` whose first feature ``z`` is the encoded close:

1. Holt-Winters level and season, additive in ``z``, run by one ``lax.scan``::

       s_t = season state due at t      (seeded from the window's first season, see below)
       l_t = alpha * (z_t - s_t) + (1 - alpha) * l_{t-1}
       s_{t+m} = gamma * (z_t - l_t) + (1 - gamma) * s_t

   ``alpha = sigmoid(SMOOTHING_GAIN * params["smoothing"]["level"])`` and ``gamma =
   sigmoid(SMOOTHING_GAIN * params["smoothing"]["season"])`` are learned; the first season
   is ``s_j = z_j - mean(z[:m]) + season0_j`` (``j < m``) with ``season0 = SMOOTHING_GAIN *
   params["smoothing"]["season0"]`` learned, and ``l_{-1} = mean(z[:m])``.
2. The LSTM (``num_layers`` plain stacked layers, ``nn/cell.py``) reads the deseasonalised,
   level-normalised inputs ``u_t = z_t - s_t - l_{T-1}`` (Smyl divides by the last level of
   the input window; in log space that is this subtraction), next to the other features.
3. Its head's outputs ``y_k`` (``k < output_size``, one per forecast step) are re-levelled
   and re-seasonalised: ``z_hat_{T+k} = l_{T-1} + s_{T+k} + y_k``, with ``s_{T+k}`` the
   newest seasonal state of that phase.

Multiplicative, as in Smyl. The estimator feeds log-based encodings (``"relative"``,
``"log"``, ``"window"``: every one is ``(log p - c) / scale`` for a per-window or fitted
``c``), and additive smoothing of log prices is multiplicative Holt-Winters on prices:
level and season combine as ``price = level * season`` and each update is a weighted
*geometric* mean (``l_t = (p_t / s_t)^alpha * l_{t-1}^(1 - alpha)``). Smyl's updates are
weighted arithmetic means of the same ratios; the two agree to second order in the
one-step relative change (``tests/nn/test_esrnn.py`` measures both). With ``"minmax"`` it is
additive Holt-Winters on scaled prices.

Choices, and where they differ from Smyl's:

* The smoothing runs over each input window, from a state seeded by that window (per-window
  states), not over the whole series from per-series learned states. So the ES-RNN is a
  plain windowed network: every path that feeds windows (ensembles, backtests, save/load,
  the runner, fit_many, a global model over the windows of several series) runs it
  unchanged, and windows of several series give exactly what each series gives alone.
  The price: the smoothing coefficients and ``season0`` are shared by every window (and by
  every series of a global model) rather than per series, and ``season0`` is a correction
  to the window's own first season indexed by position in the window, not by calendar
  phase (windows carry no phase). On a series whose windows start at every phase it can
  only learn what all first seasons share; the season itself comes from the data.
* A plain LSTM, not Smyl's dilated one. Dilations give a recurrent stack memory across
  seasons in long inputs; here the input is deseasonalised and the window is about
  ``1.25 * max(horizon, season)`` steps (``prep.seasons.default_window``), a few dozen
  steps, well within a plain LSTM's reach, and the plain stack reuses the library's cell.
* No level-wiggliness penalty and no per-series ensembles of Smyl's; the loss is the
  trainer's (mean squared error by default, or a pinball loss: ``training.QuantileLoss``).
* ``season_length=1`` is level-only smoothing (no season parameters): Smyl's yearly
  models, and what a forecaster with ``season_length=None`` (or an ``"auto"`` that found no
  season) builds.

Params::

    {"layers": [{"w": [hidden + in_k, 4 * hidden], "b": [4 * hidden]}, ...],
     "head": {"w": [hidden, output], "b": [output]},
     "smoothing": {"level": [], "season": [], "season0": [m]}}   # season entries only for m > 1

No PyTorch counterpart (``jaxlstm.params_to_torch`` covers the other architectures).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src import validation
from jaxlstm._src.nn import cell, layers

Params = dict[str, Any]

#: Initial smoothing coefficients: a level that follows the data half way, a slowly moving season.
INITIAL_ALPHA = 0.5
INITIAL_GAMMA = 0.2
#: The smoothing parameters are stored divided by this gain (``alpha = sigmoid(GAIN * p)``,
#: ``season0 = GAIN * p``): Adam moves every parameter by about the learning rate per step,
#: and a few hundred steps of 3e-4 would leave the coefficients where they started (Smyl
#: gave his per-series smoothing parameters their own, larger, learning rates).
SMOOTHING_GAIN = 10.0


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def holt_winters(z: jax.Array, alpha: jax.Array, gamma: jax.Array, season0: jax.Array) -> tuple[jax.Array, ...]:
    """Additive Holt-Winters level and season over one window, seeded from the window's first season.

    Args:
        z: ``[time]`` values (encoded closes), ``time >= m``.
        alpha: level smoothing coefficient in (0, 1).
        gamma: seasonal smoothing coefficient in (0, 1) (unused when ``m == 1``).
        season0: ``[m]`` correction added to the first season's deviations from its mean;
            ``m == 1`` (a zero of shape ``[1]``) is level-only smoothing.

    Returns:
        ``(levels [time], seasons [time], next_seasons [m])``: the level after each step, the
        seasonal state each step used, and the seasonal states due at ``time, ..., time + m - 1``.
    """
    m = season0.shape[0]
    first = z[:m]
    level0 = jnp.mean(first)
    if m == 1:
        # Level only: no season, so the first value is the initial level.
        def step_level(level, z_t):
            level = alpha * z_t + (1.0 - alpha) * level
            return level, level

        _, levels = jax.lax.scan(step_level, z[0], z)
        zeros = jnp.zeros_like(z)
        return levels, zeros, jnp.zeros_like(season0)

    def step(carry, z_t):
        level, due = carry
        s_t = due[0]
        level = alpha * (z_t - s_t) + (1.0 - alpha) * level
        s_next = gamma * (z_t - level) + (1.0 - gamma) * s_t
        return (level, jnp.concatenate([due[1:], s_next[None]])), (level, s_t)

    (_, due), (levels, seasons) = jax.lax.scan(step, (level0, first - level0 + season0), z)
    return levels, seasons, due


@dataclasses.dataclass(frozen=True)
class ESRNNConfig:
    """Static, hashable description of the ES-RNN (see the module docstring).

    Attributes:
        input_size: features per time step; the first is the encoded close, the one smoothed.
        hidden_size: LSTM units per layer.
        output_size: forecast steps of the close per window (1 for a recursive forecast).
        num_layers: stacked LSTM layers.
        season_length: ``m``, steps per season; 1 is level-only smoothing. Windows must
            hold at least ``m`` steps.
    """

    input_size: int = 1
    hidden_size: int = 32
    output_size: int = 1
    num_layers: int = 1
    season_length: int = 1

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "output_size", "num_layers", "season_length"):
            validation.check_positive_int(name, getattr(self, name))
        if self.season_length > validation.MAX_SEQUENCE_LENGTH:
            raise ValueError(
                f"season_length must be at most {validation.MAX_SEQUENCE_LENGTH:,}, got {self.season_length:,}"
            )

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """Fresh params: Glorot LSTM layers and head, ``alpha = 0.5``, ``gamma = 0.2``, ``season0 = 0``.

        Args:
            key: a PRNG key.
            dtype: float dtype of every leaf.

        Returns:
            The params pytree of this module's docstring.
        """
        keys = jax.random.split(key, self.num_layers + 1)
        stack = [
            cell.init_lstm_layer(keys[k], self.input_size if k == 0 else self.hidden_size, self.hidden_size, dtype)
            for k in range(self.num_layers)
        ]
        smoothing = {"level": jnp.asarray(_logit(INITIAL_ALPHA) / SMOOTHING_GAIN, dtype)}
        if self.season_length > 1:
            smoothing["season"] = jnp.asarray(_logit(INITIAL_GAMMA) / SMOOTHING_GAIN, dtype)
            smoothing["season0"] = jnp.zeros((self.season_length,), dtype)
        return {
            "layers": stack,
            "head": layers.init_dense(keys[-1], self.hidden_size, self.output_size, dtype),
            "smoothing": smoothing,
        }

    def check_window(self, x: Any) -> None:
        """Raises ``ValueError`` unless ``x`` is one window ``[time >= season_length, input_size]``."""
        shape = jnp.shape(x)
        if len(shape) != 2 or shape[1] != self.input_size:
            raise ValueError(f"x must be one window [time, {self.input_size}], got shape {shape}")
        if shape[0] < self.season_length:
            raise ValueError(
                f"season_length={self.season_length} needs windows of at least {self.season_length} steps "
                f"(the first season seeds the smoothing), got windows of {shape[0]}"
            )

    def smooth(self, params: Params, z: jax.Array) -> tuple[jax.Array, ...]:
        """``holt_winters`` of ``[time]`` values with this network's learned coefficients."""
        alpha, gamma, season0 = self.coefficients(params)
        if gamma is None or season0 is None:
            return holt_winters(z, alpha, jnp.zeros_like(alpha), jnp.zeros((1,), z.dtype))
        return holt_winters(z, alpha, gamma, season0)

    def coefficients(self, params: Params) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
        """``(alpha, gamma, season0 [m])`` from the params (``gamma`` and ``season0`` None when ``m == 1``)."""
        smoothing = params["smoothing"]
        alpha = jax.nn.sigmoid(SMOOTHING_GAIN * smoothing["level"])
        if self.season_length == 1:
            return alpha, None, None
        return alpha, jax.nn.sigmoid(SMOOTHING_GAIN * smoothing["season"]), SMOOTHING_GAIN * smoothing["season0"]

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """One window ``[time, input_size]`` -> ``[output_size]`` encoded closes of the next steps.

        Args:
            params: from ``init``.
            x: ``[time, input_size]``, oldest step first, ``time >= season_length``.

        Returns:
            ``[output_size]``: ``l_{T-1} + s_{T+k} + y_k`` (module docstring).
        """
        self.check_window(x)
        with jax.named_scope("esrnn_apply"):
            z = x[:, 0]
            levels, seasons, due = self.smooth(params, z)
            last_level = levels[-1]
            u = z - seasons - last_level
            h = jnp.concatenate([u[:, None], x[:, 1:]], axis=-1)
            for layer in params["layers"]:
                h = cell.lstm_layer(layer, h)
            y = layers.dense(params["head"], h[-1])
            future = due[jnp.arange(self.output_size) % self.season_length]
            return last_level + future + y
