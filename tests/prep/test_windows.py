import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm._src.prep import windows


def test_windows_and_targets():
    xs, ys = jl.data.sliding_windows(jnp.arange(6.0), 3)
    np.testing.assert_array_equal(np.asarray(xs)[..., 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(np.asarray(ys)[:, 0], [3, 4, 5])


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 60), st.integers(1, 3), st.data())
def test_every_window_is_a_contiguous_slice(length, features, data):
    window = data.draw(st.integers(1, length - 1))
    series = np.random.default_rng(length).normal(size=(length, features))
    xs, ys = jl.data.sliding_windows(series, window)
    assert xs.shape == (length - window, window, features) and ys.shape == (length - window, features)
    for k in (0, length - window - 1):
        np.testing.assert_array_equal(np.asarray(xs[k]), series[k : k + window].astype(np.asarray(xs).dtype))
        np.testing.assert_array_equal(np.asarray(ys[k]), series[k + window].astype(np.asarray(ys).dtype))


def test_bad_arguments():
    with pytest.raises(ValueError, match="window \\+ horizon = 6"):
        jl.data.sliding_windows(jnp.arange(5.0), 5)
    with pytest.raises(ValueError, match="window"):
        jl.data.sliding_windows(jnp.arange(5.0), 0)
    with pytest.raises(ValueError, match="series"):
        jl.data.sliding_windows(jnp.zeros((2, 2, 2)), 1)


def test_numpy_stays_numpy_and_jax_stays_traceable():
    xs, _ys = jl.data.sliding_windows(np.arange(6.0), 2)
    assert isinstance(xs, np.ndarray) and xs.dtype == np.float64
    traced = jax.jit(lambda s: jl.data.sliding_windows(s, 2)[0].sum())(jnp.arange(6.0))
    assert float(traced) == float(xs.sum())


def test_multi_step_targets():
    xs, ys = jl.data.sliding_windows(np.arange(8.0), 3, horizon=2)
    assert xs.shape == (4, 3, 1) and ys.shape == (4, 2, 1)
    np.testing.assert_array_equal(ys[:, :, 0], [[3, 4], [4, 5], [5, 6], [6, 7]])
    with pytest.raises(ValueError, match="horizon"):
        jl.data.sliding_windows(np.arange(8.0), 3, horizon=0)


def test_windows_before_given_ends():
    series = np.arange(10.0)
    np.testing.assert_array_equal(windows.windows_before(series, [3, 10], 3), [[0, 1, 2], [7, 8, 9]])
    with pytest.raises(ValueError, match="ends"):
        windows.windows_before(series, [2], 3)


@pytest.mark.parametrize(
    ("count", "fraction", "gap", "expected"),
    [
        (100, 0.1, 0, (90, 10)),
        (100, 0.0, 0, (100, 0)),
        (5, 0.1, 0, (5, 0)),
        (100, 0.1, 4, (86, 10)),
        (12, 0.5, 6, (12, 0)),
    ],
)
def test_chronological_split(count, fraction, gap, expected):
    assert jl.data.chronological_split(count, fraction, gap=gap) == expected


def test_chronological_split_bad_arguments():
    with pytest.raises(ValueError, match="validation_fraction"):
        jl.data.chronological_split(10, 1.0)
    with pytest.raises(ValueError, match="count"):
        jl.data.chronological_split(0, 0.1)
    with pytest.raises(ValueError, match="gap"):
        jl.data.chronological_split(10, 0.1, gap=-1)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_pad_stack_keeps_every_row_and_weights_only_real_ones(lengths):
    arrays = [np.full((n, 2), i + 1.0, np.float32) for i, n in enumerate(lengths)]
    stacked, weights = windows.pad_stack(arrays)
    assert stacked.shape == (len(lengths), max(lengths), 2) and stacked.dtype == np.float32
    for i, n in enumerate(lengths):
        assert np.all(stacked[i, :n] == i + 1.0) and np.all(stacked[i, n:] == 0)
        np.testing.assert_array_equal(weights[i], np.arange(max(lengths)) < n)


def test_pad_stack_bad_arguments():
    with pytest.raises(ValueError, match="arrays"):
        windows.pad_stack([])
    with pytest.raises(ValueError, match=r"arrays\[1\]"):
        windows.pad_stack([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="length"):
        windows.pad_stack([np.zeros((5, 1))], length=3)
