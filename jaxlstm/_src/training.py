"""Training as pure functions: MSE loss, an Optax step, whole runs under one ``jit``.

``train`` runs every epoch inside one compiled ``lax.while_loop`` (minibatches are a
``lax.scan`` inside it), with early stopping on a validation split, the seed's optional
loss threshold, and a guard that stops on a non-finite loss and keeps the last good
params. The loop is pure: the same key and data give the same params, and it ``vmap``s
over independent models (one per symbol) as it stands.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxlstm._src import validation
from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.xla_options import COMPILER_OPTIONS

Params = model_lib.Params

STOP_REASONS = ("max_epochs", "early_stopping", "loss_threshold", "non_finite_loss")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static, hashable training settings.

    Attributes:
        learning_rate: Adam step size (the seed: 1e-3).
        epochs: maximum number of passes over the training windows (the seed: 100).
        batch_size: windows per Adam step (the seed: 32); the last, partial batch of an
            epoch is padded with zero-weight rows so every window is used once per epoch.
        patience: epochs without improvement of the monitored loss before stopping;
            ``None`` disables early stopping.
        min_delta: the improvement that counts, in loss units.
        loss_threshold: the seed's rule: stop once the training loss is below it
            (``None``: off).
        restore_best: return the params of the best monitored epoch rather than the last.
        shuffle: reshuffle the training windows every epoch (with the explicit key).
        max_grad_norm: clip gradients to this global norm (``None``: no clipping).
    """

    learning_rate: float = 1e-3
    epochs: int = 100
    batch_size: int = 32
    patience: int | None = 10
    min_delta: float = 0.0
    loss_threshold: float | None = None
    restore_best: bool = True
    shuffle: bool = True
    max_grad_norm: float | None = None

    def __post_init__(self) -> None:
        validation.check_positive_float("learning_rate", self.learning_rate)
        validation.check_positive_int("epochs", self.epochs)
        validation.check_positive_int("batch_size", self.batch_size)
        if self.patience is not None:
            validation.check_positive_int("patience", self.patience)
        validation.check_positive_float("min_delta", self.min_delta, allow_zero=True)
        if self.loss_threshold is not None:
            validation.check_positive_float("loss_threshold", self.loss_threshold)
        if self.max_grad_norm is not None:
            validation.check_positive_float("max_grad_norm", self.max_grad_norm)


class TrainResult(NamedTuple):
    """What ``train`` returns.

    Attributes:
        params: the trained params (best monitored epoch when ``restore_best``).
        train_loss: ``[epochs_run]`` mean training loss of each epoch.
        val_loss: ``[epochs_run]`` validation loss after each epoch (empty without a split).
        epochs_run: epochs completed (a non-finite epoch is not counted).
        best_epoch: 1-based epoch whose params were kept by ``restore_best``.
        stop_reason: one of ``STOP_REASONS``.
    """

    params: Params
    train_loss: np.ndarray
    val_loss: np.ndarray
    epochs_run: int
    best_epoch: int
    stop_reason: str


def mse_loss(params: Params, xs: jax.Array, ys: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """Mean squared error of ``apply(params, xs)`` against ``ys``.

    Args:
        params: model params.
        xs: ``[batch, time, features]`` windows.
        ys: ``[batch, output]`` targets.
        weights: optional ``[batch]`` non-negative row weights (0 masks a padded row).

    Returns:
        A scalar: ``sum_b w_b * mean_o (y - yhat)^2 / sum_b w_b``.
    """
    err = jnp.mean(jnp.square(model_lib.apply(params, xs) - ys), axis=-1)
    if weights is None:
        return jnp.mean(err)
    return jnp.sum(weights * err) / jnp.maximum(jnp.sum(weights), 1e-12)


def make_optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """Adam with the configured learning rate, after optional global-norm clipping."""
    adam = optax.adam(cfg.learning_rate)
    if cfg.max_grad_norm is None:
        return adam
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), adam)


def train_step(
    optimizer: optax.GradientTransformation,
    params: Params,
    opt_state: optax.OptState,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array | None = None,
) -> tuple[Params, optax.OptState, jax.Array]:
    """One optimiser step of real back-propagation through time.

    Returns:
        ``(params, opt_state, loss)`` with the loss measured before the update.
    """
    return _step(optimizer, mse_loss, params, opt_state, xs, ys, weights)


