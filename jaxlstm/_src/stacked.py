"""One runner for every "many": any fit or predict run over a leading models axis.

Symbols, seeds of an ensemble, backtest origins, hyper-parameter trials and calibration
refits are all the same computation for one model, run over a leading ``[M]`` axis.
``run_stacked(fn, args, static=...)`` does it for any ``fn`` written for ONE model:

* it is ``jax.vmap`` of ``fn``, compiled once per ``fn``, static settings and shapes;
* on one CPU device the models are split into blocks of a few models run by one host
  thread per core (XLA:CPU runs one call's loop on one core, and a vmap over many small
  models gets slower per model: see ``MAX_BLOCK_SIZE``); training runs one model per
  block (``TRAIN_BLOCK_SIZE``), so each stops at its own epoch;
* with several devices (or an explicit ``devices`` list) the models axis is sharded over a
  1-D mesh named ``"models"`` with ``jax.shard_map``: each device runs its own block (its
  own ``while_loop`` for training, so devices never synchronise between epochs).

``M`` is padded up to a multiple of the blocks (or devices) with copies of model 0, whose
results are dropped. The blocks share no state, so the result does not depend on how the
models are split (up to float rounding of batched matmuls).

``train_many`` and ``predict_many`` are calls of it (for stacked LSTM params);
``LSTMForecaster.fit_many``, ``forecast_many``, vectorised backtests and ensembles reach it
through the same calls.

Running across hosts (untested beyond simulated devices on a single host): the same code
runs under JAX's multi-controller model, with no engine of our own. On every host call
``jax.distributed.initialize()``, build the global mesh with
``jax.make_mesh((jax.device_count(),), ("models",), axis_types=(jax.sharding.AxisType.Auto,))``,
have each host prepare only its own slice of models (every host must use the same padded
shapes, and the global ``M`` must be a multiple of the device count), turn each stacked
argument into a global array with
``jax.make_array_from_process_local_data(NamedSharding(mesh, PartitionSpec("models")), local)``
and call ``stacked_function(fn, static, mesh)(*arrays)`` with the same arguments on every
host. Outputs are global arrays; each host reads its own rows through ``addressable_shards``.

This is the only module that starts threads (pools shared by the process, started on first
use, one pool per thread count, dropped in a forked child).
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec

from jaxlstm._src import training, validation
from jaxlstm._src.nn import lstm
from jaxlstm._src.prep import windows
from jaxlstm._src.xla_options import COMPILER_OPTIONS

MODELS_AXIS = "models"

#: Most models in one block on a CPU. A vmap over more small LSTMs gets slower per model
#: on XLA:CPU, so many models are cut into many small blocks, queued on the threads (the
#: block-size sweep of ``python -m benchmarks.run``, scaling section, measures the curve).
MAX_BLOCK_SIZE = 6

#: Most models in one block when a CPU trains them: one, each row its own un-vmapped run.
#: A lone fit skips the minibatches that are all padding (a ``lax.cond``) and stops at its
#: own last epoch; vmapped, a ``cond`` computes both branches for every row and the block
#: runs until its last row stops: ``fit_many`` of 200 hourly random walks with early stopping
#: took 44.0 s instead of 90.0 s (``python -m benchmarks.speed.many``).
TRAIN_BLOCK_SIZE = 1


# ---------------------------------------------------------------------------- blocks


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class BlockPlan(NamedTuple):
    """How ``count`` models are run: ``blocks`` equal blocks, ``threads`` of them at a time."""

    blocks: int
    threads: int


def plan_blocks(workers: int | None, count: int, platform: str, max_block: int = MAX_BLOCK_SIZE) -> BlockPlan:
    """Splits ``count`` models into blocks for the device's platform.

    Args:
        workers: blocks run at the same time: ``None`` for one per available core on a
            CPU and a single call elsewhere (one call already fills a GPU); more for that
            many threads.
        count: number of models along the leading axis (>= 1).
        platform: the device platform, ``"cpu"``, ``"gpu"``...
        max_block: most models in one block on a CPU.

    Returns:
        A ``BlockPlan``: on a CPU blocks of at most ``max_block`` models (and at least one
        per thread), one thread running them in turn where there is one; elsewhere one
        block unless several threads are asked for.
    """
    if workers is None:
        threads = available_cores() if platform == "cpu" else 1
    else:
        threads = validation.check_positive_int("workers", workers)
    threads = max(1, min(threads, count))
    if threads == 1 and platform != "cpu":
        return BlockPlan(1, 1)
    # One thread too: a vmap over more than max_block small models is slower per model on a
    # CPU (96 fits on one core: 47.5 s as one call, 35.4 s in blocks of 6 in turn).
    return BlockPlan(min(count, max(threads, math.ceil(count / max_block))), threads)


def _pad_models(tree: Any, count: int, multiple: int) -> Any:
    """Pads the models axis up to a multiple of ``multiple`` with copies of model 0 (results dropped)."""
    size = -(-count // multiple) * multiple
    if size == count:
        return tree
    return _by_leaf(tree, lambda a: windows.pad_rows(a, size, fill="first"))


_POOLS_LOCK = threading.Lock()
_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _forget_pools_in_child() -> None:
    # A forked child inherits the pools but not their threads: work submitted there would
    # wait forever, so the child starts its own pools on first use.
    global _POOLS_LOCK  # noqa: PLW0603 - the inherited lock may be held by a thread that is gone
    _POOLS_LOCK = threading.Lock()
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide pool of ``threads`` threads, started on first use (starting threads
    per call cost ~0.3 ms); one pool per size, so no call runs more blocks at once than asked."""
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="jaxlstm")
        return _POOLS[threads]


