"""The stacked LSTM: layers scanned over time, a dense head on the last hidden state.

A network here is a pure ``(init, apply)`` pair written for one example and batched with
``jax.vmap``. Params are a plain pytree::

    {"layers": [{"w": [hidden + in_k, 4 * hidden], "b": [4 * hidden]}, ...],
     "head": {"w": [hidden, output], "b": [output]}}

so they jit, vmap, differentiate, checkpoint and convert to other frameworks with no
wrapper object in between. ``LSTMConfig`` is the static, hashable description of the
architecture; it also carries the pair as methods (``cfg.init(key)``, ``cfg.apply(params,
x)``), which is what the generic machinery (training, stacked runs, forecasters) calls.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jaxlstm._src import validation
from jaxlstm._src.nn import cell

Params = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class LSTMConfig:
    """Static, hashable architecture description.

    Attributes:
        input_size: features per time step (the seed: 1, the close price).
        hidden_size: LSTM units per layer (the seed: 32).
        output_size: values predicted per window (the seed: 1).
        num_layers: stacked LSTM layers (the seed: 1).
    """

    input_size: int = 1
    hidden_size: int = 32
    output_size: int = 1
    num_layers: int = 1

    def __post_init__(self) -> None:
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            validation.check_positive_int(name, getattr(self, name))

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """``init_params(key, self, dtype)``."""
        return init_params(key, self, dtype)

    def apply(self, params: Params, x: jax.Array) -> jax.Array:
        """One window ``[time, input_size]`` -> ``[output_size]`` (see ``apply``)."""
        return apply_one(params, x)

    def predict_multi_step(self, params: Params, x: jax.Array, steps: int) -> jax.Array:
        """One window ``[time, features]`` -> ``[steps, output]``, pipelined (see ``predict_multi_step``)."""
        return predict_one(params, x, steps)


def init_params(key: jax.Array, cfg: LSTMConfig, dtype: Any = jnp.float32) -> Params:
    """Draws fresh params: Glorot-uniform weights, zero biases.

    Args:
        key: a PRNG key (``jax.random.key(0)``); the same key gives identical params.
        cfg: the architecture.
        dtype: float dtype of every leaf.

    Returns:
        The params pytree described in this module's docstring.
    """
    if not isinstance(cfg, LSTMConfig):
        raise TypeError(f"cfg must be an LSTMConfig, got {type(cfg).__name__}")
    if not isinstance(key, jax.Array):
        # JAX's own message ("invalid PRNG key data ... Got 0") does not say what a key is.
        raise TypeError(f"key must be a PRNG key such as jax.random.key(0), got {type(key).__name__} {key!r:.40}")
    layer_keys = jax.random.split(key, cfg.num_layers + 1)
    layers = [
        cell.init_lstm_layer(layer_keys[k], cfg.input_size if k == 0 else cfg.hidden_size, cfg.hidden_size, dtype)
        for k in range(cfg.num_layers)
    ]
    head_w = cell.glorot_uniform(layer_keys[-1], (cfg.hidden_size, cfg.output_size), dtype)
    return {"layers": layers, "head": {"w": head_w, "b": jnp.zeros((cfg.output_size,), dtype)}}


def config_of(params: Params) -> LSTMConfig:
    """Reads the architecture back from a params pytree's shapes (a leading models axis is ignored)."""
    try:
        layers = params["layers"]
        hidden = layers[0]["b"].shape[-1] // 4
        input_size = layers[0]["w"].shape[-2] - hidden
        output_size = params["head"]["b"].shape[-1]
    except (KeyError, IndexError, TypeError, AttributeError) as err:
        raise TypeError(
            "params must be {'layers': [{'w', 'b'}, ...], 'head': {'w', 'b'}} as made by init_params, "
            f"got {type(params).__name__} ({err!r})"
        ) from None
    return LSTMConfig(input_size, hidden, output_size, len(layers))


def _check_inputs(params: Params, xs: jax.Array) -> LSTMConfig:
    cfg = config_of(params)
    if xs.ndim not in (2, 3):
        raise ValueError(f"xs must be [batch, time, features] or [time, features], got shape {xs.shape}")
    if xs.shape[-1] != cfg.input_size:
        raise ValueError(f"xs must have {cfg.input_size} features in its last axis, got shape {xs.shape}")
    if xs.shape[-2] < 1:
        raise ValueError(f"xs must have at least one time step, got shape {xs.shape}")
    return cfg


def _stacked_step(
    params: Params, carries: tuple[cell.LSTMCarry, ...], x: jax.Array
) -> tuple[tuple[cell.LSTMCarry, ...], jax.Array]:
    """One time step through every layer; ``x`` broadcasts against the carries' leading axes."""
    new_carries = []
    inp = jnp.broadcast_to(x, carries[0].h.shape[:-1] + x.shape[-1:])
    for layer, carry in zip(params["layers"], carries):
        new_carry, inp = cell.lstm_step(layer, carry, inp)
        new_carries.append(new_carry)
    return tuple(new_carries), inp


def _head(params: Params, h: jax.Array) -> jax.Array:
    return h @ params["head"]["w"] + params["head"]["b"]