def _step(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable[..., jax.Array],
    params: Any,
    opt_state: optax.OptState,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array | None,
) -> tuple[Any, optax.OptState, jax.Array]:
    """``train_step`` for any ``loss_fn(params, xs, ys, weights)`` (e.g. over flat params)."""
    loss, grads = jax.value_and_grad(loss_fn)(params, xs, ys, weights)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


def run_epoch(
    optimizer: optax.GradientTransformation,
    params: Params,
    opt_state: optax.OptState,
    key: jax.Array,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array,
    batch_size: int,
    shuffle: bool = True,
) -> tuple[Params, optax.OptState, jax.Array]:
    """One pass over the (shuffled) windows as a ``lax.scan`` over minibatches.

    Args:
        xs, ys, weights: ``[n, time, features]``, ``[n, output]``, ``[n]``.
        batch_size: rows per step; ``n`` is padded up to a multiple with zero weight.

    Returns:
        ``(params, opt_state, mean_loss)``, the loss weighted over the epoch's rows.
    """
    return _epoch(optimizer, mse_loss, params, opt_state, key, xs, ys, weights, batch_size, shuffle)


def _epoch(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable[..., jax.Array],
    params: Any,
    opt_state: optax.OptState,
    key: jax.Array,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array,
    batch_size: int,
    shuffle: bool,
) -> tuple[Any, optax.OptState, jax.Array]:
    """``run_epoch`` for any ``loss_fn(params, xs, ys, weights)``."""
    n = xs.shape[0]
    batch_size = min(batch_size, n)
    num_batches = math.ceil(n / batch_size)
    pad = num_batches * batch_size - n
    order = jax.random.permutation(key, n) if shuffle else jnp.arange(n)
    order = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)]).reshape(num_batches, batch_size)
    real = jnp.concatenate([jnp.ones((n,), xs.dtype), jnp.zeros((pad,), xs.dtype)])
    batch_weights = (weights[order.reshape(-1)] * real).reshape(num_batches, batch_size)

    def step(state, batch):
        params, opt_state = state
        idx, w = batch
        params, opt_state, loss = _step(optimizer, loss_fn, params, opt_state, xs[idx], ys[idx], w)
        return (params, opt_state), loss * jnp.sum(w)

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (order, batch_weights))
    return params, opt_state, jnp.sum(losses) / jnp.maximum(jnp.sum(weights), 1e-12)


def _flatten(params: Params) -> tuple[Any, Callable[[Any], Params]]:
    """``(flat_vector, unravel)`` when all leaves share a dtype, else ``(params, identity)``.

    Mixed dtypes are left as a tree: ravelling would promote them and run Adam in the
    promoted precision, which would change the results.
    """
    if len({jnp.result_type(leaf) for leaf in jax.tree.leaves(params)}) == 1:
        return ravel_pytree(params)
    return params, lambda p: p


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


class _LoopState(NamedTuple):
    epoch: jax.Array
    params: Params
    opt_state: Any
    best_params: Params
    best_loss: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    reason: jax.Array
    train_hist: jax.Array
    val_hist: jax.Array