@functools.partial(jax.jit, static_argnums=1)
def _split(tree: Any, blocks: int) -> list[Any]:
    # One dispatch for every slice of every leaf (slicing leaf by leaf costs ~10 us each).
    size = jax.tree.leaves(tree)[0].shape[0] // blocks
    return [jax.tree.map(lambda a, b=b: a[b * size : (b + 1) * size], tree) for b in range(blocks)]


@jax.jit
def _concat(outs: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *outs)


def _run_ready(run: Callable[..., Any], part: Any) -> Any:
    return jax.block_until_ready(run(*part))


def _on_cpu(leaf: Any) -> bool:
    return isinstance(leaf, np.ndarray) or (
        isinstance(leaf, jax.Array) and all(d.platform == "cpu" for d in leaf.devices())
    )


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def _key_data(keys: jax.Array) -> np.ndarray:
    return np.asarray(jax.random.key_data(keys))


def _as_keys(data: Any, like: jax.Array) -> jax.Array:
    """Host key data back as PRNG keys of ``like``'s implementation (``wrap_key_data`` takes host data)."""
    return jax.random.wrap_key_data(data, impl=jax.random.key_impl(like))


def _host_parts(leaf: Any, blocks: int) -> list[Any]:
    """A CPU leaf cut into ``blocks`` slices on the host: numpy views, PRNG keys re-wrapped per slice."""
    size = leaf.shape[0] // blocks
    if _is_key(leaf):
        keys = _key_data(leaf)
        return [_as_keys(keys[b * size : (b + 1) * size], leaf) for b in range(blocks)]
    data = np.asarray(leaf)  # a CPU array's own buffer, not a copy
    return [data[b * size : (b + 1) * size] for b in range(blocks)]


def _by_leaf(tree: Any, change: Callable[[Any], Any]) -> Any:
    """``change`` applied to every leaf: CPU leaves on the host (keys as their key data), others as they are.

    Slicing or padding a JAX array with ``jnp`` compiles a small program per shape (a
    ``dynamic_slice``, a ``concatenate``...), which a runner called with ever new counts of
    rows would pay at every call; numpy on the array's own buffer compiles nothing.
    """

    def one(leaf: Any) -> Any:
        # A leaf sharded over several devices keeps its sharding: jnp slices it in place.
        if isinstance(leaf, np.ndarray) or not _on_cpu(leaf) or len(leaf.devices()) > 1:
            return change(leaf)
        if _is_key(leaf):
            return _as_keys(change(_key_data(leaf)), leaf)
        return jax.device_put(change(np.asarray(leaf)))

    return jax.tree.map(one, tree)


def stack_on_host(leaves: Sequence[Any]) -> Any:
    """Equal-shape arrays (numpy, CPU JAX arrays or PRNG keys) stacked along a new leading axis on the host.

    ``jnp.stack`` would compile a program per count of arrays; keys come back as keys.
    """
    if _is_key(leaves[0]):
        return _as_keys(np.stack([_key_data(k) for k in leaves]), leaves[0])
    return np.stack([np.asarray(a) for a in leaves])