def apply_one(params: Params, x: jax.Array, *, unroll: int | bool = 1) -> jax.Array:
    """The network for one window, without checks: ``[time, input]`` -> ``[output]``."""
    with jax.named_scope("lstm_apply"):
        hidden = params["layers"][0]["b"].shape[-1] // 4
        dtype = params["layers"][0]["w"].dtype
        carries = tuple(cell.zero_carry(hidden, (), dtype) for _ in params["layers"])

        def step(carries, x_t):
            return _stacked_step(params, carries, x_t)[0], None

        carries, _ = jax.lax.scan(step, carries, x, unroll=unroll)
        return _head(params, carries[-1].h)


def apply(params: Params, xs: jax.Array, *, unroll: int | bool = 1) -> jax.Array:
    """Runs the stacked LSTM over each window and maps the last hidden state to outputs.

    Written for one window and batched with ``jax.vmap``.

    Args:
        params: from ``init_params``.
        xs: ``[batch, time, features]`` windows, or ``[time, features]`` for one window.
        unroll: ``lax.scan`` unroll factor over time (1 is fastest on CPU).

    Returns:
        ``[batch, output]`` (or ``[output]`` for a single window).
    """
    xs = jnp.asarray(xs)
    _check_inputs(params, xs)
    one = lambda x: apply_one(params, x, unroll=unroll)
    return one(xs) if xs.ndim == 2 else jax.vmap(one)(xs)


def predict_one(params: Params, x: jax.Array, steps: int, *, unroll: int | bool = 1) -> jax.Array:
    """The recursive forecast of one window, without checks: ``[time, features]`` -> ``[steps, output]``.

    See ``predict_multi_step`` for the pipeline.
    """
    with jax.named_scope("predict_multi_step"):
        if steps == 1:
            return apply_one(params, x, unroll=unroll)[None, :]
        time = x.shape[0]
        hidden = params["layers"][0]["b"].shape[-1] // 4
        dtype = params["layers"][0]["w"].dtype

        # Slot d of the in-flight axis holds the window that has read d inputs so far;
        # slot 0 is a window that starts at this tick, from a zero state.
        def tick(carries, x_t):
            carries = tuple(
                cell.LSTMCarry(*(jnp.concatenate([jnp.zeros_like(a[:1]), a[:-1]]) for a in c)) for c in carries
            )
            carries, top = _stacked_step(params, carries, x_t)
            return carries, _head(params, top[-1])

        carries = tuple(cell.zero_carry(hidden, (time,), dtype) for _ in params["layers"])
        # Ticks 0 .. time-2 read the known window; no window is complete yet.
        carries, _ = jax.lax.scan(tick, carries, x[:-1], unroll=unroll)

        # From the window's last input on, each tick completes one window, whose
        # prediction is the next tick's input.
        def feedback(state, _):
            carries, x_t = state
            carries, y = tick(carries, x_t)
            return (carries, y.astype(x_t.dtype)), y

        _, ys = jax.lax.scan(feedback, (carries, x[-1]), None, length=steps, unroll=unroll)
        return ys


def predict_multi_step(params: Params, xs: jax.Array, steps: int, *, unroll: int | bool = 1) -> jax.Array:
    """Recursive forecast: predict, slide the window (drop oldest, append prediction), repeat.

    The result is the seed's loop (every window is run from a zero state, exactly as
    ``apply`` runs it), computed as a pipeline: window ``k + 1`` shares all but its last
    input with window ``k``, and every window in flight reads the same input at the same
    tick, so the ``time`` windows that overlap are advanced together as one batch. That
    takes ``steps + time - 1`` dependent LSTM steps instead of ``steps * time``.

    The whole loop is one ``lax.scan``, so it jits (``steps`` static), vmaps and
    differentiates with respect to both params and inputs.

    Multivariate inputs: the prediction is fed back as the next time step, so the model
    must predict every input feature (``output_size == input_size``). A model that
    predicts fewer features than it reads has no defined next input and is refused.

    Args:
        params: from ``init_params``.
        xs: ``[batch, time, features]`` starting windows, or ``[time, features]``.
        steps: number of future steps (a Python int >= 1).
        unroll: ``lax.scan`` unroll factor of the loop over ticks.

    Returns:
        ``[batch, steps, output]`` (or ``[steps, output]`` for a single window).

    Example::

        ys = jax.jit(predict_multi_step, static_argnames="steps")(params, xs, steps=24)
    """
    if isinstance(steps, jax.core.Tracer):
        raise TypeError("steps must be a static Python int; mark it static: jax.jit(..., static_argnames='steps')")
    steps = validation.check_steps(steps)
    xs = jnp.asarray(xs)
    cfg = _check_inputs(params, xs)
    if cfg.output_size != cfg.input_size:
        raise ValueError(
            "predict_multi_step feeds each prediction back as the next input, so it needs "
            f"output_size == input_size, got output_size={cfg.output_size}, input_size={cfg.input_size}"
        )
    one = lambda x: predict_one(params, x, steps, unroll=unroll)
    return one(xs) if xs.ndim == 2 else jax.vmap(one)(xs)