def train_arrays(
    key: jax.Array,
    params: Params,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array,
    xs_val: jax.Array,
    ys_val: jax.Array,
    weights_val: jax.Array,
    cfg: TrainConfig,
    callback: Callable[[Any, Any, Any], None] | None = None,
) -> tuple[Params, jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """The whole training run as one traceable function (jit it with ``cfg`` static; vmap it).

    Args:
        key: PRNG key for shuffling.
        params: initial params.
        xs, ys, weights: training windows ``[n, time, features]``, targets ``[n, output]``,
            row weights ``[n]``.
        xs_val, ys_val, weights_val: validation split, possibly with zero rows or with
            weights that sum to zero (either way the training loss is monitored and the
            validation history is NaN).
        cfg: static settings.
        callback: called as ``callback(epoch, train_loss, val_loss)`` after every epoch
            from inside the compiled loop (progress bars); ``None`` for none.

    Returns:
        ``(params, train_hist [epochs], val_hist [epochs], epochs_run, best_epoch, reason)``;
        history entries past ``epochs_run`` are NaN.
    """
    optimizer = make_optimizer(cfg)
    # The loop carries the params as one flat vector: Adam, the finiteness check and the
    # best/last selections then act on one array instead of one per leaf, which removes
    # dozens of small kernels from the compiled program (compile time 5-15% lower in
    # A/B runs, run time unchanged, results equal up to float rounding). The model sees
    # the usual pytree through ``unravel``, whose gradient is exact.
    params, unravel = _flatten(params)
    loss_fn = lambda p, *data: mse_loss(unravel(p), *data)
    has_val = xs_val.shape[0] > 0
    patience = cfg.patience if cfg.patience is not None else cfg.epochs + 1
    nan_hist = jnp.full((cfg.epochs,), jnp.nan, xs.dtype)
    inf = jnp.asarray(jnp.inf, xs.dtype)
    # Decided per model, not per shape, so a vmapped model whose validation rows are all
    # padding monitors its training loss instead of a constant zero that would stop it early.
    val_present = jnp.sum(weights_val) > 0

    def cond(s: _LoopState):
        return (s.epoch < cfg.epochs) & (s.reason < 0)

    def body(s: _LoopState) -> _LoopState:
        params, opt_state, train_loss = _epoch(
            optimizer,
            loss_fn,
            s.params,
            s.opt_state,
            jax.random.fold_in(key, s.epoch),
            xs,
            ys,
            weights,
            cfg.batch_size,
            cfg.shuffle,
        )
        nan = jnp.asarray(jnp.nan, xs.dtype)
        val_loss = jnp.where(val_present, loss_fn(params, xs_val, ys_val, weights_val), nan) if has_val else nan
        monitored = jnp.where(val_present, val_loss, train_loss) if has_val else train_loss
        finite = jnp.isfinite(train_loss) & jnp.isfinite(monitored) & _all_finite(params)
        improved = finite & (monitored < s.best_loss - cfg.min_delta)
        wait = jnp.where(improved, 0, s.wait + 1)
        reason = jnp.where(~finite, 3, -1)
        if cfg.loss_threshold is not None:
            reason = jnp.where(finite & (train_loss < cfg.loss_threshold), 2, reason)
        if cfg.patience is not None:
            reason = jnp.where(finite & (reason < 0) & (wait >= patience), 1, reason)
        if callback is not None:
            jax.debug.callback(callback, s.epoch + 1, train_loss, val_loss, ordered=True)
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, old)
        return _LoopState(
            epoch=s.epoch + jnp.where(finite, 1, 0),
            params=keep(params, s.params),
            opt_state=keep(opt_state, s.opt_state),
            best_params=jax.tree.map(lambda a, b: jnp.where(improved, a, b), params, s.best_params),
            best_loss=jnp.where(improved, monitored, s.best_loss),
            best_epoch=jnp.where(improved, s.epoch + 1, s.best_epoch),
            wait=wait,
            reason=reason,
            train_hist=s.train_hist.at[s.epoch].set(jnp.where(finite, train_loss, jnp.nan)),
            val_hist=s.val_hist.at[s.epoch].set(jnp.where(finite, val_loss, jnp.nan)),
        )

    init = _LoopState(
        epoch=jnp.asarray(0),
        params=params,
        opt_state=optimizer.init(params),
        best_params=params,
        best_loss=inf,
        best_epoch=jnp.asarray(0),
        wait=jnp.asarray(0),
        reason=jnp.asarray(-1),
        train_hist=nan_hist,
        val_hist=nan_hist,
    )
    s = jax.lax.while_loop(cond, body, init)
    reason = jnp.where(s.reason < 0, 0, s.reason)
    if cfg.restore_best:
        use_best = s.best_epoch > 0
        out = jax.tree.map(lambda b, p: jnp.where(use_best, b, p), s.best_params, s.params)
        best_epoch = jnp.where(use_best, s.best_epoch, s.epoch)
    else:
        out, best_epoch = s.params, s.epoch
    return unravel(out), s.train_hist, s.val_hist, s.epoch, best_epoch, reason