def _host_join(parts: Sequence[Any]) -> Any:
    if _is_key(parts[0]):
        return _as_keys(np.concatenate([_key_data(p) for p in parts]), parts[0])
    return jax.device_put(np.concatenate([np.asarray(p) for p in parts]))  # jnp.asarray compiles a copy per shape


def run_blocks(compile_block: Callable[..., Any], args: tuple[Any, ...], plan: BlockPlan) -> Any:
    """Splits ``args`` along their leading axis into ``plan.blocks`` equal blocks and runs them concurrently.

    Args:
        compile_block: ``compile_block(*block_args)`` returns a callable for arguments of
            that shape, e.g. ``lambda *a: jitted.lower(*a).compile()``; it is called once,
            so every block runs the same executable.
        args: pytrees whose leaves share a leading axis divisible by ``plan.blocks``.
        plan: from ``plan_blocks``; one block runs directly, on the caller's thread.

    Returns:
        The outputs of the blocks, concatenated along their leading axis.
    """
    if plan.blocks == 1:
        return compile_block(*args)(*args)
    leaves, tree = jax.tree.flatten(args)
    # Leaves on the CPU (numpy, or JAX arrays there, PRNG keys included) are sliced and
    # joined on the host: a jitted split or concatenation is one program per count of
    # blocks and leaves, whose compilation grows with them (512 fits in 86 blocks: 9.3 s
    # and 1.2 GB to compile the split, more than the fits themselves).
    on_host = all(_on_cpu(leaf) for leaf in leaves)
    if on_host:
        cut = [_host_parts(leaf, plan.blocks) for leaf in leaves]
        parts = [jax.tree.unflatten(tree, [c[b] for c in cut]) for b in range(plan.blocks)]
    else:
        parts = _split(args, plan.blocks)
    run = compile_block(*parts[0])
    pool = _pool(plan.threads)
    futures = [pool.submit(_run_ready, run, part) for part in parts]
    outs = [f.result() for f in futures]
    if on_host:
        return jax.tree.map(lambda *xs: _host_join(xs), *outs)
    return _concat(outs)


# ---------------------------------------------------------------------------- the runner


