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
