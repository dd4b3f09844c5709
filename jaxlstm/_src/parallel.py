"""Blocks of independent models run side by side on the cores of one CPU device.

XLA:CPU runs a small model's loop on one core: its matmuls are too small to split, and
the loops of a ``vmap`` over models stay one loop. Two calls of the same compiled
function issued from two host threads, however, do run at the same time, one per core
(measured: 10 models x 168 forecast steps, one call 3.6 ms, two threads of 5 models
1.9 ms). So work over a leading axis of independent models is split into equal blocks,
compiled once, and each block is run from its own thread. On a GPU one call already fills
the device, so there is one block.

This is the only module that starts threads (one pool per process, started on first use);
the blocks share no state, so the result does not depend on the number of blocks (up to
float rounding of batched matmuls).
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import threading
from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxlstm._src import validation


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_workers(workers: int | None, count: int, platform: str) -> int:
    """How many blocks to run ``count`` models in.

    Args:
        workers: ``None`` for one block per available core on a CPU (one block elsewhere),
            or a positive int.
        count: number of models along the leading axis (>= 1).
        platform: the device platform, ``"cpu"``, ``"gpu"``...

    Returns:
        A block count in ``[1, count]``.
    """
    if workers is None:
        workers = available_cores() if platform == "cpu" else 1
    else:
        workers = validation.check_positive_int("workers", workers)
    return max(1, min(workers, count))


def pad_leading(tree: Any, multiple: int, fill: Callable[[jax.Array, int], jax.Array]) -> tuple[Any, int]:
    """Pads every leaf's leading axis up to a multiple of ``multiple``.

    Args:
        tree: pytree of arrays sharing a leading axis of length ``n``.
        multiple: block count the padded length must divide into.
        fill: ``fill(leaf, pad)`` returns the ``[pad, ...]`` rows to append to ``leaf``.

    Returns:
        ``(padded tree, pad)``.
    """
    n = jax.tree.leaves(tree)[0].shape[0]
    pad = -n % multiple
    if not pad:
        return tree, 0
    return jax.tree.map(lambda a: jnp.concatenate([a, fill(a, pad)], axis=0), tree), pad


def repeat_first(leaf: jax.Array, pad: int) -> jax.Array:
    """Padding rows that copy row 0 (any valid model or input will do for a dummy)."""
    return jnp.repeat(leaf[:1], pad, axis=0)


_POOL_LOCK = threading.Lock()
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _pool(blocks: int) -> concurrent.futures.ThreadPoolExecutor:
    """A process-wide pool with a thread for each of ``blocks`` (starting threads per call cost ~0.3 ms)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < blocks:
            # The old pool is dropped, not shut down: another thread may still be submitting
            # to it; its idle threads exit once it is garbage collected.
            _POOL_SIZE = max(blocks, available_cores())
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=_POOL_SIZE, thread_name_prefix="jaxlstm-block")
        return _POOL


@functools.partial(jax.jit, static_argnums=1)
def _split(tree: Any, blocks: int) -> list[Any]:
    # One dispatch for every slice of every leaf (slicing leaf by leaf costs ~10 us each).
    size = jax.tree.leaves(tree)[0].shape[0] // blocks
    return [jax.tree.map(lambda a: a[b * size : (b + 1) * size], tree) for b in range(blocks)]


@jax.jit
def _concat(outs: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *outs)


def run_blocks(compile_block: Callable[..., Any], args: tuple[Any, ...], blocks: int) -> Any:
    """Splits ``args`` along their leading axis into ``blocks`` equal blocks and runs them concurrently.

    Args:
        compile_block: ``compile_block(*block_args)`` returns a callable for arguments of
            that shape, e.g. ``lambda *a: jitted.lower(*a).compile()``; it is called once,
            so every block runs the same executable.
        args: pytrees whose leaves share a leading axis divisible by ``blocks``.
        blocks: number of blocks (1 runs the call directly, on this thread).

    Returns:
        The outputs of the blocks, concatenated along their leading axis.
    """
    if blocks == 1:
        return compile_block(*args)(*args)
    parts = _split(args, blocks)
    run = compile_block(*parts[0])
    futures = [_pool(blocks).submit(lambda part=part: jax.block_until_ready(run(*part))) for part in parts]
    return _concat([f.result() for f in futures])