def _static_key(static: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    items = tuple(sorted((static or {}).items()))
    try:
        hash(items)
    except TypeError as err:
        raise TypeError(f"static must map names to hashable values (configs, functions, ints), got {err}") from None
    return items


@functools.lru_cache(maxsize=256)
def _stacked(fn: Callable[..., Any], static: tuple[tuple[str, Any], ...], mesh: Mesh | None) -> Any:
    one = functools.partial(fn, **dict(static))
    batched = jax.vmap(one)
    if mesh is not None:
        # shard_map rather than sharding annotations alone: each device then loops over its own
        # block until its own models stop, instead of all-reducing a loop condition every epoch.
        # The block has no collectives, so the varying-axes check is off: it would otherwise
        # reject a network's constant zero initial carries inside scans over varying data.
        spec = PartitionSpec(MODELS_AXIS)
        batched = jax.shard_map(batched, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False)
    return jax.jit(batched, compiler_options=COMPILER_OPTIONS)


@functools.lru_cache(maxsize=256)
def _single(fn: Callable[..., Any], static: tuple[tuple[str, Any], ...]) -> Any:
    """The compiled ``fn`` of one model with a leading models axis of 1 on its arguments and outputs."""
    one = functools.partial(fn, **dict(static))

    def row(*args: Any) -> Any:
        out = one(*jax.tree.map(lambda a: a[0], args))
        return jax.tree.map(lambda a: a[None], out)

    # Named after fn, as the vmapped program is, so compile logs and profiles say what ran.
    row.__name__ = row.__qualname__ = getattr(fn, "__name__", "row")
    return jax.jit(row, compiler_options=COMPILER_OPTIONS)


def stacked_function(
    fn: Callable[..., Any], static: Mapping[str, Any] | None = None, mesh: Mesh | None = None
) -> Callable[..., Any]:
    """The compiled ``vmap`` of ``fn`` (sharded over ``mesh`` when given), cached per arguments.

    For callers that build their own (possibly multi-host) global arrays; ``run_stacked``
    adds padding, blocks per core and host conversions on top.
    """
    return _stacked(fn, _static_key(static), mesh)


def make_mesh(devices: Sequence[jax.Device] | None) -> Mesh | None:
    """A 1-D ``"models"`` mesh over ``devices`` (None: this process's devices); None for a single one."""
    if devices is None:
        # This process's own devices: run_stacked feeds the mesh from host arrays, which one
        # process of a multi-process run can only place on the devices it addresses.
        devices = jax.local_devices()
        if len(devices) == 1:
            return None
    devices = list(devices)
    if not devices:
        raise ValueError("devices must list at least one device, got an empty sequence")
    if not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError(f"devices must be jax.Device objects, got {[type(d).__name__ for d in devices]}")
    return jax.make_mesh((len(devices),), (MODELS_AXIS,), axis_types=(AxisType.Auto,), devices=devices)


def _platform(args: Any) -> str:
    for leaf in jax.tree.leaves(args):
        if isinstance(leaf, jax.Array):
            return next(iter(leaf.devices())).platform
    return jax.devices()[0].platform


def run_stacked(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    static: Mapping[str, Any] | None = None,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    max_block: int = MAX_BLOCK_SIZE,
) -> Any:
    """Runs ``fn`` for each of ``M`` models stacked along the leading axis of ``args``.

    Args:
        fn: a function of ONE model's arguments, ``fn(*args_of_one_model, **static)``
            (a module-level function, so that it is the same object every call and its
            compilation is reused).
        args: pytrees whose leaves share a leading ``[M]`` axis (numpy or JAX).
        static: keyword arguments passed unchanged to every model (hashable: configs,
            functions, ints).
        workers: on one CPU device, blocks of models run at once by this many threads
            (default: one per available core; 1: the blocks in turn).
        devices: devices to shard the models over; None uses this process's devices
            (``jax.local_devices()``; plain vmap when there is one).
        max_block: on one CPU device, most models per block (1: every model runs ``fn``
            itself, one compiled program whatever ``M`` is).

    Returns:
        ``fn``'s outputs with a leading ``[M]`` axis. On several devices the arrays stay on
        those devices (sharded along ``"models"`` when ``M`` is a multiple of the device
        count, otherwise sliced and replicated).
    """
    leaves = jax.tree.leaves(args)
    if not leaves:
        raise ValueError("args must hold at least one array with a leading models axis")
    count = np.shape(leaves[0])[0] if np.ndim(leaves[0]) else 0
    for leaf in leaves:
        if np.ndim(leaf) == 0 or np.shape(leaf)[0] != count:
            raise ValueError(f"every argument must have the same leading models axis [{count}], got {np.shape(leaf)}")
    if count < 1:
        raise ValueError("args must hold at least one model (a leading axis of length >= 1)")
    key = _static_key(static)
    mesh = make_mesh(devices)
    if mesh is not None:
        if workers not in (None, 1):
            raise ValueError(
                f"workers applies to one device; with {mesh.size} devices pass workers=None, got {workers}"
            )
        padded = _pad_models(args, count, mesh.size)
        padded = jax.device_put(padded, NamedSharding(mesh, PartitionSpec(MODELS_AXIS)))
        out = _stacked(fn, key, mesh)(*padded)
    else:
        plan = plan_blocks(workers, count, _platform(args), max_block)
        padded = _pad_models(args, count, plan.blocks)
        # A block of one model runs fn itself: a vmap of one still batches every loop
        # predicate and select, which cost a single fit about 20% more CPU time.
        single = jax.tree.leaves(padded)[0].shape[0] == plan.blocks
        compiled = _single(fn, key) if single else _stacked(fn, key, None)
        if plan.blocks == 1:
            out = compiled(*padded)  # jit's own dispatch: no lowering on repeated calls
        else:
            out = run_blocks(lambda *block: compiled.lower(*block).compile(), padded, plan)
    if jax.tree.leaves(out)[0].shape[0] != count:
        out = _by_leaf(out, lambda a: a[:count])
    return out


# ---------------------------------------------------------------------------- LSTMs


def _check_stacked_params(params: Any, count: int | None) -> int:
    """The models axis of stacked LSTM params (every leaf one dimension more than a lone model's)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    head = params["head"]["b"] if isinstance(params, dict) and "head" in params else None
    num = count if count is not None else np.shape(head)[0] if head is not None and np.ndim(head) == 2 else None
    for path, leaf in leaves:
        is_weight = path[-1] == jax.tree_util.DictKey("w")
        if np.ndim(leaf) != (3 if is_weight else 2) or np.shape(leaf)[0] != num:
            raise ValueError(
                f"params{jax.tree_util.keystr(path)} must be stacked with a leading models axis"
                + (f" of M={num}" if num is not None else "")
                + f", got shape {np.shape(leaf)}"
            )
    assert num is not None
    return int(num)


def _as_stacked(name: str, value: Any, ndim: int, dtype: Any) -> jax.Array:
    if isinstance(value, jax.Array):
        if value.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D with a leading models axis, got shape {value.shape}")
        if not bool(jnp.all(jnp.isfinite(value))):
            raise ValueError(f"{name} must be finite, got NaN/inf values")
        return value.astype(dtype)
    return jnp.asarray(validation.as_float_array(name, value, ndim=ndim, dtype=np.dtype(dtype)))


def _check_shape(name: str, shape: tuple[int, ...], expected: tuple[int | None, ...], meaning: str) -> None:
    if len(shape) != len(expected) or any(e is not None and e != got for e, got in zip(expected, shape)):
        want = ", ".join("*" if e is None else str(e) for e in expected)
        raise ValueError(f"{name} must be [{meaning}] = [{want}], got shape {shape}")


def train_many(
    keys: jax.Array,
    params: Any,
    xs: Any,
    ys: Any,
    weights: Any,
    xs_val: Any,
    ys_val: Any,
    weights_val: Any,
    cfg: training.TrainConfig = training.TrainConfig(),
    *,
    loss: training.Loss = training.mse,
    optimizer: optax.GradientTransformation | None = None,
    devices: Sequence[jax.Device] | None = None,
    workers: int | None = None,
) -> training.TrainResult:
    """Trains one independent LSTM per row of the leading ``[M]`` axis, compiled once.

    Model ``s`` is trained exactly as ``fit_arrays`` would train it alone on row ``s`` of
    every argument. Padding rows (weight 0, at the end of a model's rows) change nothing:
    they add nothing to a loss or gradient, each epoch puts them after the weighted rows
    in the same order as the lone run's, and a minibatch of padding only takes no step, so
    a padded model equals its lone, unpadded run to float rounding. A model whose
    validation weights are all 0 monitors its training loss; its ``val_loss`` is NaN.

    Args:
        keys: ``[M]`` typed PRNG keys (``jax.random.split(jax.random.key(0), M)``).
        params: LSTM params with every leaf stacked on a leading ``[M]`` axis, e.g.
            ``jax.vmap(lambda k: init_params(k, cfg))(init_keys)``.
        xs: ``[M, n, time, features]`` training windows; ys: ``[M, n, output]`` targets;
            weights: ``[M, n]`` non-negative row weights (0 marks padding).
        xs_val, ys_val, weights_val: the validation split, ``[M, m, time, features]``,
            ``[M, m, output]``, ``[M, m]``; ``m`` may be 0.
        cfg: ``TrainConfig`` shared by all models.
        loss, optimizer: as in ``fit_arrays``.
        devices, workers: as in ``run_stacked``.

    Returns:
        A ``TrainResult`` with a leading ``[M]`` axis: params (device arrays), histories
        ``[M, epochs]`` (NaN past each ``epochs_run``), ``epochs_run`` / ``best_epoch`` as
        int arrays and ``stop_reason`` a list of ``StopReason``.

    Example::

        params = jax.vmap(lambda k: init_params(k, LSTMConfig()))(jax.random.split(jax.random.key(1), m))
        result = train_many(jax.random.split(jax.random.key(0), m), params, xs, ys, w, xv, yv, wv)
    """
    if not isinstance(cfg, training.TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if not isinstance(keys, jax.Array) or not jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        raise TypeError(
            "keys must be a [M] array of typed PRNG keys (jax.random.split(jax.random.key(0), M)), "
            f"got {type(keys).__name__} of dtype {getattr(keys, 'dtype', None)}"
        )
    if keys.ndim != 1:
        raise ValueError(f"keys must be [M] typed keys, got shape {keys.shape}")
    num = keys.shape[0]
    model_cfg = lstm.config_of(params)
    _check_stacked_params(params, num)
    if model_cfg.output_size < 1:
        raise ValueError("params must have an output")
    dtype = params["layers"][0]["w"].dtype
    xs = _as_stacked("xs", xs, 4, dtype)
    n, steps = xs.shape[1], xs.shape[2]
    _check_shape("xs", xs.shape, (num, None, None, model_cfg.input_size), "M, n, time, input_size")
    if n < 1 or steps < 1:
        raise ValueError(f"xs must have at least one window and one time step, got shape {xs.shape}")
    ys = _as_stacked("ys", ys, 3, dtype)
    _check_shape("ys", ys.shape, (num, n, model_cfg.output_size), "M, n, output_size")
    weights = _as_stacked("weights", weights, 2, dtype)
    _check_shape("weights", weights.shape, (num, n), "M, n")
    xs_val = _as_stacked("xs_val", xs_val, 4, dtype)
    m = xs_val.shape[1]
    _check_shape("xs_val", xs_val.shape, (num, m, steps, model_cfg.input_size), "M, m, time, input_size")
    ys_val = _as_stacked("ys_val", ys_val, 3, dtype)
    _check_shape("ys_val", ys_val.shape, (num, m, model_cfg.output_size), "M, m, output_size")
    weights_val = _as_stacked("weights_val", weights_val, 2, dtype)
    _check_shape("weights_val", weights_val.shape, (num, m), "M, m")
    for name, w in (("weights", weights), ("weights_val", weights_val)):
        if bool(jnp.any(w < 0)):
            raise ValueError(f"{name} must be non-negative, got a minimum of {float(jnp.min(w))}")
    data = training.TrainData(xs, ys, weights, xs_val, ys_val, weights_val)
    static = {"config": cfg, "network": model_cfg, "loss": loss, "optimizer": optimizer}
    out = run_stacked(
        training.fit_arrays,
        (keys, params, data),
        static=static,
        workers=workers,
        devices=devices,
        max_block=TRAIN_BLOCK_SIZE,
    )
    return host_results(out)


def host_results(result: training.TrainResult) -> training.TrainResult:
    """A stacked ``fit_arrays`` result with host histories, int arrays and ``StopReason``s."""
    return result._replace(
        train_loss=np.asarray(result.train_loss),
        val_loss=np.asarray(result.val_loss),
        epochs_run=np.asarray(result.epochs_run),
        best_epoch=np.asarray(result.best_epoch),
        stop_reason=[training.StopReason(int(r)) for r in np.asarray(result.stop_reason)],
    )


def _predict_one_model(params: Any, xs: jax.Array, steps: int) -> jax.Array:
    return lstm.predict_multi_step(params, xs, steps)


def predict_many(params: Any, xs: Any, steps: int, *, workers: int | None = None) -> jax.Array:
    """Recursive forecasts of ``M`` independent LSTMs, compiled once.

    ``predict_multi_step`` of each model on its own windows, run by ``run_stacked``.

    Args:
        params: LSTM params with every leaf stacked on a leading ``[M]`` axis (as
            ``train_many`` returns them).
        xs: ``[M, time, features]`` one starting window per model, or
            ``[M, batch, time, features]`` several per model.
        steps: number of future steps (a Python int >= 1).
        workers: as in ``run_stacked``.

    Returns:
        ``[M, steps, output]`` (or ``[M, batch, steps, output]``).

    Example::

        ys = predict_many(result.params, windows, steps=168)
    """
    steps = validation.check_steps(steps)
    model_cfg = lstm.config_of(params)
    num = _check_stacked_params(params, None)
    dtype = params["layers"][0]["w"].dtype
    if not isinstance(xs, jax.Array):
        xs = jnp.asarray(validation.as_float_array("xs", xs, ndim=(3, 4), dtype=np.dtype(dtype)))
    if xs.ndim not in (3, 4) or xs.shape[0] != num or xs.shape[-1] != model_cfg.input_size or xs.shape[-2] < 1:
        raise ValueError(
            f"xs must be [M, time, {model_cfg.input_size}] or [M, batch, time, {model_cfg.input_size}] "
            f"with M={num} (the params' models axis), got shape {xs.shape}"
        )
    if model_cfg.output_size != model_cfg.input_size:
        raise ValueError(
            "predict_many feeds each prediction back as the next input, so it needs "
            f"output_size == input_size, got output_size={model_cfg.output_size}, input_size={model_cfg.input_size}"
        )
    return run_stacked(_predict_one_model, (params, xs), static={"steps": steps}, workers=workers)
