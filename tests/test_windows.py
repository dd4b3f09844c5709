import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl


def test_windows_and_targets():
    xs, ys = jl.sliding_windows(jnp.arange(6.0), 3)
    np.testing.assert_array_equal(np.asarray(xs)[..., 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(np.asarray(ys)[:, 0], [3, 4, 5])


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 60), st.integers(1, 3), st.data())
def test_every_window_is_a_contiguous_slice(length, features, data):
    window = data.draw(st.integers(1, length - 1))
    series = np.random.default_rng(length).normal(size=(length, features))
    xs, ys = jl.sliding_windows(series, window)
    assert xs.shape == (length - window, window, features) and ys.shape == (length - window, features)
    for k in (0, length - window - 1):
        np.testing.assert_array_equal(np.asarray(xs[k]), series[k : k + window].astype(np.asarray(xs).dtype))
        np.testing.assert_array_equal(np.asarray(ys[k]), series[k + window].astype(np.asarray(ys).dtype))


def test_bad_arguments():
    with pytest.raises(ValueError, match="window=5"):
        jl.sliding_windows(jnp.arange(5.0), 5)
    with pytest.raises(ValueError, match="window"):
        jl.sliding_windows(jnp.arange(5.0), 0)
    with pytest.raises(ValueError, match="series"):
        jl.sliding_windows(jnp.zeros((2, 2, 2)), 1)
