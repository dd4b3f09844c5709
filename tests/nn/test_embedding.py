"""The series embedding of global models: a learned vector per series appended to every input step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlstm._src.nn import embedding
from jaxlstm._src.nn.lstm import LSTMConfig

INNER = LSTMConfig(input_size=1 + 3, hidden_size=5, output_size=2, num_layers=1)


def test_one_series_reads_its_vector_at_every_step():
    net = embedding.SeriesEmbedding(INNER, 3)
    params = net.init(jax.random.key(0))
    assert params["embedding"].shape == (3,) and not np.any(params["embedding"])  # starts at zero
    params = {**params, "embedding": jnp.array([0.5, -1.0, 2.0])}
    x = jax.random.normal(jax.random.key(1), (7, 1))
    # The reference: the wrapped network on the inputs with the vector written out at each step.
    expected = INNER.apply(params["network"], jnp.concatenate([x, jnp.tile(params["embedding"], (7, 1))], axis=-1))
    np.testing.assert_allclose(net.apply(params, x), expected, rtol=1e-6)


def test_a_table_selects_the_row_of_the_index_column_and_slices_to_one_series():
    table_net = embedding.SeriesEmbedding(INNER, 3, count=4)
    params = table_net.init(jax.random.key(0))
    assert params["embedding"].shape == (4, 3)
    params = {**params, "embedding": jnp.arange(12.0).reshape(4, 3) / 10}
    x = jax.random.normal(jax.random.key(2), (6, 1))
    one = embedding.SeriesEmbedding(INNER, 3)
    for index in (0, 2, 3):
        with_index = jnp.concatenate([x, jnp.full((6, 1), float(index))], axis=-1)
        own = embedding.series_params(params, index)
        np.testing.assert_array_equal(own["embedding"], params["embedding"][index])
        np.testing.assert_allclose(table_net.apply(params, with_index), one.apply(own, x), rtol=1e-6)
    # With a members axis in front, each member keeps its own row.
    stacked = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), params)
    np.testing.assert_array_equal(embedding.series_params(stacked, 1)["embedding"][1], 2 * params["embedding"][1])


def test_the_gradient_reaches_only_the_row_of_the_series():
    table_net = embedding.SeriesEmbedding(INNER, 3, count=3)
    params = table_net.init(jax.random.key(0))
    x = jnp.concatenate([jnp.ones((5, 1)), jnp.full((5, 1), 1.0)], axis=-1)
    grad = jax.grad(lambda p: jnp.sum(table_net.apply(p, x) ** 2))(params)["embedding"]
    assert np.any(grad[1]) and not np.any(grad[0]) and not np.any(grad[2])


def test_sizes_are_checked():
    with pytest.raises(ValueError, match="dim"):
        embedding.SeriesEmbedding(INNER, 0)
    with pytest.raises(ValueError, match="count"):
        embedding.SeriesEmbedding(INNER, 2, count=0)
