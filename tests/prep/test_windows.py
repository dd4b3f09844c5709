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


def test_pad_rows_pads_every_leaf_with_zeros_or_copies_of_the_first_row():
    tree = {"a": jnp.arange(5.0), "b": jnp.ones((5, 2))}
    padded = windows.pad_rows(tree, 8, fill="first")
    np.testing.assert_array_equal(padded["a"], [0, 1, 2, 3, 4, 0, 0, 0])
    assert padded["b"].shape == (8, 2) and isinstance(padded["b"], jax.Array)
    assert windows.pad_rows(tree, 5) is tree
    zeros = windows.pad_rows((np.arange(1.0, 4.0, dtype=np.float32), np.ones((3, 2), np.int32)), 4)
    np.testing.assert_array_equal(zeros[0], [1, 2, 3, 0])
    assert isinstance(zeros[0], np.ndarray) and zeros[0].dtype == np.float32 and zeros[1].dtype == np.int32
    np.testing.assert_array_equal(zeros[1][3], [0, 0])
    keys = windows.pad_rows({"k": jax.random.split(jax.random.key(0), 3), "x": np.arange(3.0)}, 4, fill="first")
    assert keys["k"].shape == (4,) and isinstance(keys["x"], np.ndarray)
    np.testing.assert_array_equal(jax.random.key_data(keys["k"][3]), jax.random.key_data(keys["k"][0]))
    with pytest.raises(ValueError, match="^size must be an integer >= 5, got 4"):
        windows.pad_rows(tree, 4)
    with pytest.raises(ValueError, match="^fill must be"):
        windows.pad_rows(tree, 6, fill="edge")


def test_bucket_size_is_the_next_power_of_two():
    sizes = [windows.bucket_size(n) for n in range(0, 1100)]
    for n, size in enumerate(sizes):
        assert size >= n and (size == 0 or (size & (size - 1)) == 0) and size < 2 * max(n, 1)
    # The windows of series of 100 to 1,000 prices (window 20) fall into four buckets.
    assert len({windows.bucket_size(n - 20) for n in range(100, 1001)}) == 4
    with pytest.raises(ValueError, match="^count must be an integer >= 0"):
        windows.bucket_size(-1)


def test_bucket_size_has_a_floor_for_windows_that_are_only_forecast():
    assert [windows.bucket_size(n, 64) for n in (0, 1, 5, 64, 65, 300)] == [0, 64, 64, 64, 128, 512]
    with pytest.raises(ValueError, match="^minimum must be"):
        windows.bucket_size(3, 0)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3000), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.9]), st.integers(0, 5))
def test_bucketed_split_holds_both_parts_and_follows_the_bucket(count, fraction, gap):
    n_train, n_val = jl.data.chronological_split(count, fraction, gap=gap)
    padded = windows.bucketed_split(count, fraction, gap=gap)
    assert padded[0] >= n_train and padded[1] >= n_val
    # Every count of a bucket above the unsplittable sizes shares one pair of padded sizes.
    size = windows.bucket_size(count)
    if jl.data.chronological_split(size // 2 + 1, fraction, gap=gap)[1] > 0 or fraction == 0:
        assert padded == windows.bucketed_split(size, fraction, gap=gap)
