"""Blocks of independent models run side by side on the cores of one CPU device.

XLA:CPU runs a small model's loop on one core: its matmuls are too small to split, and
the loops of a ``vmap`` over models stay one loop. Two calls of the same compiled
function issued from two host threads, however, do run at the same time, one per core
(measured: 10 models x 168 forecast steps, one call 3.6 ms, two threads of 5 models
1.9 ms). So work over a leading axis of independent models is split into equal blocks of
a few models, compiled once, and the blocks are run by one thread per core. On a GPU one
call already fills the device, so there is one block.

This is the only module that starts threads (pools shared by the process, started on
first use). The blocks share no state, so the result does not depend on how the models
are split (up to float rounding of batched matmuls).
"""

from __future__ import annotations

import concurrent.futures
import functools
import math
import os
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxlstm._src import validation


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: Most models in one block on a CPU. A vmap over more small LSTMs gets slower per model
#: on XLA:CPU, so many models are cut into many small blocks, queued on the threads (the
#: block-size sweep of ``python -m benchmarks.run``, section 4, measures the curve).
MAX_BLOCK_SIZE = 6


class BlockPlan(NamedTuple):
    """How ``count`` models are run: ``blocks`` equal blocks, ``threads`` of them at a time."""

    blocks: int
    threads: int


def plan_blocks(workers: int | None, count: int, platform: str) -> BlockPlan:
    """Splits ``count`` models into blocks for the device's platform.

    Args:
        workers: blocks run at the same time: ``None`` for one per available core on a
            CPU and a single call elsewhere (one call already fills a GPU); ``1`` for a
            single vmapped call; more for that many threads.
        count: number of models along the leading axis (>= 1).
        platform: the device platform, ``"cpu"``, ``"gpu"``...

    Returns:
        A ``BlockPlan``: one block when one thread is used, otherwise blocks of at most
        ``MAX_BLOCK_SIZE`` models (and at least one per thread).
    """
    if workers is None:
        threads = available_cores() if platform == "cpu" else 1
    else:
        threads = validation.check_positive_int("workers", workers)
    threads = max(1, min(threads, count))
    if threads == 1:
        return BlockPlan(1, 1)
    return BlockPlan(min(count, max(threads, math.ceil(count / MAX_BLOCK_SIZE))), threads)


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


_POOLS_LOCK = threading.Lock()
_POOLS: dict[int, concurrent.futures.ThreadPoolExecutor] = {}


def _forget_pools_in_child() -> None:
    # A forked child inherits the pools but not their threads: work submitted there would
    # wait forever, so the child starts its own pools on first use.
    global _POOLS_LOCK
    _POOLS_LOCK = threading.Lock()
    _POOLS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def _pool(threads: int) -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide pool of ``threads`` threads, started on first use (starting threads
    per call cost ~0.3 ms); one pool per size, so no call runs more blocks at once than asked."""
    with _POOLS_LOCK:
        if threads not in _POOLS:
            _POOLS[threads] = concurrent.futures.ThreadPoolExecutor(
                max_workers=threads, thread_name_prefix="jaxlstm-block"
            )
        return _POOLS[threads]


@functools.partial(jax.jit, static_argnums=1)
def _split(tree: Any, blocks: int) -> list[Any]:
    # One dispatch for every slice of every leaf (slicing leaf by leaf costs ~10 us each).
    size = jax.tree.leaves(tree)[0].shape[0] // blocks
    return [jax.tree.map(lambda a: a[b * size : (b + 1) * size], tree) for b in range(blocks)]


@jax.jit
def _concat(outs: list[Any]) -> Any:
    return jax.tree.map(lambda *xs: jnp.concatenate(xs, axis=0), *outs)


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
    parts = _split(args, plan.blocks)
    run = compile_block(*parts[0])
    pool = _pool(plan.threads)
    futures = [pool.submit(lambda part=part: jax.block_until_ready(run(*part))) for part in parts]
    return _concat([f.result() for f in futures])
