"""Training as pure functions: losses, an Optax optimiser, a whole run under one ``jit``.

``fit_arrays`` is the one trainer. With early stopping on a validation split or the
seed's optional loss threshold, its epochs run in one compiled ``lax.while_loop``; with
neither, in a ``lax.scan`` of the fixed number of epochs, which ``jax.grad`` differentiates
(hyper-gradients through a whole training run). Both run the same epoch body (minibatches
are a ``lax.scan`` inside it) with a guard that stops on a non-finite loss and keeps the
last good params. It is pure: the same key and data give the same params, it jits with
its settings static, and it ``vmap``s over independent models (symbols, seeds, origins,
trials) as it stands; ``stacked.run_stacked`` is how the library does that. Zero-weight
rows (padding to a shape bucket) change nothing: they are ordered after the weighted
rows and a minibatch of them alone takes no step.

``train`` is the host-side convenience on top: it checks its arguments, runs the compiled
``fit_arrays`` and returns histories trimmed to the epochs run, with named stop reasons.

The network is any object with ``apply(params, x) -> y`` for ONE example (``LSTMConfig``
is one) or such a function; the loss is a function of one example's prediction and target
(``mse``, ``mae``, ``huber``, ``pinball``, or ``QuantileLoss`` for quantile heads); the optimiser is any ``optax.GradientTransformation``
(``make_optimizer`` builds the library's Adam/AdamW, with its hyper-parameters held in the
optimiser state so that models trained together may use different learning rates).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from jaxlstm._src import validation
from jaxlstm._src.nn import lstm
from jaxlstm._src.xla_options import COMPILER_OPTIONS

Params = Any
Loss = Callable[[jax.Array, jax.Array], jax.Array]


class StopReason(enum.IntEnum):
    """Why a training run ended (an int inside compiled code; ``str()`` gives the name)."""

    MAX_EPOCHS = 0
    EARLY_STOPPING = 1
    LOSS_THRESHOLD = 2
    NON_FINITE_LOSS = 3

    def __str__(self) -> str:
        return self.name.lower()


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Static, hashable training settings.

    Attributes:
        learning_rate: Adam step size (the seed: 1e-3), used by ``make_optimizer``.
        epochs: maximum number of passes over the training windows (the seed: 100).
        batch_size: windows per optimiser step (the seed: 32); the last, partial batch of an
            epoch is padded with zero-weight rows so every window is used once per epoch.
        patience: epochs without improvement of the monitored loss before stopping;
            ``None`` disables early stopping.
        min_delta: the improvement that counts, in loss units.
        loss_threshold: the seed's rule: stop once the training loss is below it
            (``None``: off).
        restore_best: return the params of the best monitored epoch rather than the last.
        shuffle: reshuffle the training windows every epoch (with the explicit key).
        max_grad_norm: clip gradients to this global norm (``None``: no clipping).
        weight_decay: decoupled weight decay of AdamW (0: plain Adam).
        epoch_windows: None (an epoch is a pass over every training window) or the most
            windows one epoch trains on: a random sample, drawn anew each epoch, of that
            many (in whole minibatches), so the optimiser steps, the validation losses and
            the patience of early stopping are counted per sample, however many windows
            there are (a global model of many series). Ignored when it is not below their count.
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
    weight_decay: float = 0.0
    epoch_windows: int | None = None

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
        validation.check_positive_float("weight_decay", self.weight_decay, allow_zero=True)
        if self.epoch_windows is not None:
            validation.check_positive_int("epoch_windows", self.epoch_windows)
        for name in ("restore_best", "shuffle"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")


class TrainData(NamedTuple):
    """Training and validation windows of one model (a leading models axis when stacked).

    Attributes:
        xs: ``[n, time, features]`` training inputs.
        ys: ``[n, output]`` training targets.
        weights: ``[n]`` non-negative row weights; 0 masks a padding row.
        xs_val: ``[m, time, features]`` validation inputs (``m`` may be 0).
        ys_val: ``[m, output]`` validation targets.
        weights_val: ``[m]`` validation row weights; all 0 (or ``m == 0``) monitors the
            training loss instead.
    """

    xs: Any
    ys: Any
    weights: Any
    xs_val: Any
    ys_val: Any
    weights_val: Any


class TrainResult(NamedTuple):
    """What ``fit_arrays`` (traced arrays) and ``train`` (host values) return.

    Attributes:
        params: the trained params (best monitored epoch when ``restore_best``).
        opt_state: the optimiser state after the last epoch run, for continuing training
            (``fit_arrays(..., opt_state=...)``); it belongs to the params' flat vector
            when every leaf shares a dtype (see ``fit_arrays``).
        train_loss: ``[epochs]`` mean training loss of each epoch; ``fit_arrays`` pads with
            NaN past ``epochs_run``, ``train`` trims to the epochs run.
        val_loss: ``[epochs]`` validation loss after each epoch (NaN without validation).
        epochs_run: epochs completed (a non-finite epoch is not counted).
        best_epoch: 1-based epoch whose params were kept by ``restore_best``.
        stop_reason: a ``StopReason`` (an int array inside compiled code).
    """

    params: Params
    opt_state: Any
    train_loss: Any
    val_loss: Any
    epochs_run: Any
    best_epoch: Any
    stop_reason: Any

    def __repr__(self) -> str:
        # A summary: the default repr prints every weight of params and opt_state.
        def brief(value: Any) -> str:
            shape = np.shape(value)
            if shape == ():
                try:
                    return str(StopReason(int(value))) if value is self.stop_reason else str(value.item())
                except (TypeError, ValueError, AttributeError, jax.errors.JAXTypeError):
                    return str(value)
            return f"[{', '.join(map(str, shape))}] {getattr(value, 'dtype', '')}".rstrip()

        def losses(value: Any) -> str:
            text = brief(value)
            try:
                values = np.asarray(value, np.float64)
            except (TypeError, jax.errors.JAXTypeError):
                return text
            finite = values[np.isfinite(values)] if values.ndim == 1 else values[:0]
            return f"{text}, last {finite[-1]:.4g}" if finite.size else text

        leaves = jax.tree.leaves(self.params)
        numbers = sum(int(np.prod(np.shape(leaf))) for leaf in leaves)
        return (
            f"TrainResult(epochs_run={brief(self.epochs_run)}, best_epoch={brief(self.best_epoch)}, "
            f"stop_reason={brief(self.stop_reason)}, train_loss={losses(self.train_loss)}, "
            f"val_loss={losses(self.val_loss)}, params=<{len(leaves)} arrays, {numbers:,} numbers>, "
            f"opt_state=<{len(jax.tree.leaves(self.opt_state))} arrays>)"
        )


# ---------------------------------------------------------------------------- losses


def mse(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean squared error of one example: ``[output]``, ``[output]`` -> scalar."""
    return jnp.mean(jnp.square(prediction - target))


