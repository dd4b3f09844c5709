import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlstm._src import parallel


def test_resolve_workers_uses_the_cores_on_a_cpu_and_one_block_elsewhere():
    cores = parallel.available_cores()
    assert cores >= 1
    assert parallel.resolve_workers(None, 1000, "cpu") == cores
    assert parallel.resolve_workers(None, 1000, "gpu") == 1
    assert parallel.resolve_workers(8, 3, "cpu") == 3  # never more blocks than models
    assert parallel.resolve_workers(2, 10, "gpu") == 2  # asked for explicitly
    with pytest.raises(ValueError, match="^workers must be an integer >= 1, got 0"):
        parallel.resolve_workers(0, 4, "cpu")
    with pytest.raises(TypeError, match="^workers must be an integer"):
        parallel.resolve_workers(2.0, 4, "cpu")


def test_pad_leading_reaches_a_multiple_with_the_given_rows():
    tree = {"a": jnp.arange(5.0), "b": jnp.ones((5, 2))}
    padded, pad = parallel.pad_leading(tree, 4, parallel.repeat_first)
    assert pad == 3
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 3, 4, 0, 0, 0])
    assert padded["b"].shape == (8, 2)
    same, none = parallel.pad_leading(tree, 5, parallel.repeat_first)
    assert none == 0 and same is tree


@pytest.mark.parametrize("blocks", [1, 2, 4])
def test_run_blocks_runs_blocks_at_once_and_equals_one_call(blocks):
    batched = jax.jit(jax.vmap(lambda x, w: (jnp.tanh(x) @ w, x.sum())))
    x = jax.random.normal(jax.random.key(0), (8, 3))
    w = jax.random.normal(jax.random.key(1), (8, 3, 2))
    compiled = []
    # Every block waits for all the others: this only completes if they run at the same time.
    barrier = threading.Barrier(blocks, timeout=30)

    def compile_block(xb, wb):
        compiled.append(xb.shape)
        run = batched.lower(xb, wb).compile()

        def call(*args):
            barrier.wait()
            return run(*args)

        return call

    got = parallel.run_blocks(compile_block, (x, w), blocks)
    want = batched(x, w)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6)
    assert compiled == [(8 // blocks, 3)]  # one executable for every block
