"""Tests for the shared argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlstm._src import validation


def test_as_float_array_refuses_complex_values():
    for value in (np.array([1.0 + 0j]), [1 + 2j], np.complex64(1)):
        with pytest.raises(TypeError, match="x must be an array of real numbers, got complex values"):
            validation.as_float_array("x", value, ndim=(0, 1))


def test_as_float_array_refuses_masked_entries_and_keeps_unmasked_arrays():
    with pytest.raises(ValueError, match=r"x must be .* masked array with 2 masked value\(s\)"):
        validation.as_float_array("x", np.ma.masked_array([1.0, 2.0, 3.0], mask=[True, False, True]), ndim=1)
    arr = validation.as_float_array("x", np.ma.masked_array([1.0, 2.0]), ndim=1)
    assert type(arr) is np.ndarray and arr.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    "setting, maximum",
    [
        ("hidden_size", validation.MAX_HIDDEN_SIZE),
        ("num_layers", validation.MAX_NUM_LAYERS),
        ("sequence_length", validation.MAX_SEQUENCE_LENGTH),
        ("direct_steps", validation.MAX_STEPS),
    ],
)
def test_network_sizes_are_bounded_when_the_model_is_made(setting, maximum):
    # hidden_size=10**8 allocated 3.5 GB before it failed; a size past its maximum is refused
    # by the constructor, which allocates nothing.
    from jaxlstm import LSTMForecaster

    LSTMForecaster(**{setting: maximum})
    for value in (maximum + 1, 10**8):
        with pytest.raises(ValueError, match=f"{setting} must be at most {maximum:,}, got {value:,}"):
            LSTMForecaster(**{setting: value})
