import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxlstm as jl


def test_fit_on_training_data_only():
    train, later = np.array([10.0, 20.0, 15.0]), np.array([30.0])
    scaler = jl.fit_scaler(train)
    assert float(scaler.data_min) == 10.0 and float(scaler.data_range) == 10.0
    assert float(jl.transform(scaler, later)[0]) == 2.0  # outside [0, 1]: not re-fitted


def test_constant_series_is_safe():
    scaler = jl.fit_scaler(np.full(5, 7.0))
    z = jl.transform(scaler, jnp.full(5, 7.0))
    assert np.all(np.asarray(z) == 0)
    assert np.all(np.asarray(jl.inverse_transform(scaler, z)) == 7.0)


def test_per_feature_scaling():
    data = np.array([[1.0, 100.0], [3.0, 300.0]])
    scaler = jl.fit_scaler(data)
    np.testing.assert_array_equal(np.asarray(jl.transform(scaler, data)), [[0, 0], [1, 1]])


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(1e-3, 1e6)))
def test_inverse_is_exact_to_rounding(data):
    with jax.enable_x64(True):
        scaler = jl.fit_scaler(data)
        back = np.asarray(jl.inverse_transform(scaler, jl.transform(scaler, jnp.asarray(data))))
        np.testing.assert_allclose(
            back, data, rtol=4 * np.finfo(np.float64).eps, atol=4 * np.finfo(np.float64).eps * np.abs(data).max()
        )
        z = np.asarray(jl.transform(scaler, jnp.asarray(data)))
        assert z.min() >= 0 and z.max() <= 1


@pytest.mark.parametrize(
    "bad,err",
    [
        ([1.0, np.nan], ValueError),
        ([], ValueError),
        ("abc", TypeError),
        ([[[1.0]]], ValueError),
        ([1.0, np.inf], ValueError),
    ],
)
def test_bad_data(bad, err):
    with pytest.raises(err, match="data"):
        jl.fit_scaler(bad)