def mae(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Mean absolute error of one example: ``[output]``, ``[output]`` -> scalar."""
    return jnp.mean(jnp.abs(prediction - target))


def huber(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """Huber loss (delta 1) of one example, robust to the fat tails of returns: -> scalar."""
    return jnp.mean(optax.huber_loss(prediction, target, delta=1.0))


def pinball_terms(error: Any, quantile: Any) -> Any:
    """Elementwise pinball (quantile) loss of ``error = actual - forecast``: ``q * e`` if ``e >= 0``, else ``(q - 1) * e``.

    The one definition of the pinball loss: ``pinball`` (training) and
    ``jaxlstm.metrics.pinball_loss`` (scoring) both average it.

    Args:
        error: any shape, ``actual - forecast``.
        quantile: the forecast's quantile level in (0, 1), a scalar or broadcastable to ``error``.

    Numpy in, numpy out (host scoring compiles nothing); a JAX array or tracer, ``jax.numpy``.
    """
    xp = jnp if isinstance(error, jax.Array) or isinstance(quantile, jax.Array) else np
    return xp.maximum(quantile * error, (quantile - 1.0) * error)


def pinball(prediction: jax.Array, target: jax.Array, quantile: Any = 0.5) -> jax.Array:
    """Mean pinball loss of one example's ``quantile`` forecast: ``[output]``, ``[output]`` -> scalar."""
    return jnp.mean(pinball_terms(target - prediction, quantile))


@dataclasses.dataclass(frozen=True)
class QuantileLoss:
    """Point forecast plus quantile heads: squared error on the point, pinball loss on each quantile.

    The network emits ``[(1 + Q) * H]`` values per window: the ``H`` point forecasts first
    (what a forecast reads), then ``H`` values per quantile in ``quantiles`` order; the
    target is ``[H]``. The loss is ``mse(point, target) + sum_q pinball(head_q, target, q)``,
    so a network trained with it forecasts as one trained with ``mse`` would, plus the
    heads. Static and hashable: it is a ``fit_arrays(loss=...)``.

    Attributes:
        quantiles: the levels of the heads, each in (0, 1).
    """

    quantiles: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.quantiles, tuple) or not self.quantiles:
            raise TypeError(f"quantiles must be a non-empty tuple of floats in (0, 1), got {self.quantiles!r}")
        for q in self.quantiles:
            validation.check_fraction("quantiles", q)

    def split(self, prediction: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``[(1 + Q) * H]`` -> ``(point [H], heads [Q, H])``."""
        rows = prediction.reshape((1 + len(self.quantiles), -1))
        return rows[0], rows[1:]

    def __call__(self, prediction: jax.Array, target: jax.Array) -> jax.Array:
        point, heads = self.split(prediction)
        levels = jnp.asarray(self.quantiles, heads.dtype)[:, None]
        return mse(point, target) + jnp.sum(jnp.mean(pinball_terms(target[None, :] - heads, levels), axis=-1))


def _apply_fn(network: Any) -> Callable[[Params, jax.Array], jax.Array]:
    return network.apply if hasattr(network, "apply") else network


def weighted_loss(
    params: Params,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array | None = None,
    *,
    network: Any = None,
    loss: Loss = mse,
) -> jax.Array:
    """Weighted mean of ``loss`` over a batch of windows.

    Args:
        params: the network's params.
        xs: ``[batch, time, features]`` inputs; ys: ``[batch, output]`` targets.
        weights: optional ``[batch]`` non-negative row weights (0 masks a padded row).
        network: an object with ``apply(params, x)`` for one window, or such a function;
            None: the LSTM of ``params``.
        loss: per-example loss ``loss(prediction, target) -> scalar``.

    Returns:
        ``sum_b w_b * loss_b / sum_b w_b`` (a plain mean without weights).
    """
    apply = lstm.apply_one if network is None else _apply_fn(network)
    per_row = jax.vmap(lambda x, y: loss(apply(params, x), y))(xs, ys)
    if weights is None:
        return jnp.mean(per_row)
    return jnp.sum(weights * per_row) / jnp.maximum(jnp.sum(weights), 1e-12)


@functools.lru_cache(maxsize=64)
def make_optimizer(cfg: TrainConfig = TrainConfig()) -> optax.GradientTransformation:
    """Adam (AdamW with ``weight_decay``), after optional global-norm clipping.

    The learning rate and weight decay are injected hyper-parameters: they live in the
    optimiser state (``state.hyperparams`` of the last transformation), so models stacked
    for one compiled call may each carry their own (see ``with_hyperparams``). The result
    is cached per settings, so every fit with the same settings passes the same static
    optimiser and reuses one compilation.
    """
    if cfg.weight_decay:
        inner = optax.inject_hyperparams(optax.adamw)(learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay)
    else:
        inner = optax.inject_hyperparams(optax.adam)(learning_rate=cfg.learning_rate)
    if cfg.max_grad_norm is None:
        return inner
    return optax.chain(optax.clip_by_global_norm(cfg.max_grad_norm), inner)


def with_hyperparams(opt_state: Any, **values: Any) -> Any:
    """Sets injected hyper-parameters (``learning_rate``, ``weight_decay``) in an optimiser state.

    Args:
        opt_state: a state of ``make_optimizer(...)`` (possibly stacked over models).
        **values: new values, scalars or ``[models]`` arrays.

    Returns:
        The state with those hyper-parameters replaced (cast to their dtype and shape).
    """

    found = []

    def visit(state: Any) -> Any:
        if hasattr(state, "hyperparams") and hasattr(state, "_replace"):
            hyper = dict(state.hyperparams)
            for name, value in values.items():
                if name not in hyper:
                    raise ValueError(f"the optimiser has no hyper-parameter {name!r}; it has {sorted(hyper)}")
                old = jnp.asarray(hyper[name])
                hyper[name] = jnp.broadcast_to(jnp.asarray(value, old.dtype), old.shape)
            found.append(state)
            return state._replace(hyperparams=hyper)
        if isinstance(state, tuple) and not hasattr(state, "_fields"):
            return tuple(visit(s) for s in state)
        return state

    out = visit(opt_state)
    if values and not found:
        raise ValueError(
            "opt_state has no injected hyper-parameters; build the optimiser with make_optimizer "
            "(optax.inject_hyperparams) to set them per model"
        )
    return out


def init_opt_state(optimizer: optax.GradientTransformation, params: Params, **hyperparams: Any) -> Any:
    """The optimiser state ``fit_arrays`` starts from, with injected hyper-parameters set.

    Args:
        optimizer: from ``make_optimizer`` (for hyper-parameters) or any Optax transformation.
        params: the initial params (the state belongs to their flat vector, as in ``fit_arrays``).
        **hyperparams: e.g. ``learning_rate=3e-4`` (see ``with_hyperparams``).

    Returns:
        ``optimizer.init`` of the flattened params, hyper-parameters replaced.
    """
    state = optimizer.init(_flatten(params)[0])
    return with_hyperparams(state, **hyperparams) if hyperparams else state


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


def _epoch_order(key: jax.Array, weights: jax.Array, count: int | None = None) -> jax.Array:
    """The row order of one shuffled epoch: the weighted rows in a random order, then the zero-weight rows.

    ``count``: only the first ``count`` rows of that order (a sampled epoch), found by
    ``lax.top_k``, which breaks ties as the stable sort does, without sorting every row
    (262,144 rows: 31 ms against 87 ms on this CPU).

    The ``i``-th weighted row's sort key is drawn from ``fold_in(key, i)`` (``i`` counts
    weighted rows only), so the order of the weighted rows does not depend on how many
    padding rows follow them or lie between them: a model padded to a larger shape bucket
    sees the same minibatches as the unpadded model (the extra batches hold only padding
    and are skipped), and so do windows split into equal padded blocks across processes
    (``forecasters.global_processes``). Where every weighted row comes first (every fit of
    one process) ``i`` is the row's index.
    """
    rows = jnp.cumsum(weights > 0) - 1
    draws = jax.vmap(lambda i: jax.random.uniform(jax.random.fold_in(key, i)))(rows)
    ranked = jnp.where(weights > 0, draws, 2.0)
    if count is not None and count < ranked.shape[0]:
        return jax.lax.top_k(-ranked, count)[1]
    return jnp.argsort(ranked, stable=True)


#: The mesh axis a global model's windows are split over across processes (``forecasters.global_processes``).
WINDOWS_AXIS = "windows"


def spread_batch(batch: Any) -> Any:
    """A minibatch split over the ``WINDOWS_AXIS`` devices when traced under a mesh that has one (else as it is).

    Under ``jax.set_mesh`` of a mesh with that axis (a global model trained across
    processes), each device then computes the loss and gradient of its part of every
    minibatch and XLA sums the gradients with an all-reduce: data parallelism. Every other
    trace sees no such mesh, and this is the identity.
    """
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or WINDOWS_AXIS not in mesh.axis_names:
        return batch
    spec = jax.sharding.PartitionSpec(WINDOWS_AXIS)
    return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, spec), batch)


def _epoch(
    optimizer: optax.GradientTransformation,
    loss_fn: Callable[..., jax.Array],
    params: Any,
    opt_state: Any,
    key: jax.Array,
    data: TrainData,
    batch_size: int,
    shuffle: bool,
    epoch_windows: int | None = None,
) -> tuple[Any, Any, jax.Array]:
    """One pass over the (shuffled) training rows as a ``lax.scan`` over minibatches.

    A minibatch whose weights are all 0 (padding only) takes no optimiser step: Adam would
    move the params even with a zero gradient (its moments decay), and its step count would
    differ from the unpadded run's. Each step's loss is normalised by its batch's weight sum.
    ``epoch_windows`` (``TrainConfig``) ends the pass after the minibatches that hold that
    many windows of the shuffled order (its weighted rows come first).
    """
    xs, ys, weights = data.xs, data.ys, data.weights
    n = xs.shape[0]
    batch_size = min(batch_size, n)
    num_batches = epoch_batches(n, batch_size, epoch_windows)
    sampled = num_batches * batch_size <= n and num_batches < math.ceil(n / batch_size)
    taken = num_batches * batch_size if sampled else None
    order = _epoch_order(key, weights, taken) if shuffle else jnp.arange(n)
    if sampled:
        # A sample of the windows: the first whole minibatches of the shuffled order.
        order = order[: num_batches * batch_size].reshape(num_batches, batch_size)
        batch_weights = weights[order]
        total = jnp.sum(batch_weights)
    else:
        pad = num_batches * batch_size - n
        order = jnp.concatenate([order, jnp.zeros((pad,), order.dtype)]).reshape(num_batches, batch_size)
        real = jnp.concatenate([jnp.ones((n,), weights.dtype), jnp.zeros((pad,), weights.dtype)])
        batch_weights = (weights[order.reshape(-1)] * real).reshape(num_batches, batch_size)
        total = jnp.sum(weights)
    loss_type = jax.eval_shape(loss_fn, params, xs[:batch_size], ys[:batch_size], batch_weights[0])

    def update(state, batch):
        params, opt_state = state
        idx, w = batch
        loss, grads = jax.value_and_grad(loss_fn)(params, *spread_batch((xs[idx], ys[idx], w)))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss * jnp.sum(w)

    def skip(state, batch):
        return state, jnp.zeros(loss_type.shape, loss_type.dtype)

    def step(state, batch):
        # lax.cond skips the padding batches' work in a lone fit; under vmap it is a select.
        return jax.lax.cond(jnp.sum(batch[1]) > 0, update, skip, state, batch)

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (order, batch_weights))
    return params, opt_state, jnp.sum(losses) / jnp.maximum(total, 1e-12)


def epoch_batches(n: int, batch_size: int, epoch_windows: int | None = None) -> int:
    """Minibatches (optimiser steps at most) of one epoch on ``n`` windows (``TrainConfig.epoch_windows``)."""
    batches = max(1, math.ceil(n / batch_size))
    return batches if epoch_windows is None else min(batches, max(1, math.ceil(epoch_windows / batch_size)))


def _report(callback: Callable[..., None], running: Any, *args: Any) -> None:
    # The fixed-epoch scan keeps stepping (with its state frozen) after a non-finite stop;
    # those epochs are not reported.
    if bool(running):
        callback(*args)


class _LoopState(NamedTuple):
    epoch: jax.Array
    params: Any
    opt_state: Any
    best_params: Any
    best_loss: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    reason: jax.Array
    train_hist: jax.Array
    val_hist: jax.Array


def fit_arrays(
    key: jax.Array,
    params: Params,
    data: TrainData,
    config: TrainConfig = TrainConfig(),
    *,
    network: Any = None,
    loss: Loss = mse,
    optimizer: optax.GradientTransformation | None = None,
    opt_state: Any = None,
    callback: Callable[..., None] | None = None,
    callback_tag: jax.Array | None = None,
    max_epochs: Any = None,
) -> TrainResult:
    """A whole training run as one traceable function: jit it (settings static), vmap it, differentiate it.

    With ``config.patience=None`` and no ``loss_threshold`` the epochs run in a
    ``lax.scan``, so ``jax.grad`` goes through the whole run: differentiate a loss of the
    trained params with respect to the initial ``params``, the data, or hyper-parameters
    (a learning rate in ``opt_state`` of ``make_optimizer``, see ``init_opt_state``, or in an
    ``optimizer`` built from a traced value). Early stopping needs a ``lax.while_loop``,
    which stops early but which reverse-mode differentiation cannot go through.

    Padding rows change nothing: an epoch's shuffled order ranks the rows by keys drawn per
    weighted row (``fold_in(key, i)``, ``i`` counting weighted rows) with zero-weight rows last, a minibatch of zero-weight rows
    only takes no optimiser step, and losses are normalised by the sum of the weights; so
    data padded with zero-weight rows to a larger shape trains exactly as the unpadded data
    (to float rounding).

    Args:
        key: PRNG key for the per-epoch shuffles (same key and data, same params).
        params: initial params.
        data: ``TrainData`` of JAX or numpy arrays; validation rows may be absent
            (``m == 0``) or all weight 0, and then the training loss is monitored and the
            validation history is NaN.
        config: static ``TrainConfig``.
        network: ``apply(params, x)`` for one window, as a function or an object with that
            method (``LSTMConfig``); None: the LSTM of ``params``. Static.
        loss: per-example loss (``mse``, ``mae``, ``huber`` or your own). Static.
        optimizer: an Optax transformation; None: ``make_optimizer(config)``. Static.
        opt_state: the optimiser state to continue from (``TrainResult.opt_state`` of an
            earlier run with the same optimiser); None starts fresh.
        callback: ``callback(epoch, train_loss, val_loss)`` after every epoch, from inside
            the compiled loop (progress bars). Static; None for none.
        callback_tag: when given, the callback is called as ``callback(tag, epoch, ...)``,
            so one static callback can route the progress of many concurrent fits.
        max_epochs: None, or an integer (traced is fine: one compiled program for every
            value) that stops the run after ``min(max_epochs, config.epochs)`` epochs, as
            ``config.epochs`` would (stop reason ``MAX_EPOCHS``). Given, the epochs run in
            the while loop, which ``jax.grad`` cannot go through.

    Returns:
        A ``TrainResult`` of arrays; histories are ``[epochs]``, NaN past ``epochs_run``.
        Inside the loop the params travel as one flat vector (when all leaves share a
        dtype), so ``opt_state`` is the state of that vector.

    Example (a hyper-gradient; early stopping off)::

        def val_loss(lr):
            out = fit_arrays(key, params, data, TrainConfig(epochs=5, patience=None), optimizer=optax.adam(lr))
            return weighted_loss(out.params, data.xs_val, data.ys_val)

        d_lr = jax.grad(val_loss)(1e-2)
    """
    check_train_data(data)
    optimizer = make_optimizer(config) if optimizer is None else optimizer
    apply = lstm.apply_one if network is None else _apply_fn(network)
    if loss in (mse, mae, huber):  # elementwise: a target of another shape would broadcast
        check_network_fits(apply, params, data)
    cfg = config
    # The loop carries the params as one flat vector: Adam, the finiteness check and the
    # best/last selections then act on one array instead of one per leaf, which removes
    # dozens of small kernels from the compiled program (compile time 5-15% lower in
    # A/B runs, run time unchanged, results equal up to float rounding). The network sees
    # the usual pytree through ``unravel``, whose gradient is exact.
    flat, unravel = _flatten(params)
    loss_fn = lambda p, x, y, w: weighted_loss(unravel(p), x, y, w, network=apply, loss=loss)
    # numpy rows become arrays: the minibatches index them with traced row numbers.
    data = TrainData(*(jnp.asarray(a) for a in data))
    xs = data.xs
    has_val = data.xs_val.shape[0] > 0
    patience = cfg.patience if cfg.patience is not None else cfg.epochs + 1
    nan_hist = jnp.full((cfg.epochs,), jnp.nan, xs.dtype)
    inf = jnp.asarray(jnp.inf, xs.dtype)
    # Decided per model, not per shape, so a vmapped model whose validation rows are all
    # padding monitors its training loss instead of a constant zero that would stop it early.
    val_present = jnp.sum(data.weights_val) > 0

    limit = cfg.epochs if max_epochs is None else jnp.minimum(jnp.asarray(max_epochs), cfg.epochs)

    def cond(s: _LoopState) -> jax.Array:
        return (s.epoch < limit) & (s.reason < 0)

    def body(s: _LoopState) -> _LoopState:
        """One epoch and its bookkeeping: the one body of both the while loop and the scan."""
        epoch_key = jax.random.fold_in(key, s.epoch)
        params, opt_state, train_loss = _epoch(
            optimizer, loss_fn, s.params, s.opt_state, epoch_key, data, cfg.batch_size, cfg.shuffle, cfg.epoch_windows
        )
        nan = jnp.asarray(jnp.nan, xs.dtype)
        if has_val:
            val_loss = jnp.where(val_present, loss_fn(params, data.xs_val, data.ys_val, data.weights_val), nan)
            monitored = jnp.where(val_present, val_loss, train_loss)
        else:
            val_loss, monitored = nan, train_loss
        finite = jnp.isfinite(train_loss) & jnp.isfinite(monitored) & _all_finite(params)
        improved = finite & (monitored < s.best_loss - cfg.min_delta)
        wait = jnp.where(improved, 0, s.wait + 1)
        reason = jnp.where(~finite, int(StopReason.NON_FINITE_LOSS), -1)
        if cfg.loss_threshold is not None:
            reason = jnp.where(finite & (train_loss < cfg.loss_threshold), int(StopReason.LOSS_THRESHOLD), reason)
        if cfg.patience is not None:
            reason = jnp.where(finite & (reason < 0) & (wait >= patience), int(StopReason.EARLY_STOPPING), reason)
        if callback is not None:
            # Unordered: ordered effects would serialise every fit of the process on one token.
            args = (s.epoch + 1, train_loss, val_loss)
            report = functools.partial(_report, callback)
            jax.debug.callback(report, s.reason < 0, *(args if callback_tag is None else (callback_tag, *args)))
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
        params=flat,
        opt_state=optimizer.init(flat) if opt_state is None else opt_state,
        best_params=flat,
        best_loss=inf,
        best_epoch=jnp.asarray(0),
        wait=jnp.asarray(0),
        reason=jnp.asarray(-1),
        train_hist=nan_hist,
        val_hist=nan_hist,
    )
    if cfg.patience is None and cfg.loss_threshold is None and max_epochs is None:
        # A fixed number of epochs: a scan, which reverse-mode differentiation goes through
        # (a while_loop's trip count is data-dependent, so jax.grad cannot). After a
        # non-finite epoch the state stays frozen, as the while loop would have stopped.
        def scan_body(s: _LoopState, _: None) -> tuple[_LoopState, None]:
            new = body(s)
            return jax.tree.map(lambda a, b: jnp.where(s.reason < 0, a, b), new, s), None

        s, _ = jax.lax.scan(scan_body, init, None, length=cfg.epochs)
    else:
        s = jax.lax.while_loop(cond, body, init)
    reason = jnp.where(s.reason < 0, int(StopReason.MAX_EPOCHS), s.reason)
    if cfg.restore_best:
        use_best = s.best_epoch > 0
        out = jax.tree.map(lambda b, p: jnp.where(use_best, b, p), s.best_params, s.params)
        best_epoch = jnp.where(use_best, s.best_epoch, s.epoch)
    else:
        out, best_epoch = s.params, s.epoch
    return TrainResult(unravel(out), s.opt_state, s.train_hist, s.val_hist, s.epoch, best_epoch, reason)


_STATIC = ("config", "network", "loss", "optimizer", "callback")
fit_arrays_jit = jax.jit(fit_arrays, static_argnames=_STATIC, compiler_options=COMPILER_OPTIONS)
"""``fit_arrays`` compiled once per shapes and static settings (what the library calls)."""


def to_host(result: TrainResult) -> TrainResult:
    """A ``fit_arrays`` result with histories trimmed to the epochs run and a ``StopReason``.

    Works on one model's result; for a stacked result use ``unstack``.
    """
    epochs_run = int(result.epochs_run)
    return TrainResult(
        params=result.params,
        opt_state=result.opt_state,
        train_loss=np.asarray(result.train_loss)[:epochs_run],
        val_loss=np.asarray(result.val_loss)[:epochs_run],
        epochs_run=epochs_run,
        best_epoch=int(result.best_epoch),
        stop_reason=StopReason(int(result.stop_reason)),
    )


def unstack(result: TrainResult, index: int) -> TrainResult:
    """Model ``index`` of a result with a leading models axis, as ``to_host`` gives it."""
    pick = lambda tree: jax.tree.map(lambda a: a[index], tree)
    return to_host(TrainResult(pick(result.params), pick(result.opt_state), *(a[index] for a in result[2:])))


def check_train_data(data: Any) -> None:
    """Refuses a ``TrainData`` whose shapes disagree (``ValueError`` naming the fields), checked when traced too.

    Shapes are static, so this holds under ``jit`` and ``vmap``; values are checked only when
    concrete (a traced weight cannot be inspected): no training row, or negative or
    non-finite weights, are refused.
    """
    if not isinstance(data, TrainData):
        raise TypeError(f"data must be a TrainData, got {type(data).__name__}")
    shapes = {field: np.shape(value) for field, value in zip(TrainData._fields, data, strict=True)}
    ranks = {"xs": 3, "ys": 2, "weights": 1, "xs_val": 3, "ys_val": 2, "weights_val": 1}
    wrong = [
        f"data.{field} {shapes[field]} (expected {rank}-D)"
        for field, rank in ranks.items()
        if len(shapes[field]) != rank
    ]
    if wrong:
        raise ValueError(
            f"data must hold [n, time, features] xs, [n, output] ys and [n] weights: got {', '.join(wrong)}"
        )
    for part in ("", "_val"):
        rows = {shapes[f"{field}{part}"][0] for field in ("xs", "ys", "weights")}
        if len(rows) > 1:
            sizes = ", ".join(f"data.{field}{part} {shapes[field + part]}" for field in ("xs", "ys", "weights"))
            raise ValueError(f"data's {'validation' if part else 'training'} rows must agree in number: got {sizes}")
    if shapes["xs"][0] == 0:
        raise ValueError("data must hold at least one training row, got data.xs of shape " + str(shapes["xs"]))
    if shapes["xs_val"][0] and (shapes["xs_val"][1:] != shapes["xs"][1:] or shapes["ys_val"][1:] != shapes["ys"][1:]):
        raise ValueError(
            f"data's validation rows must have the training rows' shape: got xs_val {shapes['xs_val']} and ys_val "
            f"{shapes['ys_val']} for xs {shapes['xs']} and ys {shapes['ys']}"
        )
    if not any(isinstance(w, jax.core.Tracer) for w in (data.weights, data.weights_val)):
        for field in ("weights", "weights_val"):
            weights = np.asarray(getattr(data, field))
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError(f"data.{field} must be finite and >= 0, got min {np.min(weights)}")
        if not np.any(np.asarray(data.weights) > 0):
            raise ValueError("data.weights must give weight to at least one training row, got all 0")


def check_network_fits(apply: Callable[[Params, jax.Array], jax.Array], params: Params, data: TrainData) -> None:
    """Refuses ``data`` whose windows the network cannot read or whose targets are not its output's shape.

    Shapes only (``jax.eval_shape``: nothing is computed), so it holds under ``jit`` too. A
    target row of another shape than the output was broadcast against it by an elementwise
    loss: ``[n, 3]`` targets trained a one-output network toward their mean.
    """
    abstract = lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.result_type(a))
    window = jax.ShapeDtypeStruct(np.shape(data.xs)[1:], jnp.result_type(data.xs))
    try:
        out = jax.eval_shape(apply, jax.tree.map(abstract, params), window)
    except (TypeError, ValueError) as err:
        raise ValueError(f"data.xs windows {window.shape} do not fit the network's params: {err}") from None
    if tuple(out.shape) != tuple(np.shape(data.ys)[1:]):
        raise ValueError(
            f"data.ys rows must have the network's output shape {tuple(out.shape)}, got data.ys {np.shape(data.ys)}"
        )


def check_training_data(
    name: str, xs: Any, ys: Any, input_size: int | None, output_size: int | None, dtype: Any
) -> tuple[jax.Array, jax.Array]:
    """Validates ``[n, time, features]`` inputs and ``[n, output]`` targets; returns them as ``dtype``."""
    if not isinstance(xs, jax.Array):
        xs = validation.as_float_array(f"{name}xs", xs, ndim=3, dtype=np.dtype(dtype))
    if not isinstance(ys, jax.Array):
        ys = validation.as_float_array(f"{name}ys", ys, ndim=2, dtype=np.dtype(dtype))
    features = "features" if input_size is None else input_size
    if xs.ndim != 3 or (input_size is not None and xs.shape[-1] != input_size):
        raise ValueError(f"{name}xs must be [batch, time, {features}], got shape {xs.shape}")
    if ys.ndim != 2 or ys.shape[0] != xs.shape[0] or (output_size is not None and ys.shape[1] != output_size):
        out = "output" if output_size is None else output_size
        raise ValueError(f"{name}ys must be [{xs.shape[0]}, {out}], got shape {ys.shape}")
    if not bool(jnp.all(jnp.isfinite(xs))) or not bool(jnp.all(jnp.isfinite(ys))):
        raise ValueError(f"{name}xs and {name}ys must be finite, got NaN/inf")
    return jnp.asarray(xs, dtype), jnp.asarray(ys, dtype)


def train(
    key: jax.Array,
    params: Params,
    xs: Any,
    ys: Any,
    cfg: TrainConfig = TrainConfig(),
    *,
    validation_data: tuple[Any, Any] | None = None,
    sample_weight: Any = None,
    network: Any = None,
    loss: Loss = mse,
    optimizer: optax.GradientTransformation | None = None,
    callback: Callable[[Any, Any, Any], None] | None = None,
) -> TrainResult:
    """Trains ``params`` on windows with Adam, minibatches and early stopping, in one compiled call.

    The host-side convenience over ``fit_arrays``: checks the arguments, runs the compiled
    loop and returns host values.

    Args:
        key: PRNG key for the per-epoch shuffles (same key and data, same params).
        params: initial params (``init_params`` for the LSTM).
        xs: ``[n, time, features]`` training windows; ys: ``[n, output]`` targets.
        cfg: ``TrainConfig``.
        validation_data: ``(xs_val, ys_val)`` monitored for early stopping; without it the
            training loss is monitored.
        sample_weight: optional ``[n]`` non-negative weights (0 masks a row).
        network, loss, optimizer: as in ``fit_arrays``.
        callback: ``callback(epoch, train_loss, val_loss)`` after each epoch.

    Returns:
        A ``TrainResult`` with histories trimmed to the epochs run, ints and a ``StopReason``.

    Example::

        cfg = TrainConfig(epochs=50)
        result = train(jax.random.key(0), init_params(jax.random.key(1), LSTMConfig()), xs, ys, cfg)
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    leaves = jax.tree.leaves(params)
    if not leaves:
        raise TypeError("params must be a pytree of arrays, got no leaves")
    if network is None:
        model_cfg = lstm.config_of(params)
        sizes: tuple[int | None, int | None] = (model_cfg.input_size, model_cfg.output_size)
        network = model_cfg
    else:
        sizes = (getattr(network, "input_size", None), getattr(network, "output_size", None))
    dtype = jnp.result_type(leaves[0])
    xs, ys = check_training_data("", xs, ys, *sizes, dtype)
    if sample_weight is None:
        weights = jnp.ones((xs.shape[0],), dtype)
    else:
        w = validation.as_float_array("sample_weight", sample_weight, ndim=1)
        if w.shape != (xs.shape[0],) or bool(np.any(w < 0)):
            raise ValueError(f"sample_weight must be [{xs.shape[0]}] non-negative, got shape {w.shape}")
        weights = jnp.asarray(w, dtype)
    if validation_data is None:
        xs_val, ys_val = jnp.zeros((0, *xs.shape[1:]), dtype), jnp.zeros((0, ys.shape[1]), dtype)
    else:
        xs_val, ys_val = check_training_data("validation_data ", *validation_data, *sizes, dtype)
        if xs_val.shape[1:] != xs.shape[1:] or ys_val.shape[1:] != ys.shape[1:]:
            raise ValueError(
                f"validation_data must match the training windows [*, {xs.shape[1]}, {xs.shape[2]}] and targets "
                f"[*, {ys.shape[1]}], got {xs_val.shape} and {ys_val.shape}"
            )
    data = TrainData(xs, ys, weights, xs_val, ys_val, jnp.ones((xs_val.shape[0],), dtype))
    result = fit_arrays_jit(key, params, data, cfg, network=network, loss=loss, optimizer=optimizer, callback=callback)
    result = to_host(result)
    if validation_data is None:
        result = result._replace(val_loss=np.zeros((0,)))
    return result
