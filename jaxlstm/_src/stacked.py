"""Many symbols at once: one independent model per symbol, trained in one compiled call.

``train_many`` is ``jax.vmap`` of ``train.train_arrays`` over a leading symbol axis ``S``:
every symbol keeps its own params, optimiser state, shuffling key, epoch counter and early
stopping. A vmapped ``lax.while_loop`` runs until the last model stops; the body still
computes for a model that has stopped, but its state is selected back unchanged, so a
stopped model ends as if it had been trained alone (to float rounding: batching can
reorder sums).

Ragged data is padded: ``stack_windows`` turns series of different lengths into
``[S, n_max, ...]`` arrays whose padding rows have weight 0. A zero-weight row adds nothing
to a loss or gradient, but padding can change how rows fall into minibatches, so a padded
symbol equals its lone run (to float rounding) only when the minibatches it sees are the
same: ``batch_size >= n_max``, or ``shuffle=False`` with
``ceil(n / batch_size) == ceil(n_max / batch_size)``. Otherwise the extra all-padding
minibatches still take Adam steps (zero gradient, but momentum moves the params) and the
shuffle permutes ``n_max`` rather than ``n`` rows: the model is trained on the same data
with a different minibatch schedule.

Cores: on one CPU device the symbols are split into blocks of a few symbols, each block a
vmapped call, run by one host thread per core (``workers``; see ``parallel``), because
XLA:CPU runs one call's loop on one core and a vmap over many small models gets slower
per model.

Devices: with more than one device (or an explicit ``devices`` list) the symbol axis is
sharded over a 1-D mesh named ``"symbols"``; ``S`` is padded to a multiple of the device
count with dummy symbols (all weights 0) that are dropped from the result. Each device
runs its own ``while_loop`` over its own block of symbols (``jax.shard_map``), so devices
never synchronise between epochs and a device whose models have all stopped is done.

Running across hosts (untested beyond simulated devices on a single host): the same code
runs under JAX's multi-controller model, with no engine of our own. On every host call
``jax.distributed.initialize()``, build the global mesh with
``jax.make_mesh((jax.device_count(),), ("symbols",), axis_types=(jax.sharding.AxisType.Auto,))``,
have each host prepare only its own slice of symbols (for example with ``stack_windows``;
every host must use the same ``n_max`` and ``m_max``, and the global ``S`` must be a
multiple of the device count, so pad on the host with zero-weight symbols), turn each
stacked argument into a global array with
``jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("symbols")), local)``
and call ``train_many_arrays(..., mesh=mesh)`` with the same arguments on every host.
Outputs are global arrays; each host reads its own rows through ``addressable_shards``.
``train_many`` itself reads its inputs and outputs on the host, so it is for one host.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlstm._src import parallel, validation
from jaxlstm._src import training as train_lib
from jaxlstm._src.nn import lstm as model_lib
from jaxlstm._src.xla_options import COMPILER_OPTIONS

Params = model_lib.Params

SYMBOL_AXIS = "symbols"


class StackedWindows(NamedTuple):
    """Windows of several series, padded to common shapes (numpy, ready for ``train_many``).

    Attributes:
        xs: ``[S, n_max, window, 1]`` training windows; padding rows are 0.
        ys: ``[S, n_max, 1]`` training targets.
        weights: ``[S, n_max]`` 1 for a real row, 0 for padding.
        xs_val: ``[S, m_max, window, 1]`` validation windows (the last ones in time).
        ys_val: ``[S, m_max, 1]`` validation targets.
        weights_val: ``[S, m_max]`` 1 for a real row, 0 for padding.
        n_train: ``[S]`` real training rows of each symbol.
        n_val: ``[S]`` real validation rows of each symbol (>= 1).
    """

    xs: np.ndarray
    ys: np.ndarray
    weights: np.ndarray
    xs_val: np.ndarray
    ys_val: np.ndarray
    weights_val: np.ndarray
    n_train: np.ndarray
    n_val: np.ndarray


class ManyTrainResult(NamedTuple):
    """What ``train_many`` returns, one entry per symbol along the leading axis.

    Attributes:
        params: the params pytree with a leading ``[S]`` axis (best monitored epoch of each
            symbol when ``restore_best``). On several devices the arrays stay on those
            devices: sharded along ``"symbols"`` when ``S`` is a multiple of the device
            count; otherwise the dummy symbols are sliced off, and as a JAX array must
            tile evenly, the result is replicated over the same devices.
        train_loss: ``[S, epochs]`` mean training loss per epoch, NaN from ``epochs_run[s]``
            on (the histories are stacked, so the epochs a symbol did not run are NaN).
        val_loss: ``[S, epochs]`` validation loss per epoch, NaN from ``epochs_run[s]`` on,
            and NaN throughout for a symbol with no validation weight (its training loss
            is monitored instead) or when there are no validation rows at all.
        epochs_run: ``[S]`` int epochs completed.
        best_epoch: ``[S]`` int 1-based epoch whose params were kept.
        stop_reason: ``S`` strings from ``train.STOP_REASONS``.
    """

    params: Params
    train_loss: np.ndarray
    val_loss: np.ndarray
    epochs_run: np.ndarray
    best_epoch: np.ndarray
    stop_reason: list[str]


def stack_windows(
    series_list: Sequence[Any], window: int, validation_fraction: float, *, dtype: Any = np.float32
) -> StackedWindows:
    """Windows every series, splits each chronologically and pads them to common shapes.

    Each series gives ``count = len - window`` windows (as ``windows.sliding_windows``);
    its last ``max(1, round(validation_fraction * count))`` windows are its validation
    rows, the others its training rows (at least 1 of each).

    Args:
        series_list: ``S`` one-dimensional, already scaled, finite series of any lengths.
        window: window length (>= 1).
        validation_fraction: share of each symbol's windows kept for validation, in (0, 1).
        dtype: float dtype of the returned arrays.

    Returns:
        A ``StackedWindows`` with ``n_max`` (``m_max``) the largest training (validation)
        count; rows past a symbol's own count are zero with weight 0.
    """
    window = validation.check_positive_int("window", window)
    validation_fraction = validation.check_fraction("validation_fraction", validation_fraction)
    if isinstance(series_list, (str, bytes)) or not isinstance(series_list, Sequence):
        raise TypeError(f"series_list must be a list of 1-D arrays, got {type(series_list).__name__}")
    if len(series_list) == 0:
        raise ValueError("series_list must hold at least one series, got an empty sequence")
    series = [validation.as_float_array(f"series_list[{i}]", s, ndim=1) for i, s in enumerate(series_list)]
    counts = np.array([s.shape[0] - window for s in series])
    for i, (s, count) in enumerate(zip(series, counts)):
        if count < 2:
            raise ValueError(
                f"series_list[{i}] must have at least window + 2 = {window + 2} values to give one "
                f"training and one validation window, got {s.shape[0]}"
            )
    n_val = np.maximum(1, np.round(validation_fraction * counts).astype(int))
    n_val = np.minimum(n_val, counts - 1)
    n_train = counts - n_val
    num, n_max, m_max = len(series), int(n_train.max()), int(n_val.max())

    xs = np.zeros((num, n_max, window, 1), dtype)
    ys = np.zeros((num, n_max, 1), dtype)
    xs_val = np.zeros((num, m_max, window, 1), dtype)
    ys_val = np.zeros((num, m_max, 1), dtype)
    offsets = np.arange(window)
    for s, (values, n, m) in enumerate(zip(series, n_train, n_val)):
        starts = np.arange(n + m)
        windows = values[starts[:, None] + offsets[None, :]]
        targets = values[starts + window]
        xs[s, :n, :, 0], ys[s, :n, 0] = windows[:n], targets[:n]
        xs_val[s, :m, :, 0], ys_val[s, :m, 0] = windows[n:], targets[n:]
    weights = (np.arange(n_max)[None, :] < n_train[:, None]).astype(dtype)
    weights_val = (np.arange(m_max)[None, :] < n_val[:, None]).astype(dtype)
    return StackedWindows(xs, ys, weights, xs_val, ys_val, weights_val, n_train, n_val)


def _train_many_arrays(
    keys: jax.Array,
    params: Params,
    xs: jax.Array,
    ys: jax.Array,
    weights: jax.Array,
    xs_val: jax.Array,
    ys_val: jax.Array,
    weights_val: jax.Array,
    cfg: train_lib.TrainConfig,
    mesh: Mesh | None = None,
) -> tuple[Params, jax.Array, jax.Array, jax.Array, jax.Array, jax.Array]:
    """The compiled core of ``train_many``: no checks, no padding, outputs left on device.

    Compiled once per shapes, dtypes, ``cfg`` and ``mesh``. For callers that build their
    own (possibly multi-host, see the module docstring) global arrays.

    Args:
        keys: ``[S]`` typed PRNG keys.
        params: params pytree, every leaf with a leading ``[S]`` axis.
        xs, ys, weights: ``[S, n, time, features]``, ``[S, n, output]``, ``[S, n]``.
        xs_val, ys_val, weights_val: ``[S, m, time, features]``, ``[S, m, output]``,
            ``[S, m]`` (``m`` may be 0).
        cfg: ``TrainConfig`` (static).
        mesh: ``None`` to run where the inputs are, or a mesh with one axis named
            ``"symbols"`` whose size divides ``S``.

    Returns:
        ``(params, train_hist [S, epochs], val_hist [S, epochs], epochs_run [S],
        best_epoch [S], reason [S])``, as ``train.train_arrays`` per symbol.
    """

    def run_block(*arrays):
        return jax.vmap(lambda *one: train_lib.train_arrays(*one, cfg))(*arrays)

    arrays = (keys, params, xs, ys, weights, xs_val, ys_val, weights_val)
    if mesh is None:
        return run_block(*arrays)
    # shard_map rather than sharding annotations alone: each device then loops over its own
    # block until its own models stop, instead of all-reducing the loop condition every epoch.
    # The block has no collectives, so the varying-axes check is off: it would otherwise
    # reject the model's constant zero initial carries inside scans over varying data.
    spec = PartitionSpec(SYMBOL_AXIS)
    sharded = jax.shard_map(run_block, mesh=mesh, in_specs=(spec,) * len(arrays), out_specs=spec, check_vma=False)
    return sharded(*arrays)


train_many_arrays = jax.jit(_train_many_arrays, static_argnames=("cfg", "mesh"), compiler_options=COMPILER_OPTIONS)


def _as_stacked(name: str, value: Any, ndim: int, dtype: Any) -> jax.Array:
    if isinstance(value, jax.Array):
        if value.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D with a leading symbol axis, got shape {value.shape}")
        if not bool(jnp.all(jnp.isfinite(value))):
            raise ValueError(f"{name} must be finite, got NaN/inf values")
        return value.astype(dtype)
    arr = validation.as_float_array(name, value, ndim=ndim, dtype=np.dtype(dtype))
    return jnp.asarray(arr)


def _check_shape(name: str, shape: tuple[int, ...], expected: tuple[int | None, ...], meaning: str) -> None:
    if len(shape) != len(expected) or any(e is not None and e != got for e, got in zip(expected, shape)):
        want = ", ".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{name} must be [{meaning}] = [{want}], got shape {shape}")


def _pad_symbols(arrays: tuple[Any, ...], multiple: int) -> tuple[Any, ...]:
    """Pads the symbol axis with dummy symbols that carry only zero-weight rows.

    A dummy trains on nothing; its key and params are copies of symbol 0 because any valid
    values will do.
    """
    head, data = arrays[:2], arrays[2:]
    head, pad = parallel.pad_leading(head, multiple, parallel.repeat_first)
    data, _ = parallel.pad_leading(data, multiple, lambda a, k: jnp.zeros((k, *a.shape[1:]), a.dtype))
    return (*head, *data)


def _make_mesh(devices: Sequence[Any] | None) -> Mesh | None:
    if devices is None:
        devices = jax.devices()
        if len(devices) == 1:
            return None
    devices = list(devices)
    if not devices:
        raise ValueError("devices must list at least one device, got an empty sequence")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices must be jax.Device objects, got {[type(d).__name__ for d in devices]}")
    return jax.make_mesh((len(devices),), (SYMBOL_AXIS,), axis_types=(AxisType.Auto,), devices=devices)


def train_many(
    keys: jax.Array,
    params: Params,
    xs: Any,
    ys: Any,
    weights: Any,
    xs_val: Any,
    ys_val: Any,
    weights_val: Any,
    cfg: train_lib.TrainConfig = train_lib.TrainConfig(),
    *,
    devices: Sequence[jax.Device] | None = None,
    workers: int | None = None,
) -> ManyTrainResult:
    """Trains one independent model per symbol, compiled once (vmap over blocks of symbols, optionally sharded).

    Symbol ``s`` is trained exactly as ``train.train_arrays`` would train it alone on row
    ``s`` of every argument (see the module docstring for when padding rows change the
    minibatch schedule). A symbol whose validation weights are all 0 monitors its training
    loss, as ``train.train`` does without ``validation_data``; its ``val_loss`` is NaN.

    Args:
        keys: ``[S]`` typed PRNG keys (``jax.random.split(jax.random.key(0), S)``).
        params: params pytree with every leaf stacked on a leading ``[S]`` axis, e.g.
            ``jax.vmap(lambda k: init_params(k, model_cfg))(init_keys)``.
        xs: ``[S, n, time, features]`` training windows.
        ys: ``[S, n, output]`` targets.
        weights: ``[S, n]`` non-negative row weights; 0 marks a padding row.
        xs_val, ys_val, weights_val: the validation split, ``[S, m, time, features]``,
            ``[S, m, output]``, ``[S, m]``; ``m`` may be 0 (then training losses are monitored).
        cfg: ``TrainConfig`` shared by all symbols.
        devices: devices to shard the symbol axis over; ``None`` uses all visible devices
            (and plain vmap when there is only one).
        workers: on one CPU device, the symbols are split into blocks of a few symbols
            that this many host threads run at the same time (see ``parallel``);
            ``None``: one thread per available core (one call on a GPU); ``1``: one
            vmapped call. Values other than None and 1 are refused with several devices,
            where each device already runs its own block.

    Returns:
        A ``ManyTrainResult``; histories are ``[S, epochs]``, NaN past each ``epochs_run``.

    Example::

        data = stack_windows(scaled_series, window=20, validation_fraction=0.2)
        s = data.xs.shape[0]
        params = jax.vmap(lambda k: init_params(k, LSTMConfig()))(jax.random.split(jax.random.key(1), s))
        result = train_many(jax.random.split(jax.random.key(0), s), params, *data[:6], TrainConfig())
    """
    if not isinstance(cfg, train_lib.TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if not isinstance(keys, jax.Array) or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError(
            "keys must be a [S] array of typed PRNG keys (jax.random.split(jax.random.key(0), S)), "
            f"got {type(keys).__name__} of dtype {getattr(keys, 'dtype', None)}"
        )
    if keys.ndim != 1:
        raise ValueError(f"keys must be [S] typed keys, got shape {keys.shape}")
    num = keys.shape[0]
    model_cfg = model_lib.config_of(params)
    dtype = params["layers"][0]["w"].dtype
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        where = "params" + jax.tree_util.keystr(path)
        is_weight = path[-1] == jax.tree_util.DictKey("w")
        if jnp.ndim(leaf) != (3 if is_weight else 2) or jnp.shape(leaf)[0] != num:
            raise ValueError(
                f"{where} must be stacked with a leading symbol axis of S={num} (the length of keys), "
                f"got shape {jnp.shape(leaf)}"
            )

    xs = _as_stacked("xs", xs, 4, dtype)
    n, steps = xs.shape[1], xs.shape[2]
    _check_shape("xs", xs.shape, (num, None, None, model_cfg.input_size), "S, n, time, input_size")
    if n < 1 or steps < 1:
        raise ValueError(f"xs must have at least one window and one time step, got shape {xs.shape}")
    ys = _as_stacked("ys", ys, 3, dtype)
    _check_shape("ys", ys.shape, (num, n, model_cfg.output_size), "S, n, output_size")
    weights = _as_stacked("weights", weights, 2, dtype)
    _check_shape("weights", weights.shape, (num, n), "S, n")
    xs_val = _as_stacked("xs_val", xs_val, 4, dtype)
    m = xs_val.shape[1]
    _check_shape("xs_val", xs_val.shape, (num, m, steps, model_cfg.input_size), "S, m, time, input_size")
    ys_val = _as_stacked("ys_val", ys_val, 3, dtype)
    _check_shape("ys_val", ys_val.shape, (num, m, model_cfg.output_size), "S, m, output_size")
    weights_val = _as_stacked("weights_val", weights_val, 2, dtype)
    _check_shape("weights_val", weights_val.shape, (num, m), "S, m")
    for name, w in (("weights", weights), ("weights_val", weights_val)):
        if bool(jnp.any(w < 0)):
            raise ValueError(f"{name} must be non-negative, got a minimum of {float(jnp.min(w))}")

    mesh = _make_mesh(devices)
    arrays = (keys, params, xs, ys, weights, xs_val, ys_val, weights_val)
    if mesh is not None:
        if workers not in (None, 1):
            raise ValueError(
                f"workers applies to one device; with {mesh.size} devices pass workers=None, got {workers}"
            )
        arrays = jax.device_put(_pad_symbols(arrays, mesh.size), NamedSharding(mesh, PartitionSpec(SYMBOL_AXIS)))
        out, train_hist, val_hist, epochs_run, best_epoch, reason = train_many_arrays(*arrays, cfg, mesh)
    else:
        plan = parallel.plan_blocks(workers, num, xs.devices().pop().platform)
        out, train_hist, val_hist, epochs_run, best_epoch, reason = parallel.run_blocks(
            lambda *block: train_many_arrays.lower(*block, cfg, None).compile(), _pad_symbols(arrays, plan.blocks), plan
        )
    if out["head"]["b"].shape[0] != num:
        out = jax.tree.map(lambda a: a[:num], out)
    reason = np.asarray(reason)[:num]
    return ManyTrainResult(
        params=out,
        train_loss=np.asarray(train_hist)[:num],
        val_loss=np.asarray(val_hist)[:num],
        epochs_run=np.asarray(epochs_run)[:num],
        best_epoch=np.asarray(best_epoch)[:num],
        stop_reason=[train_lib.STOP_REASONS[int(r)] for r in reason],
    )


def _predict_many_arrays(params: Params, xs: jax.Array, steps: int) -> jax.Array:
    return jax.vmap(lambda p, x: model_lib.predict_multi_step(p, x, steps))(params, xs)


_predict_many_jit = jax.jit(_predict_many_arrays, static_argnames="steps", compiler_options=COMPILER_OPTIONS)


def predict_many(params: Params, xs: Any, steps: int, *, workers: int | None = None) -> jax.Array:
    """Recursive forecasts of ``S`` independent models (one per symbol), compiled once.

    ``jax.vmap`` of ``model.predict_multi_step`` over the leading symbol axis; on a CPU
    the symbols are split into blocks of a few symbols run by one thread per core (see
    ``parallel``), so every core of the machine works.

    Args:
        params: params pytree with every leaf stacked on a leading ``[S]`` axis (as
            ``train_many`` returns them).
        xs: ``[S, time, features]`` one starting window per symbol, or
            ``[S, batch, time, features]`` several per symbol.
        steps: number of future steps (a Python int >= 1).
        workers: threads running blocks of symbols on a CPU device (default: one per
            available core; 1: one vmapped call).

    Returns:
        ``[S, steps, output]`` (or ``[S, batch, steps, output]``).

    Example::

        ys = predict_many(result.params, windows, steps=168)
    """
    steps = validation.check_positive_int("steps", steps)
    model_cfg = model_lib.config_of(params)
    head_bias = params["head"]["b"]
    num = jnp.shape(head_bias)[0] if jnp.ndim(head_bias) == 2 else None
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        is_weight = path[-1] == jax.tree_util.DictKey("w")
        if jnp.ndim(leaf) != (3 if is_weight else 2) or jnp.shape(leaf)[0] != num:
            raise ValueError(
                f"params{jax.tree_util.keystr(path)} must be stacked with a leading symbol axis, "
                f"got shape {jnp.shape(leaf)}"
            )
    dtype = params["layers"][0]["w"].dtype
    xs = (
        xs
        if isinstance(xs, jax.Array)
        else jnp.asarray(validation.as_float_array("xs", xs, ndim=(3, 4), dtype=np.dtype(dtype)))
    )
    if xs.ndim not in (3, 4) or xs.shape[0] != num or xs.shape[-1] != model_cfg.input_size or xs.shape[-2] < 1:
        raise ValueError(
            f"xs must be [S, time, {model_cfg.input_size}] or [S, batch, time, {model_cfg.input_size}] "
            f"with S={num} (the params' symbol axis), got shape {xs.shape}"
        )
    if model_cfg.output_size != model_cfg.input_size:
        raise ValueError(
            "predict_many feeds each prediction back as the next input, so it needs "
            f"output_size == input_size, got output_size={model_cfg.output_size}, input_size={model_cfg.input_size}"
        )
    plan = parallel.plan_blocks(workers, num, xs.devices().pop().platform)
    args, _ = parallel.pad_leading((params, xs), plan.blocks, parallel.repeat_first)
    out = parallel.run_blocks(lambda p, x: _predict_many_jit.lower(p, x, steps).compile(), args, plan)
    return out[:num]
