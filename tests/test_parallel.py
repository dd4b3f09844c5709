import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlstm._src import parallel


def test_plan_blocks_uses_the_cores_on_a_cpu_and_one_call_elsewhere():
    cores = parallel.available_cores()
    assert cores >= 1
    size = parallel.MAX_BLOCK_SIZE
    many = parallel.plan_blocks(None, 1000, "cpu")
    if cores > 1:
        # Small blocks, queued on one thread per core.
        assert many == parallel.BlockPlan(blocks=-(-1000 // size), threads=cores)
    else:
        assert many == parallel.BlockPlan(1, 1)
    assert parallel.plan_blocks(None, 1000, "gpu") == parallel.BlockPlan(1, 1)
    assert parallel.plan_blocks(1, 1000, "cpu") == parallel.BlockPlan(1, 1)  # one vmapped call
    assert parallel.plan_blocks(8, 3, "cpu") == parallel.BlockPlan(3, 3)  # never more blocks than models
    assert parallel.plan_blocks(2, 10, "gpu") == parallel.BlockPlan(2, 2)  # asked for explicitly
    assert parallel.plan_blocks(2, 4 * size + 1, "cpu") == parallel.BlockPlan(5, 2)
    with pytest.raises(ValueError, match="^workers must be an integer >= 1, got 0"):
        parallel.plan_blocks(0, 4, "cpu")
    with pytest.raises(TypeError, match="^workers must be an integer"):
        parallel.plan_blocks(2.0, 4, "cpu")


def test_pad_leading_reaches_a_multiple_with_the_given_rows():
    tree = {"a": jnp.arange(5.0), "b": jnp.ones((5, 2))}
    padded, pad = parallel.pad_leading(tree, 4, parallel.repeat_first)
    assert pad == 3
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 3, 4, 0, 0, 0])
    assert padded["b"].shape == (8, 2)
    same, none = parallel.pad_leading(tree, 5, parallel.repeat_first)
    assert none == 0 and same is tree


@pytest.mark.parametrize(("blocks", "threads"), [(1, 1), (2, 2), (4, 4), (4, 2)])
def test_run_blocks_runs_blocks_at_once_and_equals_one_call(blocks, threads):
    batched = jax.jit(jax.vmap(lambda x, w: (jnp.tanh(x) @ w, x.sum())))
    x = jax.random.normal(jax.random.key(0), (8, 3))
    w = jax.random.normal(jax.random.key(1), (8, 3, 2))
    compiled = []
    # Each block waits until `threads` blocks are in flight: this completes only if they run
    # at the same time (and, with more blocks than threads, the rest are queued, not lost).
    barrier = threading.Barrier(threads, timeout=30)
    running, most = [0], [0]
    lock = threading.Lock()

    def compile_block(xb, wb):
        compiled.append(xb.shape)
        run = batched.lower(xb, wb).compile()

        def call(*args):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            barrier.wait()
            try:
                return run(*args)
            finally:
                with lock:
                    running[0] -= 1

        return call

    got = parallel.run_blocks(compile_block, (x, w), parallel.BlockPlan(blocks, threads))
    want = batched(x, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert compiled == [(8 // blocks, 3)]  # one executable for every block
    assert most[0] == threads  # never more blocks at once than threads


def test_after_a_fork_the_child_starts_its_own_pool():
    # Called as os.fork runs it in the child (forking a JAX process in a test could hang).
    parent = parallel._pool(2)
    parallel._forget_pools_in_child()
    child = parallel._pool(2)
    assert child is not parent
    assert child.submit(lambda: 42).result(timeout=30) == 42