_train_jit = jax.jit(train_arrays, static_argnames=("cfg", "callback"), compiler_options=COMPILER_OPTIONS)


def _check_training_data(name: str, xs: Any, ys: Any, cfg_model: model_lib.LSTMConfig) -> tuple[jax.Array, jax.Array]:
    if not isinstance(xs, jax.Array):
        xs = validation.as_float_array(f"{name}xs", xs, ndim=3, dtype=np.float32)
    if not isinstance(ys, jax.Array):
        ys = validation.as_float_array(f"{name}ys", ys, ndim=2, dtype=np.float32)
    if xs.ndim != 3 or xs.shape[-1] != cfg_model.input_size:
        raise ValueError(f"{name}xs must be [batch, time, {cfg_model.input_size}], got shape {xs.shape}")
    if ys.ndim != 2 or ys.shape != (xs.shape[0], cfg_model.output_size):
        raise ValueError(f"{name}ys must be [{xs.shape[0]}, {cfg_model.output_size}], got shape {ys.shape}")
    if not bool(jnp.all(jnp.isfinite(xs))) or not bool(jnp.all(jnp.isfinite(ys))):
        raise ValueError(f"{name}xs and {name}ys must be finite, got NaN/inf")
    return xs, ys


def train(
    key: jax.Array,
    params: Params,
    xs: jax.Array,
    ys: jax.Array,
    cfg: TrainConfig = TrainConfig(),
    *,
    validation_data: tuple[jax.Array, jax.Array] | None = None,
    sample_weight: jax.Array | None = None,
    callback: Callable[[Any, Any, Any], None] | None = None,
) -> TrainResult:
    """Trains ``params`` on windows with Adam, minibatches and early stopping, in one compiled call.

    Args:
        key: PRNG key for the per-epoch shuffles (same key and data, same params).
        params: initial params from ``init_params``.
        xs: ``[n, time, features]`` training windows; ys: ``[n, output]`` targets.
        cfg: ``TrainConfig``.
        validation_data: ``(xs_val, ys_val)`` monitored for early stopping; without it the
            training loss is monitored.
        sample_weight: optional ``[n]`` non-negative weights (0 masks a row).
        callback: ``callback(epoch, train_loss, val_loss)`` after each epoch.

    Returns:
        A ``TrainResult``; histories are trimmed to the epochs actually run.

    Example::

        cfg = TrainConfig(epochs=50)
        result = train(jax.random.key(0), init_params(jax.random.key(1), LSTMConfig()), xs, ys, cfg)
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    model_cfg = model_lib.config_of(params)
    xs, ys = _check_training_data("", xs, ys, model_cfg)
    dtype = params["layers"][0]["w"].dtype
    xs, ys = xs.astype(dtype), ys.astype(dtype)
    if sample_weight is None:
        weights = jnp.ones((xs.shape[0],), dtype)
    else:
        weights = jnp.asarray(validation.as_float_array("sample_weight", sample_weight, ndim=1), dtype)
        if weights.shape != (xs.shape[0],) or bool(jnp.any(weights < 0)):
            raise ValueError(f"sample_weight must be [{xs.shape[0]}] non-negative, got shape {weights.shape}")
    if validation_data is None:
        xs_val = jnp.zeros((0, *xs.shape[1:]), dtype)
        ys_val = jnp.zeros((0, ys.shape[1]), dtype)
    else:
        xs_val, ys_val = _check_training_data("validation_data ", *validation_data, model_cfg)
        xs_val, ys_val = xs_val.astype(dtype), ys_val.astype(dtype)
    weights_val = jnp.ones((xs_val.shape[0],), dtype)
    out, train_hist, val_hist, epochs_run, best_epoch, reason = _train_jit(
        key, params, xs, ys, weights, xs_val, ys_val, weights_val, cfg, callback
    )
    epochs_run = int(epochs_run)
    return TrainResult(
        params=out,
        train_loss=np.asarray(train_hist)[:epochs_run],
        val_loss=np.asarray(val_hist)[:epochs_run] if validation_data is not None else np.zeros((0,)),
        epochs_run=epochs_run,
        best_epoch=int(best_epoch),
        stop_reason=STOP_REASONS[int(reason)],
    )
